// The pure part of the Swarm lease: who may act, and when a standby takes over (`now` passed in).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { holds, initialLeaseState, observe, standbyVerdict, wrote, type LeaseState } from '../../src/swarm/lease';

const TTL = 15_000;

test('a missing lease object is created; the creator holds it for one TTL from the start of the write', () => {
  const { state, step } = observe(initialLeaseState, null, 'me', 1000, TTL);
  assert.deepEqual(step, { kind: 'create' });
  const after = wrote(state, true, 1000);
  assert.equal(holds(after, 1000 + TTL - 1, TTL), true);
  assert.equal(holds(after, 1000 + TTL, TTL), false);
});

test('the holder renews with the version it read', () => {
  const held: LeaseState = { renewedAt: 0, seen: null };
  assert.deepEqual(observe(held, { holder: 'me', version: 7 }, 'me', 5000, TTL).step, { kind: 'renew', version: 7 });
});

test('a lease held by another daemon is waited for while it changes, and taken after a whole TTL without change', () => {
  let state = initialLeaseState;
  let r = observe(state, { holder: 'other', version: 3 }, 'me', 0, TTL);
  assert.deepEqual(r.step, { kind: 'wait', holder: 'other', freeAt: TTL });
  state = r.state;
  // renewed: the version moved on, so the clock starts again
  r = observe(state, { holder: 'other', version: 4 }, 'me', 10_000, TTL);
  assert.deepEqual(r.step, { kind: 'wait', holder: 'other', freeAt: 10_000 + TTL });
  state = r.state;
  r = observe(state, { holder: 'other', version: 4 }, 'me', 10_000 + TTL - 1, TTL);
  assert.equal(r.step.kind, 'wait');
  r = observe(r.state, { holder: 'other', version: 4 }, 'me', 10_000 + TTL, TTL);
  assert.deepEqual(r.step, { kind: 'take', version: 4, from: 'other' });
});

test('a released lease (no holder) is taken at once', () => {
  assert.deepEqual(observe(initialLeaseState, { holder: '', version: 9 }, 'me', 0, TTL).step, {
    kind: 'take',
    version: 9,
    from: '',
  });
});

test('a holder that finds another name in the lease holds nothing any more', () => {
  const held: LeaseState = { renewedAt: 1000, seen: null };
  const { state } = observe(held, { holder: 'other', version: 5 }, 'me', 2000, TTL);
  assert.equal(holds(state, 2000, TTL), false);
});

test('a lost race (version moved on) leaves this daemon without the lease', () => {
  assert.equal(holds(wrote({ renewedAt: 0, seen: null }, false, 100), 100, TTL), false);
});

test('the holder stops acting no later than a standby may take over', () => {
  // The holder's write starts at 0; the standby sees the new version at the earliest at 0.
  const holder = wrote(initialLeaseState, true, 0);
  const standby = observe(initialLeaseState, { holder: 'h', version: 1 }, 'me', 0, TTL);
  assert.equal(standby.step.kind, 'wait');
  const freeAt = (standby.step as { freeAt: number }).freeAt;
  assert.equal(holds(holder, freeAt, TTL), false);
});

test('a standby is healthy while it can read the lease, unhealthy with the reason once it cannot', () => {
  const lease = (lastOkAt: number | null, lastError: string | null) => ({ lastOkAt, lastError, heldBy: () => 'h' });
  assert.deepEqual(standbyVerdict(lease(1000, null), 2000, 45_000), {
    ok: true,
    reasons: ['standing by: the lease is held by h'],
  });
  const bad = standbyVerdict(lease(null, 'HTTP 503: This node is not a swarm manager.'), 2000, 45_000);
  assert.equal(bad.ok, false);
  assert.match(bad.reasons[0]!, /not a swarm manager/);
  assert.equal(standbyVerdict(lease(0, null), 46_000, 45_000).ok, false);
});
