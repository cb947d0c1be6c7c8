// What an unknown user name's delay is drawn from: recent real check times per hash strength, with
// jitter; before any measurement, an estimate scaled from a one-off calibration.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { HASH_TIMING_FRESH_MS, hashSpecKey, HashTiming } from '../../src/auth/hash-timing.js';

const STRONG = { kind: 'sha512-pbkdf2', iterations: 210_000 } as const;
const WEAK = { kind: 'sha512-pbkdf2', iterations: 101 } as const;

test('a delay is one of the recent measurements of that strength, within ±5 %', () => {
  const timing = new HashTiming();
  for (const ms of [150, 160, 170]) timing.record(STRONG, ms);
  timing.record(WEAK, 0.2);
  assert.equal(timing.expected(STRONG), 160);
  for (let i = 0; i < 50; i++) {
    const delay = timing.draw(STRONG);
    assert.ok([150, 160, 170].some((ms) => delay >= ms * 0.95 && delay <= ms * 1.05), `delay ${delay}`);
  }
  // Fixed random: the smallest sample, lowest jitter; the largest, highest.
  assert.equal(timing.draw(STRONG, () => 0), 150 * 0.95);
  assert.ok(Math.abs(timing.draw(STRONG, () => 0.9999) - 170 * 1.05) < 0.01);
  assert.ok(timing.draw(WEAK) < 1, 'each strength has its own measurements');
});

test('before any measurement: an estimate proportional to the iterations, then the latest per-iteration cost', () => {
  const timing = new HashTiming();
  const strong = timing.expected(STRONG);
  const weak = timing.expected(WEAK);
  assert.ok(strong > 0 && Math.abs(strong / weak - 210_000 / 101) < 1e-6, `${strong} vs ${weak}`);
  timing.record({ kind: 'sha512-pbkdf2', iterations: 1000 }, 2);
  assert.equal(timing.expected(STRONG), 420, 'the estimate follows the latest measured cost per iteration');
  assert.ok(timing.expected({ kind: 'sha512' }) > 0);
});

test('only the last 32 measurements count', () => {
  const timing = new HashTiming();
  for (let i = 0; i < 32; i++) timing.record(STRONG, 1000);
  for (let i = 0; i < 32; i++) timing.record(STRONG, 100);
  assert.equal(timing.expected(STRONG), 100);
});

test('a strength is stale until measured, fresh for a minute after a measurement or a started one', () => {
  const timing = new HashTiming();
  assert.equal(timing.stale(STRONG, 0), true);
  timing.measuring(STRONG, 1000);
  assert.equal(timing.stale(STRONG, 1000 + HASH_TIMING_FRESH_MS - 1), false);
  assert.equal(timing.stale(STRONG, 1000 + HASH_TIMING_FRESH_MS), true);
  timing.record(STRONG, 150, 5000);
  assert.equal(timing.stale(STRONG, 5000 + HASH_TIMING_FRESH_MS - 1), false);
  assert.deepEqual([hashSpecKey(STRONG), hashSpecKey({ kind: 'sha512' })], ['pbkdf2 210000', 'sha512']);
});
