// How transport errors, HTTP answers and bad bodies become one MassFailure (src/mass/errors.ts):
// the kind the operator sees and the exact line, as tables.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { AxiosError } from 'axios';
import { z } from 'zod';
import {
  MassError,
  notJsonFailure,
  parseAnswer,
  pagingFailure,
  redact,
  shapeFailure,
  statusFailure,
  toMassFailure,
  transportFailure,
  unknownSystemFailure,
  type HttpAnswer,
} from '../../src/mass/errors';
import type { MassFailure } from '../../src/types';

const STEP = 'GET analysis_system/';
const failure = (e: MassError): MassFailure => ({ kind: e.kind, message: e.message });
const coded = (code: unknown, extra: object = {}) => Object.assign(new Error('socket said no'), { code }, extra);

describe('MassError', () => {
  test('carries its kind and message as a failure, and says what it is', () => {
    const e = new MassError('paging', 'GET x: loop');
    assert.deepEqual(
      [e.name, e.kind, e.message, e.failure],
      [
        'MassError',
        'paging',
        'GET x: loop',
        {
          kind: 'paging',
          message: 'GET x: loop',
        },
      ],
    );
    assert.ok(e instanceof Error);
  });
});

describe('transportFailure: a request without an HTTP answer', () => {
  const cases: { why: string; err: unknown; timedOut?: boolean; want: MassFailure }[] = [
    {
      why: 'our own deadline aborted it, whatever the code',
      err: coded('ERR_CANCELED'),
      timedOut: true,
      want: { kind: 'timeout', message: `${STEP}: no answer within 750 ms` },
    },
    ...['ETIMEDOUT', 'ECONNABORTED', 'UND_ERR_CONNECT_TIMEOUT'].map((code) => ({
      why: `${code}: a timeout`,
      err: coded(code),
      want: { kind: 'timeout' as const, message: `${STEP}: no answer within 750 ms` },
    })),
    ...['ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'EPIPE'].map((code) => ({
      why: `${code}: unreachable, the code named`,
      err: coded(code),
      want: { kind: 'unreachable' as const, message: `${STEP}: MASS unreachable (${code})` },
    })),
    {
      why: 'a failed dual-stack connect: the code of the first member of the AggregateError',
      err: coded('ERR_NETWORK', { errors: [{ code: 'ETIMEDOUT' }, { code: 'ECONNREFUSED' }] }),
      want: { kind: 'timeout', message: `${STEP}: no answer within 750 ms` },
    },
    {
      why: 'an empty list of members: the cause is read instead',
      err: coded('ERR_NETWORK', { errors: [], cause: { code: 'ECONNRESET' } }),
      want: { kind: 'unreachable', message: `${STEP}: MASS unreachable (ECONNRESET)` },
    },
    {
      why: 'a code that is not a string is no code: the message is quoted',
      err: coded(104),
      want: { kind: 'unreachable', message: `${STEP}: MASS unreachable (socket said no)` },
    },
    {
      why: 'an error without code: its message',
      err: new Error('socket hang up'),
      want: { kind: 'unreachable', message: `${STEP}: MASS unreachable (socket hang up)` },
    },
    {
      why: 'an error that is its own cause: read once, no endless loop',
      err: (() => {
        const e = coded('ERR_NETWORK');
        Object.assign(e, { cause: e });
        return e;
      })(),
      want: { kind: 'unreachable', message: `${STEP}: MASS unreachable (socket said no)` },
    },
    {
      why: 'something thrown that is not an Error: its text',
      err: 'boom',
      want: { kind: 'unreachable', message: `${STEP}: MASS unreachable (boom)` },
    },
    {
      why: 'null thrown: its text',
      err: null,
      want: { kind: 'unreachable', message: `${STEP}: MASS unreachable (null)` },
    },
    {
      why: 'an answer axios could not take in (ERR_BAD_RESPONSE): an unusable answer',
      err: new AxiosError('maxContentLength size of 64 exceeded', 'ERR_BAD_RESPONSE'),
      want: { kind: 'http-error', message: `${STEP}: unusable answer (maxContentLength size of 64 exceeded)` },
    },
    {
      why: 'ERR_BAD_RESPONSE caused by a reset socket: the reset is what happened',
      err: Object.assign(new AxiosError('stream broke', 'ERR_BAD_RESPONSE'), { cause: { code: 'ECONNRESET' } }),
      want: { kind: 'unreachable', message: `${STEP}: MASS unreachable (ECONNRESET)` },
    },
    {
      why: 'ERR_BAD_RESPONSE caused by a socket error of no known kind: that error is named',
      err: Object.assign(new AxiosError('stream broke', 'ERR_BAD_RESPONSE'), { cause: { code: 'EPROTO' } }),
      want: { kind: 'unreachable', message: `${STEP}: MASS unreachable (EPROTO)` },
    },
    {
      why: 'an axios network error without a socket code: its message, not an unusable answer',
      err: new AxiosError('Network Error', 'ERR_NETWORK'),
      want: { kind: 'unreachable', message: `${STEP}: MASS unreachable (Network Error)` },
    },
    {
      why: 'ERR_BAD_RESPONSE on something that is not an axios error: no answer arrived',
      err: coded('ERR_BAD_RESPONSE'),
      want: { kind: 'unreachable', message: `${STEP}: MASS unreachable (socket said no)` },
    },
  ];
  for (const c of cases) {
    test(c.why, () => {
      assert.deepEqual(failure(transportFailure(STEP, c.err, 750, c.timedOut ?? false)), c.want);
    });
  }
  test('a MassError passes through unchanged', () => {
    const e = new MassError('paging', 'x');
    assert.equal(transportFailure(STEP, e, 750, true), e);
  });
});

describe('statusFailure: an HTTP answer the step did not expect', () => {
  const answer = (status: number, more: Partial<HttpAnswer> = {}): HttpAnswer => ({
    status,
    statusText: '',
    contentType: 'application/json',
    body: '',
    ...more,
  });
  const long = 'x'.repeat(201);
  const cases: { why: string; answer: HttpAnswer; hint?: string; want: MassFailure }[] = [
    {
      why: '403: the key',
      answer: answer(403, { statusText: 'Forbidden' }),
      want: { kind: 'forbidden', message: `${STEP}: 403 Forbidden: MASS rejected the API key; check API_KEY` },
    },
    {
      why: '403 with a hint and MASS’s reason',
      answer: answer(403, { body: '{"error": "Invalid API key"}' }),
      hint: 'is this MASS?',
      want: {
        kind: 'forbidden',
        message: `${STEP}: 403 (Invalid API key): MASS rejected the API key; check API_KEY; is this MASS?`,
      },
    },
    {
      why: '500: a server error',
      answer: answer(500, { statusText: 'Internal Server Error' }),
      want: { kind: 'server-error', message: `${STEP}: 500 Internal Server Error` },
    },
    {
      why: '503 with a hint',
      answer: answer(503),
      hint: 'try later',
      want: { kind: 'server-error', message: `${STEP}: 503; try later` },
    },
    {
      why: '302 with a Location: where to',
      answer: answer(302, { statusText: 'Found', location: 'https://mass/api/' }),
      want: {
        kind: 'http-error',
        message: `${STEP}: 302 Found: redirected to https://mass/api/; set the MASS address to the final URL`,
      },
    },
    {
      why: '301 without a Location',
      answer: answer(301),
      hint: 'h',
      want: { kind: 'http-error', message: `${STEP}: 301: redirected; set the MASS address to the final URL; h` },
    },
    {
      why: '300 is a redirect, 400 is not',
      answer: answer(300),
      want: { kind: 'http-error', message: `${STEP}: 300: redirected; set the MASS address to the final URL` },
    },
    {
      why: 'a 1xx or 2xx the step did not expect is no redirect',
      answer: answer(101, { statusText: 'Switching Protocols' }),
      want: { kind: 'http-error', message: `${STEP}: 101 Switching Protocols` },
    },
    {
      why: '400 with a hint',
      answer: answer(400, { statusText: 'Bad Request' }),
      hint: 'h',
      want: { kind: 'http-error', message: `${STEP}: 400 Bad Request; h` },
    },
    {
      why: '499: not a server error',
      answer: answer(499),
      want: { kind: 'http-error', message: `${STEP}: 499` },
    },
    {
      why: 'a reason longer than 200 characters is cut, and says so',
      answer: answer(404, { body: JSON.stringify({ error: long }) }),
      want: { kind: 'http-error', message: `${STEP}: 404 (${'x'.repeat(200)}…)` },
    },
    {
      why: 'a reason of exactly 200 characters is quoted whole',
      answer: answer(404, { body: JSON.stringify({ error: 'y'.repeat(200) }) }),
      want: { kind: 'http-error', message: `${STEP}: 404 (${'y'.repeat(200)})` },
    },
    ...[
      ['an empty reason', '{"error": ""}'],
      ['a reason that is not text', '{"error": 42}'],
      ['JSON without a reason', '{"detail": "no"}'],
      ['JSON null', 'null'],
      ['not JSON', '<html>no</html>'],
    ].map(([why, body]) => ({
      why: `${why}: nothing quoted`,
      answer: answer(404, { body }),
      want: { kind: 'http-error' as const, message: `${STEP}: 404` },
    })),
  ];
  for (const c of cases) {
    test(c.why, () => {
      assert.deepEqual(failure(statusFailure(STEP, c.answer, c.hint)), c.want);
    });
  }
});

describe('notJsonFailure: a 2xx answer that is not JSON', () => {
  const parseError = (text: string): unknown => {
    try {
      return JSON.parse(text);
    } catch (err) {
      return err;
    }
  };
  const cases: { why: string; answer: HttpAnswer; parseError: unknown; want: string }[] = [
    {
      why: 'an HTML page by its content type',
      answer: { status: 200, statusText: 'OK', contentType: 'Text/HTML; charset=utf-8', body: 'hello' },
      parseError: parseError('hello'),
      want: `${STEP}: 200 answered with an HTML page [Text/HTML; charset=utf-8, 5 bytes], not JSON`,
    },
    {
      why: 'an HTML page by its first character, without a content type',
      answer: { status: 203, statusText: '', contentType: '', body: '  \n<!doctype html>' },
      parseError: parseError('<'),
      want: `${STEP}: 203 answered with an HTML page [no content type, 18 bytes], not JSON`,
    },
    {
      why: 'malformed JSON: the parser’s message',
      answer: { status: 200, statusText: 'OK', contentType: 'application/json', body: '{"a":' },
      parseError: new Error('Unexpected end of JSON input'),
      want: `${STEP}: 200 answered with malformed JSON (Unexpected end of JSON input) [application/json, 5 bytes], not JSON`,
    },
    {
      why: 'a "<" later in the body is no HTML page',
      answer: { status: 200, statusText: 'OK', contentType: 'application/json', body: '{"a": 1 < 2}' },
      parseError: 'bad',
      want: `${STEP}: 200 answered with malformed JSON (bad) [application/json, 12 bytes], not JSON`,
    },
    {
      why: 'malformed JSON with a parse error that is not an Error',
      answer: { status: 200, statusText: 'OK', contentType: 'application/json', body: 'nope' },
      parseError: 'bad',
      want: `${STEP}: 200 answered with malformed JSON (bad) [application/json, 4 bytes], not JSON`,
    },
  ];
  for (const c of cases) {
    test(c.why, () => {
      assert.deepEqual(failure(notJsonFailure(STEP, c.answer, c.parseError)), { kind: 'not-json', message: c.want });
    });
  }
});

describe('shapeFailure and parseAnswer: JSON of the wrong shape', () => {
  const schema = z.object({ count: z.number(), results: z.array(z.object({ id: z.string() })) });
  const issuesOf = (body: unknown) => {
    const r = schema.safeParse(body);
    assert.equal(r.success, false);
    return r.error!;
  };
  test('names the path of each offending field', () => {
    const e = shapeFailure(STEP, issuesOf({ count: 'x', results: [{ id: 1 }] }));
    assert.equal(e.kind, 'bad-shape');
    assert.match(e.message, /^GET analysis_system\/: unexpected answer shape: count: .+; results\.0\.id: .+$/);
    assert.doesNotMatch(e.message, /more\)/);
  });
  test('the answer itself at fault: "(answer)"', () => {
    assert.match(shapeFailure(STEP, issuesOf([])).message, /: unexpected answer shape: \(answer\): /);
  });
  test('more than three issues: three named, the rest counted', () => {
    const many = z.object({ a: z.string(), b: z.string(), c: z.string(), d: z.string(), e: z.string() });
    const r = many.safeParse({});
    const message = shapeFailure(STEP, r.error!).message;
    assert.match(message, /: a: .+; b: .+; c: [^;]+ \(\+2 more\)$/);
  });
  test('three issues: all named, nothing counted', () => {
    const three = z.object({ a: z.string(), b: z.string(), c: z.string() });
    const error = three.safeParse({}).error!;
    const named = error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    assert.equal(shapeFailure(STEP, error).message, `${STEP}: unexpected answer shape: ${named}`);
  });
  test('parseAnswer: the data when it fits, a bad-shape failure naming the step when not', () => {
    assert.deepEqual(parseAnswer(schema, { count: 1, results: [] }, STEP), { count: 1, results: [] });
    assert.throws(
      () => parseAnswer(schema, { count: 1 }, STEP),
      (e: unknown) => e instanceof MassError && e.kind === 'bad-shape' && e.message.startsWith(`${STEP}: `),
    );
  });
});

describe('the other failures', () => {
  test('paging and unknown system', () => {
    assert.deepEqual(failure(pagingFailure(STEP, 'page 3 points back to page 1')), {
      kind: 'paging',
      message: `${STEP}: page 3 points back to page 1`,
    });
    assert.deepEqual(failure(unknownSystemFailure('ssdeep')), {
      kind: 'unknown-system',
      message: 'analysis system "ssdeep" is not registered in MASS (GET analysis_system/ does not list it)',
    });
  });
  test('toMassFailure: a MassError as it is, anything else an unexpected failure', () => {
    assert.deepEqual(toMassFailure(new MassError('timeout', 't')), { kind: 'timeout', message: 't' });
    assert.deepEqual(toMassFailure(new TypeError('x is undefined')), {
      kind: 'http-error',
      message: 'reading MASS failed unexpectedly: x is undefined',
    });
    assert.deepEqual(toMassFailure(7), { kind: 'http-error', message: 'reading MASS failed unexpectedly: 7' });
  });
  test('redact: every occurrence of the key replaced, the kind kept; short keys and clean messages untouched', () => {
    const f: MassFailure = { kind: 'forbidden', message: 'key s3cr3t rejected: s3cr3t' };
    assert.deepEqual(redact(f, 's3cr3t'), { kind: 'forbidden', message: 'key [redacted] rejected: [redacted]' });
    assert.equal(redact(f, 'abc'), f, 'a key under 4 characters would redact ordinary words');
    assert.equal(redact(f, 'key'), f, 'even when the message holds it');
    assert.equal(redact(f, 'other-key'), f);
    assert.deepEqual(redact({ kind: 'timeout', message: 'abcd' }, 'abcd'), { kind: 'timeout', message: '[redacted]' });
  });
});
