// Smoke test of `moat bench`: every scenario that needs no TLS runs briefly against an in-process
// moat through the programmatic API (abuse against moat and Mosquitto processes, for their RSS),
// and the CLI prints the JSON shape. Tiny numbers: about 30 s in all.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createServer, type AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { Broker } from '../../src/broker/broker.js';
import { BenchOptionError, FLOODS, resolveBenchOptions, runBench, type BenchResult } from '../../src/bench/index.js';
import { FrameScanner } from '../../src/bench/frames.js';
import { LeanClient } from '../../src/bench/lean-client.js';
import { listenTcp, type Listening } from '../../src/transport/tcp.js';
import type { RunningBroker } from '../kit/broker.js';
import { moatCommand, startMoat } from '../kit/moat.js';
import { startMosquitto } from '../kit/mosquitto.js';

let broker: Broker;
let listening: Listening;
let url: string;

before(async () => {
  broker = new Broker({ allowAnonymous: true });
  listening = await listenTcp(broker, { host: '127.0.0.1', port: 0, policy: { allowAnonymous: true } });
  url = `mqtt://127.0.0.1:${listening.port}`;
});

after(async () => {
  broker.close();
  await listening.close();
});

const short = { duration: 0.5, warmup: 0.1 };
const value = (r: BenchResult, name: string): number => r.values[name]?.value ?? Number.NaN;

test('FrameScanner finds every frame however the stream is chunked, including split headers', () => {
  const frames = [Buffer.from([0x30, 0x03, 0, 1, 0x61]), Buffer.concat([Buffer.from([0x30, 0x80, 0x01, 0, 1, 0x61]), Buffer.alloc(125, 7)]), Buffer.from([0x40, 2, 0, 9])];
  const stream = Buffer.concat([...frames, ...frames]);
  for (const size of [1, 2, 3, 7, 64, stream.length]) {
    const seen: number[] = [];
    const scanner = new FrameScanner((buf, start, body, end) => seen.push(buf[start] as number, end - body));
    for (let i = 0; i < stream.length; i += size) scanner.push(stream.subarray(i, i + size));
    assert.deepEqual(seen, [0x30, 3, 0x30, 128, 0x40, 2, 0x30, 3, 0x30, 128, 0x40, 2], `chunk size ${size}`);
  }
});

test('lean client: a DUP resend of a delivered packet id is PUBACKed but not counted again; a reused id without DUP is', async () => {
  // A scripted broker: CONNACK, then PUBLISH QoS 1 id 7, its DUP resend, and a new message on id 7.
  const publish = (header: number): Buffer => Buffer.from([header, 6, 0, 1, 0x74, 0, 7, 0x78]);
  const acks: Buffer[] = [];
  const server = createServer((socket) => {
    let connected = false;
    socket.on('data', (chunk) => {
      if (connected) acks.push(chunk);
      else socket.write(Buffer.concat([Buffer.from([0x20, 2, 0, 0]), publish(0x32), publish(0x3a), publish(0x32)]));
      connected = true;
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const client = await LeanClient.connect({ target: { host: '127.0.0.1', port, tls: false }, clientId: 'dup', protocol: 4 });
  const deadline = Date.now() + 5000;
  while (Buffer.concat(acks).length < 12 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  client.destroy();
  server.close();
  assert.equal(client.received, 2);
  assert.equal(client.duplicates, 1);
  assert.deepEqual([...Buffer.concat(acks)], [0x40, 2, 0, 7, 0x40, 2, 0, 7, 0x40, 2, 0, 7]);
});

test('fanin delivers from 2 publishers to 1 wildcard subscriber without loss', async () => {
  const r = await runBench('fanin', { url, publishers: 2, ...short });
  assert.ok(value(r, 'received/s') > 0);
  assert.equal(r.details['lost'], 0);
  assert.ok(r.generator.corePercent >= 0);
});

test('fanout counts deliveries over every subscriber', async () => {
  const r = await runBench('fanout', { url, subscribers: 5, protocol: 5, ...short });
  assert.ok(value(r, 'deliveries/s') > 0);
  assert.equal(r.details['min per subscriber'], r.details['max per subscriber']);
});

test('qos1 end to end loses nothing and every PUBLISH is acked', async () => {
  const r = await runBench('qos1', { url, publishers: 2, window: 16, ...short });
  assert.ok(value(r, 'end-to-end/s') > 0);
  assert.equal(r.details['lost'], 0);
  assert.equal(r.details['acked'], r.details['sent']);
});

test('--unpaced picks the unpaced variant; qos1-unpaced defaults to 8 publishers × window 16 at QoS 1', () => {
  const o = resolveBenchOptions('qos1', { unpaced: true });
  assert.equal(o.scenario, 'qos1-unpaced');
  assert.deepEqual([o.unpaced, o.publishers, o.window, o.subscribers, o.size, o.qos], [true, 8, 16, 1, 64, 1]);
  assert.equal(resolveBenchOptions('fanin-unpaced').unpaced, true);
  assert.equal(resolveBenchOptions('fanin').unpaced, false);
  assert.throws(() => resolveBenchOptions('latency', { unpaced: true }), BenchOptionError);
  assert.throws(() => resolveBenchOptions('abuse', { flood: 'nope' as 'all' }), BenchOptionError);
});

/** Loss as the scenario defines it: accepted (QoS 1 acked, QoS 0 sent) × subscribers − delivered. */
function checkLoss(r: BenchResult, subscribers: number): void {
  const accepted = Number(r.details[r.settings['qos'] === 1 ? 'acked' : 'sent']);
  const received = Number(r.details['received']);
  assert.ok(accepted > 0 && received > 0, `${accepted} accepted, ${received} received`);
  assert.equal(value(r, 'loss'), Math.max(0, accepted * subscribers - received));
  assert.ok(Math.abs(value(r, 'loss %') - (100 * value(r, 'loss')) / (accepted * subscribers)) < 1e-9);
  assert.ok(value(r, 'delivered/s') > 0 && value(r, 'published/s') > 0);
  assert.equal(r.settings['pacing'], 'none');
  assert.equal(typeof r.details['settled'], 'boolean');
}

test('fanin-unpaced: loss is what was sent and never delivered', async () => {
  const r = await runBench('fanin-unpaced', { url, publishers: 2, ...short });
  checkLoss(r, 1);
});

test('fanout-unpaced: loss counts every subscriber a sent message should have reached', async () => {
  const r = await runBench('fanout-unpaced', { url, subscribers: 3, protocol: 5, ...short });
  checkLoss(r, 3);
});

test('qos1-unpaced: 8 × 16 in flight to bench/#; loss is acked − delivered; duplicates are not deliveries', async () => {
  const r = await runBench('qos1-unpaced', { url, ...short });
  assert.deepEqual([r.settings['publishers'], r.settings['window'], r.settings['filter']], [8, 16, 'bench/#']);
  assert.ok(value(r, 'publisher acks/s') > 0);
  assert.equal(r.details['duplicates'], 0);
  checkLoss(r, 1);
});

test('latency percentiles are ordered and the rate is kept', async () => {
  const r = await runBench('latency', { url, rate: 1000, ...short });
  const [p50, p99, p999, max] = ['p50', 'p99', 'p99.9', 'max'].map((k) => value(r, k)) as [number, number, number, number];
  assert.ok(p50 > 0 && p50 <= p99 && p99 <= p999 && p999 <= max, `${p50} ${p99} ${p999} ${max}`);
  assert.ok(Number(r.details['recorded']) > 300);
});

test('retained delivers exactly the stored count to a wildcard subscriber', async () => {
  const r = await runBench('retained', { url, retained: 1000 });
  assert.equal(r.details['received'], 1000);
  assert.equal(r.details['complete'], true);
});

test('connections opens and holds the requested count', async () => {
  const r = await runBench('connections', { url, connections: 200, concurrency: 50, hold: 0.1, pid: process.pid });
  assert.equal(r.details['connected'], 200);
  assert.ok(value(r, 'connects/s') > 0);
});

// Small retained message and RSS limit: a broker that buffers every resubscribe reply grows by 64 MiB at most.
const abuseOptions = { duration: 0.5, warmup: 0.3, hold: 0.2, retainedSize: 16 * 1024, rssLimit: 64 };

for (const [name, start] of [
  ['moat', () => startMoat()],
  ['mosquitto', () => startMosquitto()],
] as Array<[string, () => Promise<RunningBroker>]>) {
  test(`abuse against ${name}: each flood reports the bystander's latency and loss and the broker's RSS`, async () => {
    const b = await start();
    let r: BenchResult;
    try {
      r = await runBench('abuse', { url: b.url, pid: b.pid, ...abuseOptions });
    } finally {
      await b.stop();
    }
    for (const kind of FLOODS) {
      const [p50, p99, max] = ['p50', 'p99', 'max'].map((k) => value(r, `${kind} ${k}`)) as [number, number, number];
      assert.ok(p50 > 0 && p50 <= p99 && p99 <= max, `${kind}: ${p50} ${p99} ${max}`);
      assert.ok(Number(r.details[`${kind} latencies recorded`]) > 0, kind);
      assert.equal(value(r, `${kind} lost`), Number(r.details[`${kind} bystander sent`]) - Number(r.details[`${kind} bystander received`]));
      assert.ok(Number(r.details[`${kind} flood packets written`]) > 0, kind);
      assert.ok(value(r, `${kind} RSS peak`) > 0 && value(r, `${kind} RSS after`) > 0, kind);
    }
    assert.equal(value(r, 'bystander p99'), Math.max(...FLOODS.map((k) => value(r, `${k} p99`))));
  });
}

test('`moat bench qos1 --unpaced` runs qos1-unpaced', async () => {
  const { command, args } = moatCommand(['bench', 'qos1', '--unpaced', '--publishers', '2', '--json', '--duration', '0.3', '--warmup', '0.1', '--url', url]);
  const stdout = await new Promise<string>((resolve, reject) => {
    execFile(command, args, { timeout: 20_000 }, (error, out, err) => (error ? reject(new Error(`${error.message}\n${err}`)) : resolve(out)));
  });
  const r = JSON.parse(stdout) as BenchResult;
  assert.equal(r.scenario, 'qos1-unpaced');
  assert.ok(value(r, 'delivered/s') > 0);
  assert.equal(typeof r.values['loss']?.value, 'number');
});

test('`moat bench fanin --json` prints one result object', async () => {
  const { command, args } = moatCommand(['bench', 'fanin', '--json', '--duration', '0.5', '--warmup', '0.1', '--url', url]);
  const stdout = await new Promise<string>((resolve, reject) => {
    execFile(command, args, { timeout: 20_000 }, (error, out, err) => (error ? reject(new Error(`${error.message}\n${err}`)) : resolve(out)));
  });
  const r = JSON.parse(stdout) as BenchResult;
  assert.equal(r.scenario, 'fanin');
  assert.equal(r.protocol, 4);
  assert.ok(value(r, 'received/s') > 0);
  assert.equal(typeof r.generator.corePercent, 'number');
  assert.ok(Array.isArray(r.warnings));
});
