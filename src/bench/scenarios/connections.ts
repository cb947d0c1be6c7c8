// connections: open N idle connections (bounded concurrency), report CONNACKs/s and, with the
// broker's PID, its RSS growth per connection while they are held.
import { ACKED, AUX, Counters, RoleHandle } from '../pool.js';
import { cpuBetween, mark, openFileLimit, rssKb } from '../measure.js';
import type { ResolvedBenchOptions } from '../options.js';
import type { BenchResult } from '../result.js';
import type { ConnectionsParams, ConnectionsResult } from '../roles/connections.js';
import { allReady, brokerOf, generatorOf, rateMeter, sleep, withTimeout, type RunEnv } from '../timed.js';

/** File descriptors the generator needs besides the connections (stdio, workers, pipes). */
const SPARE_FDS = 64;

export class FileLimitError extends Error {
  readonly code = 'MOAT_ERR_BENCH_NOFILE';
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
  const params: ConnectionsParams = { target: o.target, protocol: o.protocol, clientPrefix: `bench-${o.runId}-idle`, count: o.connections, concurrency: o.concurrency, keepalive: 0 };
  const role = new RoleHandle<ConnectionsResult>(counters, 'connections', params);
  await allReady([role], 'starting the connections worker');
  const connected = (): number => counters.get(role.base, AUX);
  const failed = (): number => counters.get(role.base, ACKED);
  // Let the broker's heap settle before the baseline, so the delta is the connections' cost.
  await sleep(200);
  const rssBefore = rssKb(o.pid);
  const m0 = mark(o.pid);
  const meter = rateMeter('conn/s');
  env.progress.start(`connections ${o.url}`, o.connections, 'conn');
  const bar = setInterval(() => env.progress.update(connected(), meter(connected())), 250);
  role.send('go');
  try {
    await withTimeout(
      (async () => {
        while (connected() + failed() < o.connections) await sleep(20);
      })(),
      60_000,
      `opening ${o.connections} connections`,
    );
  } catch (error) {
    role.terminate();
    throw error;
  } finally {
    clearInterval(bar);
    env.progress.stop();
  }
  const m1 = mark(o.pid);
  await sleep(o.holdMs);
  const rssHeld = rssKb(o.pid);
  const r = await role.stop();
  const cpu = cpuBetween(m0, m1);
  const rate = r.connected / (r.connectMs / 1000);
  const values: BenchResult['values'] = { 'connects/s': { value: rate, unit: 'conn/s', higherIsBetter: true } };
  if (rssBefore !== undefined && rssHeld !== undefined && r.connected > 0) {
    values['RSS per connection'] = { value: ((rssHeld - rssBefore) * 1024) / r.connected, unit: 'bytes', higherIsBetter: false };
  }
  const warnings: string[] = [];
  if (r.failed > 0) warnings.push(`${r.failed} connection(s) failed; first: ${r.firstError ?? '?'}`);
  if (r.droppedWhileIdle > 0) warnings.push(`the broker closed ${r.droppedWhileIdle} idle connection(s) during the hold`);
  if (o.pid === undefined) warnings.push('no --pid: broker RSS per connection not measured');
  return {
    scenario: 'connections',
    url: o.url,
    protocol: o.protocol,
    settings: { connections: o.connections, concurrency: o.concurrency, hold: o.holdMs / 1000 },
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
