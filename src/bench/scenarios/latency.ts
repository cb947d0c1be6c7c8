// latency: one publisher at a fixed rate (default 5,000 msg/s) and one subscriber in the same
// worker thread; p50/p99/p99.9/max from an HDR histogram, warm-up excluded.
import { Counters, RECEIVED, RoleHandle, SENT } from '../pool.js';
import type { ResolvedBenchOptions } from '../options.js';
import type { BenchResult } from '../result.js';
import type { LatencyParams, LatencyResult } from '../roles/latency.js';
import { allReady, brokerOf, generatorOf, measure, saturationWarnings, type RunEnv } from '../timed.js';

export async function latency(o: ResolvedBenchOptions, env: RunEnv): Promise<BenchResult> {
  const counters = new Counters();
  const params: LatencyParams = {
    target: o.target,
    protocol: o.protocol,
    clientPrefix: `bench-${o.runId}-lat`,
    topic: `bench/${o.runId}/latency`,
    size: o.size,
    rate: o.rate,
    warmupMs: o.warmupMs,
  };
  const role = new RoleHandle<LatencyResult>(counters, 'latency', params);
  await allReady([role], 'connecting the latency clients');
  role.send('go');
  let window;
  try {
    window = await measure(o, env, `latency ${o.url}`, [() => counters.get(role.base, SENT)], () => counters.get(role.base, RECEIVED), 'msg/s');
  } catch (error) {
    role.terminate();
    throw error;
  }
  const r = await role.stop();
  const achieved = (window.deltas[0] ?? 0) / (window.ms / 1000);
  const lost = Math.max(0, r.sent - r.received);
  const warnings = saturationWarnings(window.cpu, 1);
  if (achieved < o.rate * 0.98) warnings.push(`the generator sent ${Math.round(achieved)} msg/s, below the requested ${o.rate}`);
  if (lost > 0) warnings.push(`${lost} of ${r.sent} messages never arrived`);
  if (r.recorded === 0) warnings.push('no message arrived after the warm-up: no latency recorded');
  const us = (value: number): BenchResult['values'][string] => ({ value, unit: 'µs', higherIsBetter: false });
  return {
    scenario: 'latency',
    url: o.url,
    protocol: o.protocol,
    settings: { rate: o.rate, size: o.size, qos: 0, duration: o.durationMs / 1000 },
    values: { p99: us(r.p99), p50: us(r.p50), 'p99.9': us(r.p999), max: us(r.max) },
    details: { 'sent/s': achieved, sent: r.sent, received: r.received, recorded: r.recorded, 'mean µs': r.mean, 'min µs': r.min, 'largest timer burst': r.maxBurst },
    generator: generatorOf(window.cpu),
    broker: brokerOf(o, window.cpu, window.rssPeakKb),
    measuredMs: window.ms,
    warnings,
  };
}
