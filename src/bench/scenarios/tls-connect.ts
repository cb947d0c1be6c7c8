// tls-connect: full TLS handshakes + CONNECT/CONNACK per second for half the duration, then
// resumed ones (the session ticket of an earlier connection) for the other half; then --handshakes
// connections one at a time, full and resumed, for the client's and the broker's CPU per handshake.
// The broker's certificate decides the key type measured: run it once per certificate to compare.
import { MoatError } from '../../codec/errors.js';
import { Counters, RECEIVED, RoleHandle, SENT } from '../pool.js';
import { cpuBetween, mark, RssWatch } from '../measure.js';
import type { ResolvedBenchOptions } from '../options.js';
import type { BenchResult } from '../result.js';
import type { TlsParams, TlsResult } from '../roles/tls.js';
import { keyOfCertificate, measureHandshakeCost, type TlsCosts } from '../tls-cost.js';
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
  // The workers are gone: this thread is now the only client in the process.
  const costs = o.handshakes > 0 && r.full.count > 0 ? await measureHandshakeCost(o.target, o.protocol, `bench-${o.runId}-seq`, o.handshakes, o.pid) : undefined;
  const warnings = saturationWarnings(cpu, threads);
  if (r.failed > 0) warnings.push(`${r.failed} handshake(s) failed; first: ${r.firstError ?? '?'}`);
  if (r.resumed.count > 0 && r.resumed.reused < r.resumed.count) warnings.push(`only ${r.resumed.reused} of ${r.resumed.count} "resumed" connections really resumed their TLS session`);
  if (r.full.count === 0) throw new MoatError('MOAT_ERR_BENCH', `no TLS connection succeeded: ${r.firstError ?? 'unknown error'}`);
  if (costs !== undefined && costs.resumed.reused < costs.resumed.count) warnings.push(`only ${costs.resumed.reused} of ${costs.resumed.count} one-at-a-time "resumed" connections really resumed`);
  const perSecond = (p: TlsResult['full']): number => p.count / (p.ms / 1000);
  return {
    scenario: 'tls-connect',
    url: o.url,
    protocol: o.protocol,
    settings: { concurrency: o.concurrency, duration: o.durationMs / 1000, threads, handshakes: o.handshakes, 'client certificate': o.target.cert === undefined ? 'none' : keyOfCertificate(o.target.cert) },
    values: {
      'full handshakes/s': { value: perSecond(r.full), unit: 'conn/s', higherIsBetter: true },
      'resumed handshakes/s': { value: perSecond(r.resumed), unit: 'conn/s', higherIsBetter: true },
      ...costValues(costs),
    },
    details: {
      full: r.full.count,
      resumed: r.resumed.count,
      'really resumed': r.resumed.reused,
      failed: r.failed,
      ...(costs === undefined ? {} : { 'server key': costs.serverKey, 'one-at-a-time connections': costs.full.count + costs.resumed.count }),
    },
    generator: generatorOf(cpu),
    broker: brokerOf(o, cpu, rss.stop()),
    measuredMs: m1.at - m0.at,
    warnings,
  };
}

function costValues(costs: TlsCosts | undefined): BenchResult['values'] {
  if (costs === undefined) return {};
  const ms = (value: number): BenchResult['values'][string] => ({ value, unit: 'ms', higherIsBetter: false });
  return {
    'client CPU per full handshake': ms(costs.full.clientMs),
    'client CPU per resumed handshake': ms(costs.resumed.clientMs),
    ...(costs.full.brokerMs === undefined ? {} : { 'broker CPU per full handshake': ms(costs.full.brokerMs) }),
    ...(costs.resumed.brokerMs === undefined ? {} : { 'broker CPU per resumed handshake': ms(costs.resumed.brokerMs) }),
  };
}
