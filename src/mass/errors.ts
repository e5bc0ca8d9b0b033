// The one place where transport errors, HTTP statuses and bad bodies become a MassFailure.
// Messages name the step (`GET analysis_request/?...`) and what went wrong. They are built from
// our own strings only: never from axios' config or headers (which carry the API key).
import { isAxiosError } from 'axios';
import type { z, ZodError } from 'zod';
import type { MassErrorKind, MassFailure } from '../types';

/** Thrown inside the client; readDemand turns it into a SystemReading. */
export class MassError extends Error {
  readonly failure: MassFailure;

  constructor(kind: MassErrorKind, message: string) {
    super(message);
    this.name = 'MassError';
    this.failure = { kind, message };
  }

  get kind(): MassErrorKind {
    return this.failure.kind;
  }
}

// The fallback at the end of transportFailure gives these codes the same failure.
// Stryker disable StringLiteral,ArrayDeclaration: a code missing here still ends as 'unreachable (code)'
const UNREACHABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EHOSTDOWN',
  'ENETDOWN',
  'EPIPE',
  'ERR_SOCKET_CONNECTION_TIMEOUT',
]);
// Stryker restore StringLiteral,ArrayDeclaration
const TIMEOUT_CODES = new Set(['ETIMEDOUT', 'ECONNABORTED', 'UND_ERR_CONNECT_TIMEOUT']);

/** Node reports a failed dual-stack connect as an AggregateError whose code sits on its members. */
function errorCode(err: unknown): string | undefined {
  const seen = new Set<unknown>();
  let current: unknown = err;
  while (typeof current === 'object' && current !== null && !seen.has(current)) {
    seen.add(current);
    const { code, errors, cause } = current as { code?: unknown; errors?: unknown; cause?: unknown };
    if (typeof code === 'string' && code !== 'ERR_NETWORK' && code !== 'ERR_BAD_RESPONSE') return code;
    current = Array.isArray(errors) && errors.length > 0 ? errors[0] : cause;
  }
  return undefined;
}

/**
 * A request that got no HTTP answer. `timedOut` is true when our own deadline aborted it
 * (that arrives as a cancellation, whose code says nothing about why).
 */
export function transportFailure(step: string, err: unknown, timeoutMs: number, timedOut: boolean): MassError {
  if (err instanceof MassError) return err;
  const code = errorCode(err);
  if (timedOut || (code !== undefined && TIMEOUT_CODES.has(code))) {
    return new MassError('timeout', `${step}: no answer within ${timeoutMs} ms`);
  }
  // Stryker disable next-line LogicalOperator,EqualityOperator,BlockStatement: the fallback gives the same failure
  if (code !== undefined && UNREACHABLE_CODES.has(code)) {
    return new MassError('unreachable', `${step}: MASS unreachable (${code})`);
  }
  if (code === undefined && isAxiosError(err) && err.code === 'ERR_BAD_RESPONSE') {
    // An answer arrived but could not be taken in (e.g. larger than maxContentLength).
    return new MassError('http-error', `${step}: unusable answer (${err.message})`);
  }
  // axios' message for a transport error is the socket error's ("socket hang up", "connect ...").
  const detail = isAxiosError(err) || err instanceof Error ? err.message : String(err);
  return new MassError('unreachable', `${step}: MASS unreachable (${code ?? detail})`);
}

export interface HttpAnswer {
  status: number;
  statusText: string;
  contentType: string;
  body: string;
  location?: string;
}

/** MASS puts a reason in `{"error": "..."}`; worth a line to the operator, shortened. */
function massErrorText(answer: HttpAnswer): string | undefined {
  try {
    const parsed: unknown = JSON.parse(answer.body);
    if (typeof parsed === 'object' && parsed !== null && 'error' in parsed) {
      const text = (parsed as { error: unknown }).error;
      if (typeof text === 'string' && text.length > 0) return text.length > 200 ? `${text.slice(0, 200)}…` : text;
    }
  } catch {
    // not JSON: nothing to quote
  }
  return undefined;
}

/** An HTTP answer the step did not expect. `hint` adds a dialect-specific suggestion. */
export function statusFailure(step: string, answer: HttpAnswer, hint?: string): MassError {
  const reason = massErrorText(answer);
  const head = `${step}: ${answer.status}${answer.statusText ? ` ${answer.statusText}` : ''}${reason ? ` (${reason})` : ''}`;
  const tail = hint ? `; ${hint}` : '';
  if (answer.status === 403) {
    return new MassError('forbidden', `${head}: MASS rejected the API key; check API_KEY${tail}`);
  }
  if (answer.status >= 500) return new MassError('server-error', `${head}${tail}`);
  if (answer.status >= 300 && answer.status < 400) {
    const where = answer.location ? ` to ${answer.location}` : '';
    return new MassError('http-error', `${head}: redirected${where}; set the MASS address to the final URL${tail}`);
  }
  return new MassError('http-error', `${head}${tail}`);
}

/** A 2xx answer whose body is not JSON (an HTML page from a proxy, a truncated body...). */
export function notJsonFailure(step: string, answer: HttpAnswer, parseError: unknown): MassError {
  const type = answer.contentType || 'no content type';
  const looksHtml = /html/i.test(answer.contentType) || /^\s*</.test(answer.body);
  const what = looksHtml
    ? 'an HTML page'
    : `malformed JSON (${parseError instanceof Error ? parseError.message : String(parseError)})`;
  return new MassError(
    'not-json',
    `${step}: ${answer.status} answered with ${what} [${type}, ${answer.body.length} bytes], not JSON`,
  );
}

/** JSON that does not match the documented shape; names the first offending fields. */
export function shapeFailure(step: string, err: ZodError): MassError {
  const issues = err.issues.slice(0, 3).map((issue) => {
    const path = issue.path.length > 0 ? issue.path.map(String).join('.') : '(answer)';
    return `${path}: ${issue.message}`;
  });
  const more = err.issues.length > 3 ? ` (+${err.issues.length - 3} more)` : '';
  return new MassError('bad-shape', `${step}: unexpected answer shape: ${issues.join('; ')}${more}`);
}

/** The body parsed with `schema`; a mismatch is a 'bad-shape' failure naming the step. */
export function parseAnswer<S extends z.ZodType>(schema: S, body: unknown, step: string): z.output<S> {
  const result = schema.safeParse(body);
  if (!result.success) throw shapeFailure(step, result.error);
  return result.data;
}

export function pagingFailure(step: string, what: string): MassError {
  return new MassError('paging', `${step}: ${what}`);
}

export function unknownSystemFailure(system: string): MassError {
  return new MassError(
    'unknown-system',
    `analysis system ${JSON.stringify(system)} is not registered in MASS (GET analysis_system/ does not list it)`,
  );
}

/** Last resort for a bug in the client itself: still a failure, never a crash of the round. */
export function toMassFailure(err: unknown): MassFailure {
  if (err instanceof MassError) return err.failure;
  const detail = err instanceof Error ? err.message : String(err);
  return { kind: 'http-error', message: `reading MASS failed unexpectedly: ${detail}` };
}

/** A guard against a key echoed back by a server or a proxy; applied to every message. */
export function redact(failure: MassFailure, secret: string): MassFailure {
  if (secret.length < 4 || !failure.message.includes(secret)) return failure;
  return { kind: failure.kind, message: failure.message.split(secret).join('[redacted]') };
}
