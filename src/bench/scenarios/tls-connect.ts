// tls-connect: full TLS handshakes + CONNECT/CONNACK per second for half the duration, then
// resumed ones (the session ticket of an earlier connection) for the other half.
import { Counters, RECEIVED, RoleHandle, SENT } from '../pool.js';
import { cpuBetween, mark, RssWatch } from '../measure.js';
import type { ResolvedBenchOptions } from '../options.js';
import type { BenchResult } from '../result.js';
import type { TlsParams, TlsResult } from '../roles/tls.js';
import { allReady, brokerOf, generatorOf, rateMeter, saturationWarnings, ticker, withTimeout, type RunEnv } from '../timed.js';

export async function tlsConnect(o: ResolvedBenchOptions, env: RunEnv): Promise<BenchResult> {
  const counters = new Counters();
  const phaseMs = o.durationMs / 2;
  // Client-side handshakes cost about as much CPU as the broker's: one thread saturates first, so
  // the lanes are spread over two workers.
  const threads = o.concurrency >= 2 ? 2 : 1;
  const roles = Array.from({ length: threads }, (_, t) => {
    const params: TlsParams = {
      target: o.target,
      protocol: o.protocol,
      clientPrefix: `bench-${o.runId}-tls${t}`,
      durationMs: phaseMs,
      concurrency: Math.floor(o.concurrency / threads) + (t < o.concurrency % threads ? 1 : 0),
    };
    return new RoleHandle<TlsResult>(counters, 'tls', params);
  });
  await allReady(roles, 'starting the TLS workers');
  const bases = roles.map((r) => r.base);
  const rss = new RssWatch(o.pid);
  rss.start();
  const m0 = mark(o.pid);
  const meter = rateMeter('handshakes/s');
  const stopBar = ticker(env, `tls-connect ${o.url}`, o.durationMs, () => meter(counters.sum(bases, SENT) + counters.sum(bases, RECEIVED)));
  for (const role of roles) role.send('go');
  let parts: TlsResult[];
  try {
    parts = await withTimeout(Promise.all(roles.map((role) => role.result)), o.durationMs + 30_000, 'tls-connect');
  } finally {
    stopBar();
    for (const role of roles) role.terminate();
  }
  // Both workers run their phases over the same wall-clock span: counts add, times do not.
  const phase = (pick: (p: TlsResult) => TlsResult['full']): TlsResult['full'] => ({
    count: parts.reduce((a, p) => a + pick(p).count, 0),
    reused: parts.reduce((a, p) => a + pick(p).reused, 0),
    ms: Math.max(...parts.map((p) => pick(p).ms)),
  });
  const r: TlsResult = {
    full: phase((p) => p.full),
    resumed: phase((p) => p.resumed),
    failed: parts.reduce((a, p) => a + p.failed, 0),
    firstError: parts.find((p) => p.firstError !== undefined)?.firstError,
  };
  const m1 = mark(o.pid);
  const cpu = cpuBetween(m0, m1);
  const warnings = saturationWarnings(cpu, threads);
  if (r.failed > 0) warnings.push(`${r.failed} handshake(s) failed; first: ${r.firstError ?? '?'}`);
  if (r.resumed.count > 0 && r.resumed.reused < r.resumed.count) warnings.push(`only ${r.resumed.reused} of ${r.resumed.count} "resumed" connections really resumed their TLS session`);
  if (r.full.count === 0) throw new Error(`no TLS connection succeeded: ${r.firstError ?? 'unknown error'}`);
  const perSecond = (p: TlsResult['full']): number => p.count / (p.ms / 1000);
  return {
    scenario: 'tls-connect',
    url: o.url,
    protocol: o.protocol,
    settings: { concurrency: o.concurrency, duration: o.durationMs / 1000, threads },
    values: {
      'full handshakes/s': { value: perSecond(r.full), unit: 'conn/s', higherIsBetter: true },
      'resumed handshakes/s': { value: perSecond(r.resumed), unit: 'conn/s', higherIsBetter: true },
    },
    details: { full: r.full.count, resumed: r.resumed.count, 'really resumed': r.resumed.reused, failed: r.failed },
    generator: generatorOf(cpu),
    broker: brokerOf(o, cpu, rss.stop()),
    measuredMs: m1.at - m0.at,
    warnings,
  };
}
