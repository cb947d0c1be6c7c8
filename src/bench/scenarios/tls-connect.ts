// tls-connect: full TLS handshakes + CONNECT/CONNACK per second for half the duration, then
// resumed ones (the session ticket of an earlier connection) for the other half.
import { Counters, RECEIVED, RoleHandle, SENT } from '../pool.js';
import { cpuBetween, mark, RssWatch } from '../measure.js';
import type { ResolvedBenchOptions } from '../options.js';
import type { BenchResult } from '../result.js';
import type { TlsParams, TlsResult } from '../roles/tls.js';
import { allReady, brokerOf, generatorOf, rateMeter, ticker, withTimeout, type RunEnv } from '../timed.js';

export async function tlsConnect(o: ResolvedBenchOptions, env: RunEnv): Promise<BenchResult> {
  const counters = new Counters();
  const phaseMs = o.durationMs / 2;
  const params: TlsParams = { target: o.target, protocol: o.protocol, clientPrefix: `bench-${o.runId}-tls`, durationMs: phaseMs, concurrency: o.concurrency };
  const role = new RoleHandle<TlsResult>(counters, 'tls', params);
  await allReady([role], 'starting the TLS worker');
  const rss = new RssWatch(o.pid);
  rss.start();
  const m0 = mark(o.pid);
  const meter = rateMeter('handshakes/s');
  const stopBar = ticker(env, `tls-connect ${o.url}`, o.durationMs, () => meter(counters.get(role.base, SENT) + counters.get(role.base, RECEIVED)));
  role.send('go');
  let r: TlsResult;
  try {
    r = await withTimeout(role.result, o.durationMs + 30_000, 'tls-connect');
  } finally {
    stopBar();
    role.terminate();
  }
  const m1 = mark(o.pid);
  const cpu = cpuBetween(m0, m1);
  const warnings: string[] = [];
  if (r.failed > 0) warnings.push(`${r.failed} handshake(s) failed; first: ${r.firstError ?? '?'}`);
  if (r.resumed.count > 0 && r.resumed.reused < r.resumed.count) warnings.push(`only ${r.resumed.reused} of ${r.resumed.count} "resumed" connections really resumed their TLS session`);
  if (r.full.count === 0) throw new Error(`no TLS connection succeeded: ${r.firstError ?? 'unknown error'}`);
  const perSecond = (p: TlsResult['full']): number => p.count / (p.ms / 1000);
  return {
    scenario: 'tls-connect',
    url: o.url,
    protocol: o.protocol,
    settings: { concurrency: o.concurrency, duration: o.durationMs / 1000 },
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
