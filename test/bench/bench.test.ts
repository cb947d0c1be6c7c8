// Smoke test of `moat bench`: every scenario that needs no TLS runs briefly against an in-process
// moat through the programmatic API, and the CLI prints the JSON shape. Tiny numbers: < 10 s total.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, test } from 'node:test';
import { Broker } from '../../src/broker/broker.js';
import { runBench, type BenchResult } from '../../src/bench/index.js';
import { FrameScanner } from '../../src/bench/frames.js';
import { listenTcp, type Listening } from '../../src/transport/tcp.js';
import { moatCommand } from '../kit/moat.js';

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
