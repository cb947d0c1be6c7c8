// retained: store N (default 100,000) retained messages on distinct topics, then time a fresh
// subscriber's wildcard SUBSCRIBE until all N arrive.
import { AUX, Counters, RECEIVED, RoleHandle, SENT } from '../pool.js';
import { cpuBetween, mark, RssWatch } from '../measure.js';
import type { ResolvedBenchOptions } from '../options.js';
import type { BenchResult } from '../result.js';
import type { RetainedParams, RetainedResult } from '../roles/retained.js';
import { allReady, brokerOf, generatorOf, withTimeout, type RunEnv } from '../timed.js';

const TIMEOUT_MS = 30_000;

export async function retained(o: ResolvedBenchOptions, env: RunEnv): Promise<BenchResult> {
  const counters = new Counters();
  const params: RetainedParams = {
    target: o.target,
    protocol: o.protocol,
    clientPrefix: `bench-${o.runId}-ret`,
    count: o.retained,
    size: o.size,
    prefix: `bench/${o.runId}/retained`,
    timeoutMs: TIMEOUT_MS,
    cleanup: o.cleanup,
  };
  const role = new RoleHandle<RetainedResult>(counters, 'retained', params);
  await allReady([role], 'connecting the retained publisher');
  const rss = new RssWatch(o.pid);
  rss.start();
  const m0 = mark(o.pid);
  env.progress.start(`retained ${o.url}`, o.retained * 2, 'msgs');
  // Two phases on one bar: stored, then delivered.
  const bar = setInterval(() => {
    const phase = counters.get(role.base, AUX);
    env.progress.update(counters.get(role.base, SENT) + counters.get(role.base, RECEIVED), phase >= 3 ? 'cleaning up' : phase >= 2 ? 'delivering' : 'storing');
  }, 250);
  role.send('go');
  let r: RetainedResult;
  try {
    r = await withTimeout(role.result, TIMEOUT_MS * 3, 'retained');
  } finally {
    clearInterval(bar);
    env.progress.stop();
    role.terminate();
  }
  const m1 = mark(o.pid);
  const cpu = cpuBetween(m0, m1);
  const warnings: string[] = [];
  if (!r.complete) warnings.push(`only ${r.received} of ${r.published} retained messages arrived (waited until none came for 3 s, at most ${TIMEOUT_MS / 1000} s)`);
  return {
    scenario: 'retained',
    url: o.url,
    protocol: o.protocol,
    settings: { retained: o.retained, size: o.size },
    values: {
      'retained delivered/s': { value: r.received / (r.deliverMs / 1000), unit: 'msg/s', higherIsBetter: true },
      'delivery time': { value: r.deliverMs / 1000, unit: 's', higherIsBetter: false },
      'retained stored/s': { value: r.published / (r.publishMs / 1000), unit: 'msg/s', higherIsBetter: true },
    },
    details: { published: r.published, received: r.received, complete: r.complete, 'store time s': r.publishMs / 1000 },
    generator: generatorOf(cpu),
    broker: brokerOf(o, cpu, rss.stop()),
    measuredMs: m1.at - m0.at,
    warnings,
  };
}
