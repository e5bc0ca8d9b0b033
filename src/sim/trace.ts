// Demand traces: CSV with the header `t,arrivals` — seconds since the start, and how many
// analysis requests arrive (become due) at that moment. Errors name the line and the problem.
import type { TracePoint } from './model';

export type TraceResult = { ok: true; points: TracePoint[] } | { ok: false; line: number; problem: string };

/** Keeps a run bounded in memory: every arrival is one simulated analysis. */
export const MAX_TOTAL_ARRIVALS = 2_000_000;

const NUMBER = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/;

/** Blank lines and lines starting with `#` are skipped; times must not decrease. */
export function parseTrace(text: string): TraceResult {
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  const points: TracePoint[] = [];
  let header = false;
  let total = 0;
  for (let i = 0; i < lines.length; i++) {
    const line = i + 1;
    const raw = lines[i]!.trim();
    if (raw === '' || raw.startsWith('#')) continue;
    const fields = raw.split(',').map((f) => f.trim());
    if (!header) {
      if (fields.length !== 2 || fields[0]!.toLowerCase() !== 't' || fields[1]!.toLowerCase() !== 'arrivals') {
        return { ok: false, line, problem: `expected the header "t,arrivals", found ${JSON.stringify(raw)}` };
      }
      header = true;
      continue;
    }
    if (fields.length !== 2) {
      return {
        ok: false,
        line,
        problem: `expected 2 fields "t,arrivals", found ${fields.length} in ${JSON.stringify(raw)}`,
      };
    }
    const [tText, nText] = fields as [string, string];
    if (!NUMBER.test(tText))
      return { ok: false, line, problem: `time ${JSON.stringify(tText)} is not a number of seconds` };
    const t = Number(tText);
    if (!Number.isFinite(t)) return { ok: false, line, problem: `time ${JSON.stringify(tText)} is too large` };
    if (t < 0)
      return { ok: false, line, problem: `time ${tText} is negative (times are seconds since the start, from 0)` };
    const previous = points[points.length - 1];
    if (previous !== undefined && t < previous.t) {
      return {
        ok: false,
        line,
        problem: `time ${tText} is before the previous time ${previous.t} (times must not decrease)`,
      };
    }
    if (!/^\+?\d+$/.test(nText)) {
      return { ok: false, line, problem: `arrivals ${JSON.stringify(nText)} is not a whole number of at least 0` };
    }
    const arrivals = Number(nText);
    total += arrivals;
    if (total > MAX_TOTAL_ARRIVALS) {
      return {
        ok: false,
        line,
        problem: `the trace has more than ${MAX_TOTAL_ARRIVALS} arrivals up to here; simulate a shorter or sparser trace`,
      };
    }
    points.push({ t, arrivals });
  }
  if (!header)
    return { ok: false, line: 1, problem: 'the file is empty; expected the header "t,arrivals" and at least one row' };
  if (points.length === 0) return { ok: false, line: lines.length, problem: 'no rows after the header "t,arrivals"' };
  return { ok: true, points };
}
