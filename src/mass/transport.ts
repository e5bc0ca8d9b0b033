// HTTP to the MASS API and the guard of its key: one GET, its deadline, and every answer's text
// cleaned of the key before any of it can be quoted in a message.
import axios, { type AxiosInstance } from 'axios';
import type { MassFailure } from '../types';
import {
  type HttpAnswer,
  MassError,
  notJsonFailure,
  redact,
  statusFailure,
  toMassFailure,
  transportFailure,
} from './errors';
import { NOT_FOUND } from './paging';

export interface TransportOptions {
  /** base URL of the API, with or without the trailing `/`: http://host:8000/api/ */
  baseUrl: string;
  apiKey: string;
  /** deadline of each HTTP request */
  timeoutMs: number;
}

/** Query strings are built here, so filters are never lost; a null value is a bare flag (`count`). */
export function query(pairs: [string, string | number | null][]): string {
  return pairs
    .map(([key, value]) => (value === null ? key : `${key}=${encodeURIComponent(String(value)).replace(/%3A/gi, ':')}`))
    .join('&');
}

/** The error JSON.parse gives for `text` (which is known not to parse). */
function parseError(text: string): unknown {
  try {
    JSON.parse(text);
    // Stryker disable next-line StringLiteral: reached only by a key with JSON syntax in it (the cleaned body parses)
    return new Error('not valid JSON');
  } catch (err) {
    return err;
  }
}

export class MassHttp {
  /** total HTTP requests made */
  readonly stats: { requests: number } = { requests: 0 };

  private readonly http: AxiosInstance;
  private readonly apiKey: string;
  private readonly timeoutMs: number;

  constructor(opts: TransportOptions) {
    this.apiKey = opts.apiKey;
    this.timeoutMs = opts.timeoutMs;
    const base = opts.baseUrl.trim();
    this.http = axios.create({
      // Stryker disable next-line MethodExpression,StringLiteral: axios joins base and path with one slash anyway
      baseURL: base.endsWith('/') ? base : `${base}/`,
      timeout: opts.timeoutMs,
      headers: { Authorization: `APIKEY ${opts.apiKey}`, Accept: 'application/json' },
      // Parse ourselves: an HTML error page must be recognised, not half-parsed.
      // Stryker disable next-line StringLiteral: on Node.js any responseType but arraybuffer/stream gives text
      responseType: 'text',
      // Stryker disable next-line ArrayDeclaration: no transform at all also leaves the text as it is
      transformResponse: [(data: unknown) => data],
      validateStatus: () => true,
      // A redirect would send the key on to wherever it points; report it instead.
      maxRedirects: 0,
      maxContentLength: 64 * 1024 * 1024,
      // Stryker disable next-line ObjectLiteral,BooleanLiteral: ETIMEDOUT or ECONNABORTED, both read as a timeout
      transitional: { clarifyTimeoutError: true },
    });
  }

  /**
   * JSON body of a 2xx answer; NOT_FOUND for a 404 when `allowNotFound`. Anything else throws a
   * MassError naming the step; `hint` may add a suggestion for an unexpected status.
   */
  async getJson(
    path: string,
    allowNotFound: boolean,
    hint?: (answer: HttpAnswer) => string | undefined,
  ): Promise<unknown> {
    const step = `GET ${path}`;
    const answer = await this.get(path);
    if (answer.status === 404 && allowNotFound) return NOT_FOUND;
    if (answer.status < 200 || answer.status >= 300) {
      const clean = this.withoutKey(answer);
      // Stryker disable next-line OptionalChaining: the client passes a hint on every read
      throw statusFailure(step, clean, hint?.(clean));
    }
    try {
      return JSON.parse(answer.body) as unknown;
    } catch {
      // The parser's message quotes the text where it stopped: take it from the body without the key.
      const clean = this.withoutKey(answer);
      throw notJsonFailure(step, clean, parseError(clean.body));
    }
  }

  /**
   * DELETE `path`: 'deleted' on 2xx, 'gone' on 404 (someone else deleted it). Anything else
   * throws a MassError naming the step (a 403 is 'forbidden': the key is not an admin key).
   */
  async delete(path: string): Promise<'deleted' | 'gone'> {
    const step = `DELETE ${path}`;
    this.stats.requests += 1;
    const deadline = AbortSignal.timeout(this.timeoutMs);
    let answer: HttpAnswer;
    try {
      const res = await this.http.delete<string>(path, { signal: deadline });
      answer = {
        status: res.status,
        // Stryker disable next-line StringLiteral: node's HTTP client always gives a status text
        statusText: res.statusText ?? '',
        // Stryker disable next-line StringLiteral,LogicalOperator: a failed DELETE's message never quotes its type
        contentType: String(res.headers['content-type'] ?? ''),
        // Stryker disable next-line all: responseType 'text' always gives a string
        body: typeof res.data === 'string' ? res.data : String(res.data ?? ''),
        location: undefined,
      };
    } catch (err) {
      throw transportFailure(step, err, this.timeoutMs, deadline.aborted);
    }
    if (answer.status === 404) return 'gone';
    if (answer.status < 200 || answer.status >= 300) {
      if (answer.status === 403) {
        throw new MassError(
          'forbidden',
          `${step}: 403: deleting an instance needs an admin API key; the work stays stuck (set an admin key, or RECOVER_STUCK_AFTER=off)`,
        );
      }
      throw statusFailure(step, this.withoutKey(answer));
    }
    // Stryker disable next-line StringLiteral: the client only asks whether the answer was 'gone'
    return 'deleted';
  }

  /** Any error of a round as a failure for the operator, never holding the key. */
  failureOf(err: unknown): MassFailure {
    return redact(toMassFailure(err), this.apiKey);
  }

  /** Text from MASS with the key replaced, for a line that is not a failure. */
  scrub(text: string): string {
    return this.apiKey.length < 4 ? text : text.split(this.apiKey).join('[redacted]');
  }

  private async get(path: string): Promise<HttpAnswer> {
    this.stats.requests += 1;
    // The axios timeout only notices an idle socket; this deadline also ends a trickling answer.
    const deadline = AbortSignal.timeout(this.timeoutMs);
    try {
      const res = await this.http.get<string>(path, { signal: deadline });
      const location = res.headers['location'];
      return {
        status: res.status,
        // Stryker disable next-line StringLiteral: node's HTTP client always gives a status text
        statusText: res.statusText ?? '',
        contentType: String(res.headers['content-type'] ?? ''),
        // Stryker disable next-line all: responseType 'text' always gives a string
        body: typeof res.data === 'string' ? res.data : String(res.data ?? ''),
        location: typeof location === 'string' ? location : undefined,
      };
    } catch (err) {
      throw transportFailure(`GET ${path}`, err, this.timeoutMs, deadline.aborted);
    }
  }

  /**
   * The answer with every occurrence of the key replaced in every part a message may quote,
   * before any of it is quoted: a quote can be cut short, and half a key is past what redact()
   * at the end can recognise.
   */
  private withoutKey(answer: HttpAnswer): HttpAnswer {
    if (this.apiKey.length < 4) return answer;
    const clean = (text: string) => text.split(this.apiKey).join('[redacted]');
    return {
      status: answer.status,
      statusText: clean(answer.statusText),
      contentType: clean(answer.contentType),
      body: clean(answer.body),
      location: answer.location === undefined ? undefined : clean(answer.location),
    };
  }
}
