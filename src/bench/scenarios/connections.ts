// connections: open N idle connections (bounded concurrency), report CONNACKs/s and, with the
// broker's PID, its RSS growth per connection while they are held.
import { MoatError } from '../../codec/errors.js';
import { ACKED, AUX, Counters, RoleHandle } from '../pool.js';
import { cpuBetween, mark, openFileLimit, rssKb } from '../measure.js';
import type { ResolvedBenchOptions } from '../options.js';
import type { BenchResult } from '../result.js';
import type { ConnectionsParams, ConnectionsResult } from '../roles/connections.js';
import { allReady, brokerOf, generatorOf, rateMeter, saturationWarnings, sleep, withTimeout, type RunEnv } from '../timed.js';

/** File descriptors the generator needs besides the connections (stdio, workers, pipes). */
const SPARE_FDS = 64;

export class FileLimitError extends MoatError {
  constructor(message: string) {
    super('MOAT_ERR_BENCH_NOFILE', message);
    this.name = 'FileLimitError';
  }
}

export async function connections(o: ResolvedBenchOptions, env: RunEnv): Promise<BenchResult> {
  const limit = openFileLimit();
  if (limit !== undefined && limit < o.connections + SPARE_FDS) {
    throw new FileLimitError(
      `opening ${o.connections} connections needs at least ${o.connections + SPARE_FDS} open files, but ulimit -n is ${limit}. ` +
        `Raise it in this shell (ulimit -n ${Math.max(65536, o.connections * 2)}; the hard limit is ulimit -Hn) or pass a smaller --connections. ` +
        'The broker needs the same headroom.',
    );
  }
  const counters = new Counters();
  // Two workers: one thread's TLS-free connect path tops out near the 5,000/s target itself.
  const threads = o.connections >= 1000 ? 2 : 1;
  const roles = Array.from({ length: threads }, (_, t) => {
    const count = Math.floor(o.connections / threads) + (t < o.connections % threads ? 1 : 0);
    const params: ConnectionsParams = {
      target: o.target,
      protocol: o.protocol,
      clientPrefix: `bench-${o.runId}-idle${t}`,
      count,
      concurrency: Math.max(1, Math.round(o.concurrency / threads)),
      keepalive: 0,
    };
    return new RoleHandle<ConnectionsResult>(counters, 'connections', params);
  });
  await allReady(roles, 'starting the connections workers');
  const bases = roles.map((r) => r.base);
  const connected = (): number => counters.sum(bases, AUX);
  const failed = (): number => counters.sum(bases, ACKED);
  // Let the broker's heap settle before the baseline, so the delta is the connections' cost.
  await sleep(200);
  const rssBefore = rssKb(o.pid);
  const m0 = mark(o.pid);
  const meter = rateMeter('conn/s');
  env.progress.start(`connections ${o.url}`, o.connections, 'conn');
  const bar = setInterval(() => env.progress.update(connected(), meter(connected())), 250);
  const started = performance.now();
  for (const role of roles) role.send('go');
  try {
    await withTimeout(
      (async () => {
        while (connected() + failed() < o.connections) await sleep(20);
      })(),
      60_000,
      `opening ${o.connections} connections`,
    );
  } catch (error) {
    for (const role of roles) role.terminate();
    throw error;
  } finally {
    clearInterval(bar);
    env.progress.stop();
  }
  const connectMs = performance.now() - started;
  const m1 = mark(o.pid);
  await sleep(o.holdMs);
  const rssHeld = rssKb(o.pid);
  const parts = await Promise.all(roles.map((role) => role.stop()));
  const r: ConnectionsResult = {
    connected: parts.reduce((a, p) => a + p.connected, 0),
    failed: parts.reduce((a, p) => a + p.failed, 0),
    firstError: parts.find((p) => p.firstError !== undefined)?.firstError,
    connectMs,
    droppedWhileIdle: parts.reduce((a, p) => a + p.droppedWhileIdle, 0),
  };
  const cpu = cpuBetween(m0, m1);
  const rate = r.connected / (r.connectMs / 1000);
  const values: BenchResult['values'] = { 'connects/s': { value: rate, unit: 'conn/s', higherIsBetter: true } };
  if (rssBefore !== undefined && rssHeld !== undefined && r.connected > 0) {
    values['RSS per connection'] = { value: ((rssHeld - rssBefore) * 1024) / r.connected, unit: 'bytes', higherIsBetter: false };
  }
  const warnings = saturationWarnings(cpu, threads);
  if (r.failed > 0) warnings.push(`${r.failed} connection(s) failed; first: ${r.firstError ?? '?'}`);
  if (r.droppedWhileIdle > 0) warnings.push(`the broker closed ${r.droppedWhileIdle} idle connection(s) during the hold`);
  if (o.pid === undefined) warnings.push('no --pid: broker RSS per connection not measured');
  return {
    scenario: 'connections',
    url: o.url,
    protocol: o.protocol,
    settings: { connections: o.connections, concurrency: o.concurrency, hold: o.holdMs / 1000, threads },
    values,
    details: {
      connected: r.connected,
      failed: r.failed,
      'connect time s': r.connectMs / 1000,
      ...(rssBefore !== undefined ? { 'broker RSS before MiB': rssBefore / 1024 } : {}),
      ...(rssHeld !== undefined ? { 'broker RSS held MiB': rssHeld / 1024 } : {}),
    },
    generator: generatorOf(cpu),
    broker: brokerOf(o, cpu, rssHeld),
    measuredMs: r.connectMs,
    warnings,
  };
}
