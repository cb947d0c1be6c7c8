// How long a real password check takes, per hash strength ("pbkdf2 210000", "sha512"), measured
// on the checks the broker does. An unknown user name is refused after a delay drawn from these
// measurements instead of after a hash, so it costs no CPU and still answers like a known one.
// Before any measurement of a strength, the delay is estimated from a one-off calibration.
import { pbkdf2Sync } from 'node:crypto';
import type { HashSpec } from './password-file.js';

/** Measurements kept per strength: enough to follow load, few enough to follow it quickly. */
const SAMPLES = 32;
/** A strength not measured for this long gets a fresh measurement when one is cheap to take. */
export const HASH_TIMING_FRESH_MS = 60_000;
/** The one-off calibration: a short PBKDF2 run on the event loop (about 3 ms), scaled by iterations. */
const CALIBRATION_ITERATIONS = 2048;
/** SHA-512 over a password is microseconds; what a check of it costs is the trip to a worker. */
const SHA512_ESTIMATE_MS = 1;
/** ±5 %: two answers never come after exactly the same time, as with real checks. */
const JITTER = 0.05;

export function hashSpecKey(spec: HashSpec): string {
  return spec.kind === 'sha512' ? 'sha512' : `pbkdf2 ${spec.iterations}`;
}

interface Samples {
  readonly values: number[];
  next: number;
  /** When the latest measurement (or calibration attempt) was taken, performance.now(). */
  at: number;
}

export class HashTiming {
  readonly #samples = new Map<string, Samples>();
  /** PBKDF2 ms per iteration: from the latest measured check of any strength, else the calibration. */
  #perIterationMs: number | undefined;

  /** A real check of `spec` took `ms`, dispatch to answer. */
  record(spec: HashSpec, ms: number, now = performance.now()): void {
    const key = hashSpecKey(spec);
    let samples = this.#samples.get(key);
    if (samples === undefined) {
      samples = { values: [], next: 0, at: now };
      this.#samples.set(key, samples);
    }
    if (samples.values.length < SAMPLES) samples.values.push(ms);
    else samples.values[samples.next] = ms;
    samples.next = (samples.next + 1) % SAMPLES;
    samples.at = now;
    if (spec.kind === 'sha512-pbkdf2') this.#perIterationMs = ms / spec.iterations;
  }

  /** What a check of `spec` is expected to take: the mean of its recent measurements, else an estimate. */
  expected(spec: HashSpec): number {
    const values = this.#samples.get(hashSpecKey(spec))?.values;
    if (values === undefined || values.length === 0) return this.#estimate(spec);
    return values.reduce((sum, value) => sum + value, 0) / values.length;
  }

  /** A delay like one real check of `spec`: one of its recent measurements with jitter, else an estimate with jitter. */
  draw(spec: HashSpec, random: () => number = Math.random): number {
    const values = this.#samples.get(hashSpecKey(spec))?.values;
    const base = values === undefined || values.length === 0 ? this.#estimate(spec) : (values[Math.floor(random() * values.length)] ?? this.#estimate(spec));
    return base * (1 - JITTER + 2 * JITTER * random());
  }

  /** True when `spec` has not been measured within HASH_TIMING_FRESH_MS (nor a measurement started: see `measuring`). */
  stale(spec: HashSpec, now = performance.now()): boolean {
    const samples = this.#samples.get(hashSpecKey(spec));
    return samples === undefined || now - samples.at >= HASH_TIMING_FRESH_MS;
  }

  /** A measurement of `spec` was started: `stale` stays false for a while, so only one is started. */
  measuring(spec: HashSpec, now = performance.now()): void {
    const key = hashSpecKey(spec);
    const samples = this.#samples.get(key);
    if (samples === undefined) this.#samples.set(key, { values: [], next: 0, at: now });
    else samples.at = now;
  }

  #estimate(spec: HashSpec): number {
    if (spec.kind === 'sha512') return SHA512_ESTIMATE_MS;
    this.#perIterationMs ??= calibrate();
    return this.#perIterationMs * spec.iterations;
  }
}

/** PBKDF2-SHA512 ms per iteration on this machine, from one short run (once per HashTiming). */
function calibrate(): number {
  const started = performance.now();
  pbkdf2Sync('calibration', 'calibration!', CALIBRATION_ITERATIONS, 64, 'sha512');
  return (performance.now() - started) / CALIBRATION_ITERATIONS;
}
