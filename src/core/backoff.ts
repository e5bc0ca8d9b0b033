// Retry delay after consecutive failures: exponential with full jitter on the upper half, so
// that many services failing together do not retry in lockstep. `random` in [0, 1).
export function backoffDelay(failures: number, baseMs: number, capMs: number, random: number): number {
  const exp = Math.min(capMs, baseMs * 2 ** Math.max(0, failures - 1));
  return Math.round(exp / 2 + (exp / 2) * random);
}
