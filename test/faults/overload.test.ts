// Issue 9, defects 3, 7 and 8 over real sockets to a `moat broker` process: one connection must not
// stall the others, memory must stay bounded under a client that never reads, and drops must show.
// - A never-reading client flooding PINGREQs, QoS 1 PUBLISHes, or SUBSCRIBEs that each match a
//   256 KB retained message: a bystander's publish → delivery round trip stays within a generous
//   bound, and the broker's RSS stays bounded and returns near its baseline once the flooder goes.
// - A first packet declaring 256 MB followed by junk: the broker decides at the fixed header and
//   stops reading, so 15 such connections cost next to no memory.
// - A QoS 1 publisher outrunning a subscriber: drops counted in $SYS and logged once per interval.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { connect as netConnect, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test, type TestContext } from 'node:test';
import { encode } from '../../src/codec/encode.js';
import type { Packet } from '../../src/codec/types.js';
import { fileURLToPath } from 'node:url';
import { startMoat, type RunningMoat } from '../kit/moat.js';
import { runningFromBuild } from '../kit/paths.js';
import { spawnTracked } from '../kit/process.js';
import { RawClient, validConnect } from './raw-client.js';

const FLOOD_MS = 3000;
/** Bystander round trips: the defect stalled them 200-400 ms at a time; a busy shared machine adds tens. */
const MAX_ROUND_TRIP_MS = 250;
const MAX_P99_MS = 100;
/** RSS growth allowed while flooding (the retained flood used to add ~350 MB) and after. */
const MAX_GROWTH_MB = 64;
const SETTLED_GROWTH_MB = 32;

function rssMb(pid: number): number {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(match?.[1] ?? 0) / 1024;
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

/** A client publishing QoS 0 to its own topic and timing each delivery, one at a time. */
class RoundTrips {
  readonly samples: number[] = [];
  readonly #client: RawClient;
  #running = true;
  readonly #done: Promise<void>;

  private constructor(client: RawClient, topic: string) {
    this.#client = client;
    this.#done = (async () => {
      let seq = 0;
      while (this.#running && !client.closed) {
        const before = client.packets.length;
        const sent = performance.now();
        client.send(encode({ type: 'publish', topic, payload: Buffer.from(String(seq++)), qos: 0, retain: false, dup: false }, 4));
        const arrived = await client.until(() => client.packets.slice(before).some((p) => p.type === 'publish'), 5000);
        if (!arrived) {
          this.samples.push(5000);
          break;
        }
        this.samples.push(performance.now() - sent);
        client.packets.length = 0;
        await sleep(5);
      }
    })();
  }

  static async start(broker: RunningMoat, id: string): Promise<RoundTrips> {
    const client = await RawClient.open({ host: broker.host, port: broker.port });
    client.send(validConnect(4, id));
    await client.waitFor('connack', 2000);
    const topic = `bystander/${id}`;
    client.send(encode({ type: 'subscribe', packetId: 1, subscriptions: [{ filter: topic, qos: 0, noLocal: false, retainAsPublished: false, retainHandling: 0 }] }, 4));
    await client.waitFor('suback', 2000);
    client.packets.length = 0;
    return new RoundTrips(client, topic);
  }

  /** Round trips recorded from now on. */
  mark(): number {
    return this.samples.length;
  }

  summary(from: number): { count: number; p50: number; p99: number; max: number } {
    const sorted = this.samples.slice(from).sort((a, b) => a - b);
    return { count: sorted.length, p50: percentile(sorted, 50), p99: percentile(sorted, 99), max: sorted.at(-1) ?? Number.NaN };
  }

  async stop(): Promise<void> {
    this.#running = false;
    await this.#done;
    this.#client.destroy();
  }
}

/** Runs test/faults/flooder.ts in its own process (its write loop must not slow our probe); resolves with the bytes it wrote. */
async function runFlooder(broker: RunningMoat, kind: string, ms: number): Promise<number> {
  const script = fileURLToPath(new URL(`./flooder.${runningFromBuild ? 'js' : 'ts'}`, import.meta.url));
  const args = runningFromBuild ? [script] : ['--import', 'tsx', script];
  const flooder = await spawnTracked(process.execPath, [...args, broker.host, String(broker.port), kind, String(ms)], { name: `flooder-${kind}` });
  const exit = await flooder.exited;
  assert.equal(exit.code, 0, `the flooder failed: ${flooder.logs.join('\n')}`);
  return (JSON.parse(flooder.stdout.at(-1) ?? '{}') as { written?: number }).written ?? 0;
}

/** Writes `chunk` as fast as the socket takes it until `ms` pass; resolves with the bytes written. */
async function flood(socket: Socket, chunk: () => Buffer, ms: number): Promise<number> {
  const until = Date.now() + ms;
  let written = 0;
  while (Date.now() < until && !socket.destroyed) {
    const bytes = chunk();
    written += bytes.length;
    if (!socket.write(bytes)) {
      await Promise.race([new Promise((resolve) => socket.once('drain', resolve)), sleep(until - Date.now())]);
    } else if (written % (1 << 20) < bytes.length) {
      await new Promise((resolve) => setImmediate(resolve)); // let the sampling timers run
    }
  }
  return written;
}

/** A fresh broker per test, so each one's RSS baseline is its own; with a round-trip probe running. */
async function withBroker(run: (broker: RunningMoat, probe: RoundTrips) => Promise<void>): Promise<void> {
  const broker = await startMoat();
  const probe = await RoundTrips.start(broker, 'probe');
  try {
    // A 256 KB retained message for the re-SUBSCRIBE flood.
    const setter = await RawClient.open({ host: broker.host, port: broker.port });
    setter.send(validConnect(4, 'retainer'));
    await setter.waitFor('connack', 2000);
    setter.send(encode({ type: 'publish', topic: 'big/retained', payload: Buffer.alloc(256 * 1024, 0x52), qos: 1, retain: true, dup: false, packetId: 1 }, 4));
    await setter.waitFor('puback', 2000);
    setter.destroy();
    await sleep(1000); // the probe warms up, the broker's JIT too
    await run(broker, probe);
  } finally {
    await probe.stop();
    await broker.stop();
  }
}

describe('overload: one never-reading client does not stall the others or grow memory without bound', () => {

  const floods: Array<{ name: string; kind: string }> = [
    { name: 'a PINGREQ flood', kind: 'pingreq' },
    { name: 'a QoS 1 PUBLISH flood', kind: 'publish' },
    { name: 'a re-SUBSCRIBE flood on a 256 KB retained message', kind: 'resubscribe' },
  ];

  for (const { name, kind } of floods) {
    test(`${name} from a client that never reads`, (t: TestContext) => withBroker(async (broker, probe) => {
      const baseline = rssMb(broker.pid);
      const quiet = probe.summary(Math.max(0, probe.mark() - 50));
      const from = probe.mark();
      let peak = baseline;
      const sampler = setInterval(() => (peak = Math.max(peak, rssMb(broker.pid))), 100);
      const written = await runFlooder(broker, kind, FLOOD_MS);
      clearInterval(sampler);
      peak = Math.max(peak, rssMb(broker.pid));
      const during = probe.summary(from);

      let settled = rssMb(broker.pid);
      for (let i = 0; i < 50 && settled > baseline + SETTLED_GROWTH_MB; i++) {
        await sleep(200);
        settled = rssMb(broker.pid);
      }
      t.diagnostic(
        `${name}: flooder wrote ${(written / 1e6).toFixed(1)} MB; bystander round trips before p50 ${quiet.p50.toFixed(2)} / p99 ${quiet.p99.toFixed(2)} ms, ` +
          `during (${during.count}) p50 ${during.p50.toFixed(2)} / p99 ${during.p99.toFixed(2)} / max ${during.max.toFixed(1)} ms; ` +
          `RSS ${baseline.toFixed(0)} MB → peak ${peak.toFixed(0)} MB → ${settled.toFixed(0)} MB after`,
      );
      assert.ok(during.count > 50, `the bystander completed only ${during.count} round trips during the flood`);
      assert.ok(during.p99 < MAX_P99_MS, `bystander round trips had a p99 of ${during.p99.toFixed(1)} ms during ${name}`);
      assert.ok(during.max < MAX_ROUND_TRIP_MS, `a bystander round trip took ${during.max.toFixed(1)} ms during ${name}`);
      assert.ok(peak - baseline < MAX_GROWTH_MB, `RSS grew ${(peak - baseline).toFixed(0)} MB during ${name}`);
      assert.ok(settled - baseline < SETTLED_GROWTH_MB, `RSS stayed ${(settled - baseline).toFixed(0)} MB above its baseline after ${name}`);
    }));
  }

  test('15 connections declaring a 256 MB first packet and streaming junk: read no further than the header', (t: TestContext) => withBroker(async (broker) => {
    const baseline = rssMb(broker.pid);
    const junk = Buffer.alloc(64 * 1024, 0x41);
    const sockets = Array.from({ length: 15 }, () => netConnect({ host: broker.host, port: broker.port }));
    const ended: number[] = [];
    const started = performance.now();
    for (const socket of sockets) {
      socket.on('error', () => {});
      socket.once('end', () => ended.push(performance.now() - started));
      socket.once('connect', () => {
        socket.write(Buffer.from([0x10, 0xff, 0xff, 0xff, 0x7f])); // CONNECT, remaining length 268,435,455
        void flood(socket, () => junk, 1500);
      });
    }
    let peak = baseline;
    const sampler = setInterval(() => (peak = Math.max(peak, rssMb(broker.pid))), 50);
    await sleep(1600);
    clearInterval(sampler);
    const accepted = sockets.map((s) => s.bytesWritten - s.writableLength);
    for (const socket of sockets) socket.destroy();
    t.diagnostic(`junk connections: ended by the broker after ${ended.map((ms) => ms.toFixed(0)).slice(0, 3).join(', ')} … ms; bytes the kernel took from each: up to ${(Math.max(...accepted) / 1e6).toFixed(1)} MB; RSS ${baseline.toFixed(0)} → peak ${peak.toFixed(0)} MB`);
    assert.equal(ended.length, 15, 'the broker ended every junk connection');
    assert.ok(Math.max(...ended) < 1000, 'at the fixed header, not after reading the body');
    // Reading on would let each sender push hundreds of MB; unread, only the kernel's buffers fill.
    assert.ok(Math.max(...accepted) < 32e6, `a junk sender got ${(Math.max(...accepted) / 1e6).toFixed(0)} MB accepted`);
    assert.ok(peak - baseline < 16, `RSS grew ${(peak - baseline).toFixed(0)} MB`);
  }));
});

describe('drops under a QoS 1 publisher that outruns its subscriber are counted in $SYS and logged once per interval', () => {
  let broker: RunningMoat;
  before(async () => {
    broker = await startMoat({ config: 'listener 0 127.0.0.1\nallow_anonymous true\nsys_interval 1\nmax_queued_messages 10\nmax_inflight_messages 1\n' });
  });
  after(async () => {
    await broker?.stop();
  });

  test('$SYS/broker/publish/messages/dropped and load/publish/dropped/1min move; one warning names the client', async () => {
    const watcher = await RawClient.open({ host: broker.host, port: broker.port });
    watcher.send(validConnect(4, 'sys-watcher'));
    await watcher.waitFor('connack', 2000);
    watcher.send(encode({ type: 'subscribe', packetId: 1, subscriptions: [{ filter: '$SYS/broker/#', qos: 0, noLocal: false, retainAsPublished: false, retainHandling: 0 }] }, 4));
    // The slow subscriber: QoS 1, never acknowledges, so its window (1) and queue (10) fill at once.
    const slow = await RawClient.open({ host: broker.host, port: broker.port });
    slow.send(validConnect(4, 'slow-subscriber'));
    await slow.waitFor('connack', 2000);
    slow.send(encode({ type: 'subscribe', packetId: 1, subscriptions: [{ filter: 'fast/#', qos: 1, noLocal: false, retainAsPublished: false, retainHandling: 0 }] }, 4));
    await slow.waitFor('suback', 2000);
    const publisher = await RawClient.open({ host: broker.host, port: broker.port });
    publisher.send(validConnect(4, 'fast-publisher'));
    await publisher.waitFor('connack', 2000);
    const burst = Buffer.concat(Array.from({ length: 100 }, (_, i) => encode({ type: 'publish', topic: 'fast/x', payload: Buffer.from(String(i)), qos: 1, retain: false, dup: false, packetId: i + 1 }, 4)));
    publisher.send(burst);
    assert.ok(await publisher.until(() => publisher.packets.filter((p) => p.type === 'puback').length === 100, 3000), 'all 100 acknowledged');

    const latest = (topic: string): string | undefined => {
      const found = watcher.packets.filter((p): p is Extract<Packet, { type: 'publish' }> => p.type === 'publish' && p.topic === topic).at(-1);
      return found?.payload.toString();
    };
    assert.ok(await watcher.until(() => latest('$SYS/broker/publish/messages/dropped') === '89', 3000), `dropped = ${latest('$SYS/broker/publish/messages/dropped')}`);
    assert.equal(latest('$SYS/broker/publish/messages/dropped/queue_full'), '89');
    assert.ok(await watcher.until(() => Number(latest('$SYS/broker/load/publish/dropped/1min') ?? 0) > 0, 3000), 'the 1-minute load moved');
    const warnings = broker.logs.filter((line) => line.includes('"messages_dropped"'));
    assert.equal(warnings.length, 1, warnings.join('\n'));
    assert.match(warnings[0] ?? '', /"clientId":"slow-subscriber"/);
    assert.match(warnings[0] ?? '', /"reason":"queue_full"/);
    for (const client of [watcher, slow, publisher]) client.destroy();
  });
});
