// idle-connections: holds N (default 19,000) idle MQTT connections to one broker and measures what
// they cost it: connects/s, the broker's RSS growth per connection, and the PUBLISH round trip of
// one more client while they are held. Open files are limited per process (20,000 on the machine
// this was built for), so the connections come from several generator child processes
// (idle-generator.ts, at most PER_PROCESS each), each bound to its own loopback source address
// 127.0.0.2, 127.0.0.3, ... so no process runs out of ephemeral ports.
import { fork, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createHistogram } from 'node:perf_hooks';
import { MoatError } from '../../codec/errors.js';
import type { IdleChildMessage, IdleCounts, IdleGeneratorParams } from '../idle-generator.js';
import { LeanClient } from '../lean-client.js';
import { brokerTicks, cpuBetween, mark, openFileLimit, rssKb } from '../measure.js';
import type { ResolvedBenchOptions } from '../options.js';
import type { BenchResult } from '../result.js';
import { brokerOf, generatorOf, rateMeter, sleep, withTimeout, type RunEnv } from '../timed.js';
import { FileLimitError } from './connections.js';

/** Connections per generator process: 4 × 4,750 = 19,000, well inside 20,000 open files each. */
export const PER_PROCESS = 4750;
/** Open files a process needs besides its connections (stdio, IPC, the broker's listeners, logs). */
const SPARE_FDS = 64;

const generatorUrl = new URL(import.meta.url.endsWith('.ts') ? '../idle-generator.ts' : '../idle-generator.js', import.meta.url);

/** How old the broker must be before its baseline RSS is read (see idleConnections). */
const BASELINE_AGE_MS = 12_000;

/** Milliseconds since process `pid` started, from /proc (field 22 of stat: start time in clock ticks since boot). */
function brokerAgeMs(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const startTicks = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]);
    const uptimeS = Number(readFileSync('/proc/uptime', 'utf8').split(' ')[0]);
    return uptimeS * 1000 - startTicks * 10;
  } catch {
    return undefined;
  }
}

/** The soft open-file limit of another process, from /proc/PID/limits. */
function fileLimitOf(pid: number): number | undefined {
  try {
    const m = /Max open files\s+(\d+|unlimited)/.exec(readFileSync(`/proc/${pid}/limits`, 'utf8'));
    return m?.[1] === undefined ? undefined : m[1] === 'unlimited' ? Number.POSITIVE_INFINITY : Number(m[1]);
  } catch {
    return undefined;
  }
}

interface Generator {
  child: ChildProcess;
  counts: IdleCounts;
  connectMs: number | undefined;
  ready: Promise<void>;
  connected: Promise<void>;
  stopped: Promise<number>;
}

function startGenerator(params: IdleGeneratorParams): Generator {
  const child = fork(generatorUrl, [JSON.stringify(params)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const g: Partial<Generator> & { counts: IdleCounts } = { child, counts: { connected: 0, refused: 0, failed: 0, firstError: undefined }, connectMs: undefined };
  const waiters: Record<string, Array<(v: number) => void>> = { ready: [], connected: [], stopped: [] };
  const failers: Array<(e: Error) => void> = [];
  const wait = (name: string): Promise<number> =>
    new Promise<number>((resolve, reject) => {
      waiters[name]?.push(resolve);
      failers.push(reject);
    });
  g.ready = wait('ready').then(() => undefined);
  g.connected = wait('connected').then(() => undefined);
  g.stopped = wait('stopped');
  for (const p of [g.ready, g.connected, g.stopped]) p.catch(() => undefined);
  child.on('message', (m: IdleChildMessage) => {
    if (m.type === 'progress' || m.type === 'connected') {
      const { type: _type, ...counts } = m;
      g.counts = { connected: counts.connected, refused: counts.refused, failed: counts.failed, firstError: counts.firstError };
      if (m.type === 'connected') g.connectMs = m.connectMs;
    }
    const value = m.type === 'stopped' ? m.stillOpen : 0;
    for (const resolve of waiters[m.type] ?? []) resolve(value);
  });
  child.on('exit', (code, signal) => {
    for (const reject of failers) reject(new MoatError('MOAT_ERR_BENCH_WORKER', `idle generator ${params.localAddress} exited (${signal ?? code})`));
  });
  return g as Generator;
}

/** Sequential round trips of one client publishing to a topic it subscribes to, in µs. */
async function roundTrips(o: ResolvedBenchOptions, qos: 0 | 1, durationMs: number): Promise<{ p50: number; p99: number; max: number; count: number }> {
  const client = await LeanClient.connect({ target: o.target, protocol: o.protocol, clientId: `bench-${o.runId}-probe${qos}`, keepalive: 0 });
  try {
    const topic = `bench/${o.runId}/probe${qos}`;
    await client.subscribe(topic, qos);
    const histogram = createHistogram({ lowest: 1, highest: 60_000_000_000, figures: 3 });
    const template = client.encodePublish(topic, Buffer.alloc(16, 0x78), qos, false, 1);
    const idAt = template.length - 16 - 2;
    let arrived: (() => void) | undefined;
    client.onPublish = () => arrived?.();
    const end = performance.now() + durationMs;
    let id = 0;
    while (performance.now() < end) {
      const packet = Buffer.from(template);
      if (qos === 1) {
        id = id === 0xffff ? 1 : id + 1;
        packet.writeUInt16BE(id, idAt);
      }
      const got = new Promise<void>((resolve) => (arrived = resolve));
      const t0 = process.hrtime.bigint();
      client.write(packet);
      await withTimeout(got, 10_000, `the probe's QoS ${qos} PUBLISH round trip`);
      histogram.record(Math.max(1, Number(process.hrtime.bigint() - t0)));
      // One in flight, with a breath between: the probe samples the broker, it does not load it.
      await new Promise((r) => setImmediate(r));
    }
    const us = (ns: number): number => Math.round(ns / 100) / 10;
    return { p50: us(histogram.percentile(50)), p99: us(histogram.percentile(99)), max: us(histogram.max), count: histogram.count };
  } finally {
    await client.close();
  }
}

export async function idleConnections(o: ResolvedBenchOptions, env: RunEnv): Promise<BenchResult> {
  const processes = Math.ceil(o.connections / PER_PROCESS);
  const perProcess = Math.ceil(o.connections / processes);
  const limit = openFileLimit();
  if (limit !== undefined && limit < perProcess + SPARE_FDS) {
    throw new FileLimitError(`each generator process opens up to ${perProcess} connections and needs ${perProcess + SPARE_FDS} open files, but ulimit -n is ${limit}.`);
  }
  const brokerLimit = o.pid === undefined ? undefined : fileLimitOf(o.pid);
  if (brokerLimit !== undefined && brokerLimit < o.connections + SPARE_FDS) {
    throw new FileLimitError(`the broker (pid ${o.pid}) may open ${brokerLimit} files, fewer than the ${o.connections + SPARE_FDS} that ${o.connections} connections need; pass a smaller --connections.`);
  }
  if (processes > 250) throw new MoatError('MOAT_ERR_BENCH_OPTION', `--connections ${o.connections} needs ${processes} source addresses, more than 127.0.0.2–127.0.0.251`);
  const generators = Array.from({ length: processes }, (_, i) =>
    startGenerator({
      host: o.target.host,
      port: o.target.port,
      localAddress: `127.0.0.${2 + i}`,
      protocol: o.protocol,
      count: Math.min(perProcess, o.connections - i * perProcess),
      concurrency: Math.max(1, Math.round(o.concurrency / processes)),
      clientPrefix: `bench-${o.runId}-idle${i}`,
      timeoutMs: 20_000,
    }),
  );
  const kill = (): void => {
    for (const g of generators) if (g.child.exitCode === null) g.child.kill('SIGKILL');
  };
  try {
    await withTimeout(Promise.all(generators.map((g) => g.ready)), 30_000, 'starting the generator processes');
    const total = (k: 'connected' | 'refused' | 'failed'): number => generators.reduce((a, g) => a + g.counts[k], 0);
    // The baseline is taken once the broker has settled too: a Node broker's V8 memory reducer
    // compacts its start-up garbage 8-10 s after start (moat: 70.7 → 65.1 MiB). Measured any
    // earlier, that compaction would land inside the hold and be credited to the connections.
    const age = brokerAgeMs(o.pid);
    await sleep(Math.max(500, BASELINE_AGE_MS - (age ?? 0)));
    const rssBefore = rssKb(o.pid);
    const m0 = mark(o.pid);
    // The generator's CPU is this process's plus its children's (ticks of 10 ms from /proc).
    const childTicks = (): number => generators.reduce((a, g) => a + (brokerTicks(g.child.pid) ?? 0), 0);
    const ticks0 = childTicks();
    const meter = rateMeter('conn/s');
    env.progress.start(`idle-connections ${o.url}`, o.connections, 'conn');
    const bar = setInterval(() => env.progress.update(total('connected'), meter(total('connected'))), 250);
    const started = performance.now();
    for (const g of generators) g.child.send({ type: 'go' });
    try {
      await withTimeout(Promise.all(generators.map((g) => g.connected)), 180_000, `opening ${o.connections} connections`);
    } finally {
      clearInterval(bar);
      env.progress.stop();
    }
    const connectMs = performance.now() - started;
    const m1 = mark(o.pid);
    const childPercent = (childTicks() - ticks0) / Math.max(0.001, connectMs / 1000);
    const connected = total('connected');
    // The broker's RSS with every connection held and nothing else going on: 2 s after the last
    // CONNACK, and again after the hold. A Node broker's V8 heap still holds the connect burst's
    // garbage at 2 s; its memory reducer compacts the heap some 8-10 s after allocation slows down.
    // The hold's end is the steady state a fleet of idle devices sees, so it is the headline.
    await sleep(Math.min(2000, o.holdMs));
    const rssEarly = rssKb(o.pid);
    await sleep(Math.max(0, o.holdMs - 2000));
    const rssHeld = rssKb(o.pid);
    const probeMs = Math.max(500, o.durationMs / 2);
    const none = { p50: 0, p99: 0, max: 0, count: 0 };
    const qos0 = o.probe ? await roundTrips(o, 0, probeMs) : none;
    const qos1 = o.probe ? await roundTrips(o, 1, probeMs) : none;
    const rssAfterProbe = rssKb(o.pid);
    for (const g of generators) g.child.send({ type: 'stop' });
    const stillOpen = (await withTimeout(Promise.all(generators.map((g) => g.stopped)), 30_000, 'stopping the generators')).reduce((a, n) => a + n, 0);
    const own = cpuBetween(m0, m1);
    const generatorCorePercent = own.generatorCorePercent + childPercent;
    const cpu = { ...own, generatorCorePercent, generatorMachinePercent: generatorCorePercent / own.cores };
    const us = (value: number): BenchResult['values'][string] => ({ value, unit: 'µs', higherIsBetter: false });
    const values: BenchResult['values'] = { 'connects/s': { value: connected / (connectMs / 1000), unit: 'conn/s', higherIsBetter: true } };
    if (rssBefore !== undefined && rssHeld !== undefined && connected > 0) {
      values['RSS per connection'] = { value: ((rssHeld - rssBefore) * 1024) / connected, unit: 'bytes', higherIsBetter: false };
    }
    if (rssBefore !== undefined && rssEarly !== undefined && connected > 0) {
      values['RSS per connection at 2 s'] = { value: ((rssEarly - rssBefore) * 1024) / connected, unit: 'bytes', higherIsBetter: false };
    }
    if (o.probe) Object.assign(values, { 'QoS 0 round trip p99': us(qos0.p99), 'QoS 0 round trip p50': us(qos0.p50), 'QoS 1 round trip p99': us(qos1.p99), 'QoS 1 round trip p50': us(qos1.p50) });
    const warnings: string[] = [];
    const refused = total('refused');
    const failed = total('failed');
    const firstError = generators.find((g) => g.counts.firstError !== undefined)?.counts.firstError;
    if (connected < o.connections) warnings.push(`only ${connected} of ${o.connections} connections were established: the broker refused ${refused} (non-zero CONNACK) and ${failed} failed otherwise; first: ${firstError ?? '?'}`);
    if (stillOpen < connected) warnings.push(`the broker closed ${connected - stillOpen} idle connection(s) while they were held`);
    if (o.pid === undefined) warnings.push('no --pid: broker RSS per connection not measured');
    return {
      scenario: 'idle-connections',
      url: o.url,
      protocol: o.protocol,
      settings: { connections: o.connections, processes, concurrency: o.concurrency, hold: o.holdMs / 1000, 'probe s per QoS': probeMs / 1000 },
      values,
      details: {
        connected,
        refused,
        failed,
        'still open at the end': stillOpen,
        'connect time s': connectMs / 1000,
        ...(rssBefore !== undefined ? { 'broker RSS before MiB': rssBefore / 1024 } : {}),
        ...(rssEarly !== undefined ? { 'broker RSS 2 s after connecting MiB': rssEarly / 1024 } : {}),
        ...(rssHeld !== undefined ? { 'broker RSS at the end of the hold MiB': rssHeld / 1024 } : {}),
        ...(rssAfterProbe !== undefined ? { 'broker RSS after the probe MiB': rssAfterProbe / 1024 } : {}),
        'QoS 0 round trips': qos0.count,
        'QoS 0 round trip max µs': qos0.max,
        'QoS 1 round trips': qos1.count,
        'QoS 1 round trip max µs': qos1.max,
      },
      generator: generatorOf(cpu),
      broker: brokerOf(o, cpu, rssHeld),
      measuredMs: connectMs,
      warnings,
    };
  } finally {
    kill();
  }
}
