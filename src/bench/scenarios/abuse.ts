// abuse: a well-behaved pair (the latency role: one QoS 0 publisher at a fixed rate, default 1,000
// msg/s, and one subscriber) beside a hostile client that connects and then never reads while it
// floods (roles/flood.ts). Each flood kind runs in turn (or the one chosen), each with a fresh pair:
// warm-up, the flood for `duration`, then `hold` seconds before the broker's RSS is read again. Per
// kind: the pair's p50/p99/max latency over the flood and its lost messages, the broker's RSS peak
// and RSS after. The headline is the worst p99 over the kinds run.
import { cpuBetween, mark, rssKb, RssWatch, type CpuReport } from '../measure.js';
import type { FloodKind, ResolvedBenchOptions } from '../options.js';
import { Counters, RoleHandle, SENT } from '../pool.js';
import type { BenchResult } from '../result.js';
import type { FloodParams, FloodResult } from '../roles/flood.js';
import type { LatencyParams, LatencyResult } from '../roles/latency.js';
import { allReady, brokerOf, generatorOf, rateMeter, saturationWarnings, sleep, ticker, withTimeout, type RunEnv } from '../timed.js';

/** How often the RSS guard looks: a resubscribe flood can grow a broker by 100s of MB a second. */
const GUARD_MS = 100;

interface Phase {
  kind: FloodKind;
  latency: LatencyResult;
  flood: FloodResult;
  cpu: CpuReport;
  rssBeforeKb: number | undefined;
  rssPeakKb: number | undefined;
  rssAfterKb: number | undefined;
  /** The RSS guard stopped the flood before its duration. */
  cutShort: boolean;
}

async function runPhase(o: ResolvedBenchOptions, env: RunEnv, kind: FloodKind): Promise<Phase> {
  const counters = new Counters();
  const prefix = `bench/${o.runId}/abuse`;
  const group = { target: o.target, protocol: o.protocol };
  const pairParams: LatencyParams = { ...group, clientPrefix: `bench-${o.runId}-${kind}-pair`, topic: `${prefix}/pair`, size: o.size, rate: o.rate, warmupMs: o.warmupMs };
  const floodParams: FloodParams = {
    ...group,
    clientPrefix: `bench-${o.runId}-${kind}`,
    kind,
    topic: `${prefix}/flood`,
    size: o.size,
    retainedTopic: `${prefix}/big`,
    retainedSize: o.retainedSize,
    // Never owe the hostile client more retained bytes than the RSS limit, even without --pid.
    maxSubscribes: Math.max(1, Math.floor((o.rssLimitKb * 1024) / o.retainedSize)),
    durationMs: o.durationMs,
    cleanup: o.cleanup,
  };
  const pair = new RoleHandle<LatencyResult>(counters, 'latency', pairParams);
  const flood = new RoleHandle<FloodResult>(counters, 'flood', floodParams);
  await allReady([pair, flood], `connecting the ${kind} flood's clients`);
  const rss = new RssWatch(o.pid);
  rss.start();
  const meter = rateMeter('flood pkts/s');
  const stopBar = ticker(env, `abuse ${kind} ${o.url}`, o.warmupMs + o.durationMs, () => meter(counters.get(flood.base, SENT)));
  let guard: NodeJS.Timeout | undefined;
  try {
    // The pair records latency from the end of its warm-up: the moment the flood starts.
    pair.send('go');
    await sleep(o.warmupMs);
    const rssBeforeKb = rss.sample();
    const m0 = mark(o.pid);
    flood.send('go');
    let cutShort = false;
    guard = setInterval(() => {
      const kb = rss.sample();
      if (!cutShort && rssBeforeKb !== undefined && kb !== undefined && kb - rssBeforeKb > o.rssLimitKb) {
        cutShort = true;
        flood.send('stop');
      }
    }, GUARD_MS);
    const floodResult = await withTimeout(flood.result, o.durationMs + 30_000, `the ${kind} flood`);
    clearInterval(guard);
    const m1 = mark(o.pid);
    const latency = await pair.stop();
    stopBar();
    const rssPeakKb = rss.stop();
    // Closed, the hostile client's backlog should be freed: how much of the peak stays?
    await sleep(o.holdMs);
    return { kind, latency, flood: floodResult, cpu: cpuBetween(m0, m1), rssBeforeKb, rssPeakKb, rssAfterKb: rssKb(o.pid), cutShort };
  } catch (error) {
    pair.terminate();
    throw error;
  } finally {
    clearInterval(guard);
    stopBar();
    rss.stop();
    flood.terminate();
  }
}

export async function abuse(o: ResolvedBenchOptions, env: RunEnv): Promise<BenchResult> {
  const phases: Phase[] = [];
  for (const kind of o.floods) phases.push(await runPhase(o, env, kind));
  const ms = (us: number): BenchResult['values'][string] => ({ value: us / 1000, unit: 'ms', higherIsBetter: false });
  const mib = (kb: number): BenchResult['values'][string] => ({ value: kb / 1024, unit: 'MiB', higherIsBetter: false });
  const values: BenchResult['values'] = { 'bystander p99': ms(Math.max(...phases.map((p) => p.latency.p99))) };
  const details: BenchResult['details'] = {};
  const warnings: string[] = [];
  for (const { kind, latency: l, flood: f, cpu, rssBeforeKb, rssPeakKb, rssAfterKb, cutShort } of phases) {
    const lost = Math.max(0, l.sent - l.received);
    values[`${kind} p50`] = ms(l.p50);
    values[`${kind} p99`] = ms(l.p99);
    values[`${kind} max`] = ms(l.max);
    values[`${kind} lost`] = { value: lost, unit: 'msgs', higherIsBetter: false };
    if (rssPeakKb !== undefined) values[`${kind} RSS peak`] = mib(rssPeakKb);
    if (rssAfterKb !== undefined) values[`${kind} RSS after`] = mib(rssAfterKb);
    details[`${kind} bystander sent`] = l.sent;
    details[`${kind} bystander received`] = l.received;
    details[`${kind} latencies recorded`] = l.recorded;
    details[`${kind} flood packets written`] = f.written;
    details[`${kind} flood packets/s`] = f.written / Math.max(0.001, f.floodMs / 1000);
    details[`${kind} hostile closed by broker`] = f.closedByBrokerMs === undefined ? 'no' : `after ${Math.round(f.closedByBrokerMs)} ms`;
    if (rssBeforeKb !== undefined) details[`${kind} RSS before MiB`] = rssBeforeKb / 1024;
    if (cpu.brokerCorePercent !== undefined) details[`${kind} broker CPU %`] = cpu.brokerCorePercent;
    warnings.push(...saturationWarnings(cpu, 2).map((w) => `${kind}: ${w}`));
    if (cutShort) warnings.push(`${kind}: flood cut short after ${Math.round(f.floodMs)} ms: the broker's RSS grew by more than ${o.rssLimitKb / 1024} MiB`);
    if (lost > 0) warnings.push(`${kind}: ${lost} of ${l.sent} bystander messages never arrived`);
    if (l.recorded === 0) warnings.push(`${kind}: no bystander message arrived during the flood: no latency recorded`);
  }
  if (o.pid === undefined) warnings.push('no --pid: broker RSS not measured and not guarded (resubscribe is still capped by --rss-limit)');
  // One CPU figure per result: the flood that cost the most.
  const busiest = phases.reduce((a, b) => (b.cpu.generatorCorePercent > a.cpu.generatorCorePercent ? b : a));
  const brokerCpu = phases.map((p) => p.cpu.brokerCorePercent).filter((c): c is number => c !== undefined);
  const cpu: CpuReport = { ...busiest.cpu, brokerCorePercent: brokerCpu.length > 0 ? Math.max(...brokerCpu) : undefined };
  const peaks = phases.map((p) => p.rssPeakKb).filter((k): k is number => k !== undefined);
  return {
    scenario: 'abuse',
    url: o.url,
    protocol: o.protocol,
    settings: {
      floods: o.floods.join(','),
      rate: o.rate,
      size: o.size,
      qos: 0,
      'retained size': o.retainedSize,
      'rss limit MiB': o.rssLimitKb / 1024,
      warmup: o.warmupMs / 1000,
      duration: o.durationMs / 1000,
      hold: o.holdMs / 1000,
    },
    values,
    details,
    generator: generatorOf(cpu),
    broker: brokerOf(o, cpu, peaks.length > 0 ? Math.max(...peaks) : undefined),
    measuredMs: phases.reduce((a, p) => a + p.flood.floodMs, 0),
    warnings,
  };
}
