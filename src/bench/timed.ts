// The measurement skeleton shared by scenarios: start roles, say go, show progress, take marks
// after the warm-up and at the end (counters are read from shared memory at that instant), stop,
// and turn the marks into rates and CPU percentages.
import { MoatError } from '../codec/errors.js';
import type { Counters, RoleHandle } from './pool.js';
import { cpuBetween, mark, RssWatch, type CpuReport } from './measure.js';
import type { ResolvedBenchOptions } from './options.js';
import type { Progress } from './progress.js';
import type { BenchResult } from './result.js';

export interface RunEnv {
  progress: Progress;
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new MoatError('MOAT_ERR_BENCH_TIMEOUT', `${what} did not finish within ${Math.round(ms / 1000)} s`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Waits for every role to connect; on failure terminates them all and rethrows. */
export async function allReady(roles: readonly RoleHandle[], what: string): Promise<void> {
  try {
    await withTimeout(Promise.all(roles.map((r) => r.ready)), 60_000, what);
  } catch (error) {
    for (const r of roles) r.terminate();
    throw error;
  }
}

/** Shows a bar over `totalMs`, labelled with the rate `sample()` reports, until stopped. */
export function ticker(env: RunEnv, label: string, totalMs: number, sample: () => string): () => void {
  const start = performance.now();
  env.progress.start(label, Math.ceil(totalMs / 1000), 's');
  const timer = setInterval(() => env.progress.update(Math.floor((performance.now() - start) / 1000), sample()), 250);
  return () => {
    clearInterval(timer);
    env.progress.stop();
  };
}

/** A rate over the last tick, for the bar: call it every 250 ms with the running total. */
export function rateMeter(unit: string): (total: number) => string {
  let last = 0;
  let lastAt = performance.now();
  return (total) => {
    const now = performance.now();
    const rate = ((total - last) * 1000) / Math.max(1, now - lastAt);
    last = total;
    lastAt = now;
    return `${Math.round(rate).toLocaleString('en-US')} ${unit}`;
  };
}

/**
 * Warm-up, then the measured window. `reads` are sampled at both marks; the returned deltas are in
 * the same order. The broker's peak RSS is tracked over the whole run.
 */
export async function measure(
  o: ResolvedBenchOptions,
  env: RunEnv,
  label: string,
  reads: Array<() => number>,
  progressOf: () => number,
  unit: string,
): Promise<{ ms: number; cpu: CpuReport; deltas: number[]; rssPeakKb: number | undefined }> {
  const rss = new RssWatch(o.pid);
  rss.start();
  const meter = rateMeter(unit);
  const stopBar = ticker(env, label, o.warmupMs + o.durationMs, () => meter(progressOf()));
  try {
    await sleep(o.warmupMs);
    const m0 = mark(o.pid);
    const v0 = reads.map((r) => r());
    await sleep(o.durationMs);
    const v1 = reads.map((r) => r());
    const m1 = mark(o.pid);
    return { ms: m1.at - m0.at, cpu: cpuBetween(m0, m1), deltas: v1.map((v, i) => v - (v0[i] ?? 0)), rssPeakKb: rss.stop() };
  } finally {
    stopBar();
    rss.stop();
  }
}

/**
 * Waits until `read()` has not changed for quietMs, or has reached `all` (at most maxMs): stragglers
 * still arriving. Resolves false when it gave up while they were still arriving.
 */
export async function settle(read: () => number, quietMs = 300, maxMs = 3000, all = Number.POSITIVE_INFINITY): Promise<boolean> {
  const deadline = performance.now() + maxMs;
  let last = read();
  let since = performance.now();
  while (performance.now() < deadline) {
    if (last >= all) return true;
    await sleep(50);
    const now = read();
    if (now !== last) {
      last = now;
      since = performance.now();
    } else if (performance.now() - since >= quietMs) return true;
  }
  return false;
}

export function generatorOf(cpu: CpuReport): BenchResult['generator'] {
  return { corePercent: cpu.generatorCorePercent, machinePercent: cpu.generatorMachinePercent, cores: cpu.cores };
}

export function brokerOf(o: ResolvedBenchOptions, cpu: CpuReport | undefined, rssPeakKb: number | undefined): BenchResult['broker'] {
  if (o.pid === undefined) return undefined;
  return { pid: o.pid, corePercent: cpu?.brokerCorePercent, rssPeakKb };
}

/** A warning when the generator itself may have limited the result. */
export function saturationWarnings(cpu: CpuReport, threads: number): string[] {
  // A worker thread is single-core: near 100% of its core per busy thread means it set the pace.
  const warnings =
    cpu.generatorCorePercent > 90 * threads
      ? [`the load generator used ${Math.round(cpu.generatorCorePercent)}% of a core over ${threads} busy thread(s): it may be the bottleneck`]
      : [];
  // Generator and broker on one machine: when together they use every core, they compete.
  const together = cpu.generatorCorePercent + (cpu.brokerCorePercent ?? 0);
  if (cpu.brokerCorePercent !== undefined && together > 90 * cpu.cores) {
    warnings.push(`generator (${Math.round(cpu.generatorCorePercent)}%) and broker (${Math.round(cpu.brokerCorePercent)}%) together saturated all ${cpu.cores} cores`);
  }
  return warnings;
}

export type { Counters };
