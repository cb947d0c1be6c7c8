// RedisBus passes the Bus contract as nodes sharing one real redis-server (each test on a fresh
// prefix), and survives what a cluster meets: a node dying without leaving (exactly one survivor
// gets nodeLost with its clients, everyone drops its interest) and Redis itself killed and
// restarted on the same port (connected goes false then true, publish does not throw meanwhile,
// interest is announced again and messages flow both ways after).
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import type { BusMessage } from '../../src/cluster/bus.js';
import { RedisBus, type RedisBusOptions } from '../../src/cluster/redis-bus.js';
import type { StoredMessage } from '../../src/store/store.js';
import { MoatError } from '../../src/codec/errors.js';
import { connectRedis, parseRedisUrl } from '../../src/cluster/redis-connection.js';
import { freePort } from '../kit/ports.js';
import { startRedis, type RunningRedis } from '../kit/redis.js';
import { until } from '../kit/wait.js';
import { busContract } from './contract.js';

let redis: RunningRedis | undefined;
const server = async (): Promise<RunningRedis> => (redis ??= await startRedis());
after(async () => {
  await redis?.stop();
});

let prefixes = 0;
const freshPrefix = (): string => `t${process.pid}-${++prefixes}:`;

async function openNodes(count: number, options: RedisBusOptions = {}): Promise<RedisBus[]> {
  const { url } = await server();
  const prefix = freshPrefix();
  const buses: RedisBus[] = [];
  for (let i = 0; i < count; i++) buses.push(await RedisBus.open(url, { prefix, ...options }));
  await settleAll(buses);
  return buses;
}

/** Twice over every node: the first round flushes each node's commands, the second sees their effects arrive. */
async function settleAll(buses: readonly RedisBus[]): Promise<void> {
  for (let round = 0; round < 2; round++) await Promise.all(buses.map((bus) => bus.settled()));
}

let contractNodes: RedisBus[] = [];
busContract(
  'redis',
  async (count) => (contractNodes = await openNodes(count)),
  () => settleAll(contractNodes),
);

function message(topic: string, payload = 'x'): StoredMessage {
  return { topic, payload: Buffer.from(payload), qos: 1, retain: false, properties: { userProperties: [['k', 'v']], correlationData: Buffer.from('c') }, expiresAt: 0, origin: 'pub' };
}

test('redis: a message crosses with its data fields intact (payload and properties as Buffers)', async () => {
  const [a, b] = (await openNodes(2)) as [RedisBus, RedisBus];
  const seen: BusMessage[] = [];
  b.attach({ message: (m) => seen.push(m), claim: () => undefined });
  b.addInterest('d/#');
  await settleAll([a, b]);
  a.publish({ ...message('d/1', 'payload'), wire: Buffer.from('not sent') } as StoredMessage);
  await until(() => seen.length === 1, 3000, 'the message on b');
  const got = seen[0]!.message;
  assert.ok(Buffer.isBuffer(got.payload));
  assert.equal(got.payload.toString(), 'payload');
  assert.deepEqual(got.properties, { userProperties: [['k', 'v']], correlationData: Buffer.from('c') });
  assert.equal('wire' in got, false);
  await Promise.all([a.close(), b.close()]);
});

test('redis: a node that dies without leaving is found by exactly one survivor, with the clients it held; its interest is dropped', async () => {
  const buses = (await openNodes(3, { heartbeatMs: 100, deadAfterMs: 500 })) as [RedisBus, RedisBus, RedisBus];
  const [dying, b, c] = buses;
  const lost: Array<{ by: string; node: string; clientIds: string[] }> = [];
  for (const bus of [b, c]) bus.attach({ message: () => undefined, claim: () => undefined, nodeLost: (node, clientIds) => lost.push({ by: bus.nodeId, node, clientIds }) });
  dying.addInterest('gone/#');
  dying.claimSession('sensor-1');
  dying.claimSession('sensor-2');
  dying.claimSession('left-early');
  dying.releaseSession('left-early');
  b.claimSession('roamer');
  await settleAll(buses);
  dying.claimSession('roamer'); // taken from b: now dying's
  await settleAll(buses);
  assert.equal(b.othersInterested('gone/1'), true);
  dying.crash();
  await until(() => lost.length > 0 && !b.othersInterested('gone/1') && !c.othersInterested('gone/1'), 5000, 'the dead node found and dropped');
  await new Promise((resolve) => setTimeout(resolve, 600)); // more heartbeats: nobody finds it twice
  assert.equal(lost.length, 1);
  assert.equal(lost[0]?.node, dying.nodeId);
  assert.deepEqual(lost[0]?.clientIds.sort(), ['roamer', 'sensor-1', 'sensor-2']);
  await Promise.all([b.close(), c.close()]);
});

test('redis: Redis killed and restarted on the same port: connected false then true, publish meanwhile does not throw, interest announced again, messages flow both ways', async () => {
  const own = await startRedis();
  let current: RunningRedis = own;
  try {
    const prefix = freshPrefix();
    const a = await RedisBus.open(own.url, { prefix, heartbeatMs: 100 });
    const b = await RedisBus.open(own.url, { prefix, heartbeatMs: 100 });
    const seen = { a: [] as string[], b: [] as string[] };
    const status = { a: [] as boolean[], b: [] as boolean[] };
    a.attach({ message: (m) => seen.a.push(m.message.topic), claim: () => undefined });
    b.attach({ message: (m) => seen.b.push(m.message.topic), claim: () => undefined });
    a.onStatus((up) => status.a.push(up));
    b.onStatus((up) => status.b.push(up));
    a.addInterest('to/a');
    b.addInterest('to/b');
    await settleAll([a, b]);
    a.publish(message('to/b'));
    await until(() => seen.b.length === 1, 3000, 'b gets the first message');

    await own.kill();
    await until(() => !a.connected && !b.connected, 5000, 'both see Redis gone');
    a.publish(message('to/b')); // skipped and counted, not thrown
    assert.equal(a.unsent, 1);
    b.addInterest('to/b/later'); // made while away: written on reconnect

    current = await startRedis({ port: own.port });
    await until(() => a.connected && b.connected, 10_000, 'both reconnected');
    await until(() => a.othersInterested('to/b/later') && b.othersInterested('to/a'), 5000, 'interest announced again');
    await settleAll([a, b]);
    a.publish(message('to/b/later'));
    b.publish(message('to/a'));
    await until(() => seen.b.includes('to/b/later') && seen.a.includes('to/a'), 3000, 'messages both ways after recovery');
    assert.deepEqual(status.a, [false, true]);
    assert.deepEqual(status.b, [false, true]);
    await Promise.all([a.close(), b.close()]);
  } finally {
    await current.stop();
  }
});

test('redis: open() refuses in words when Redis cannot be reached (MOAT_ERR_BUS_CONNECT)', async () => {
  const port = await freePort('127.0.0.1');
  await assert.rejects(RedisBus.open(`redis://127.0.0.1:${port}`, { connectTimeoutMs: 300 }), (error: unknown) => error instanceof MoatError && error.code === 'MOAT_ERR_BUS_CONNECT' && error.message.includes(`127.0.0.1:${port}`));
});

test('redis: a claim moves the client id between the nodes\' client sets, a release removes it, a clean close hands what it held to a survivor (or to the next node to start); holding nothing, it leaves no key', async () => {
  const { url } = await server();
  const prefix = freshPrefix();
  const buses = [await RedisBus.open(url, { prefix }), await RedisBus.open(url, { prefix })] as const;
  const [a, b] = buses;
  const look = connectRedis(parseRedisUrl(url));
  const clientsOf = async (bus: RedisBus): Promise<string[]> => (await look.smembers(`${prefix}{bus}clients:${bus.nodeId}`)).sort();
  try {
    await settleAll(buses);
    a.claimSession('x');
    a.claimSession('y');
    await settleAll(buses);
    assert.deepEqual([await clientsOf(a), await clientsOf(b)], [['x', 'y'], []]);
    b.claimSession('x');
    a.releaseSession('y');
    await settleAll(buses);
    assert.deepEqual([await clientsOf(a), await clientsOf(b)], [[], ['x']]);
    a.addInterest('k/#');
    await settleAll(buses);
    // A node stopped cleanly hands over what it held: the survivor reaps it at its next heartbeat.
    const lost: Array<[string, string[]]> = [];
    b.attach({ message: () => undefined, claim: () => undefined, nodeLost: (node, ids) => void lost.push([node, [...ids]]) });
    a.claimSession('z');
    await settleAll(buses);
    await a.close();
    await until(() => lost.length > 0, 5000, 'b told that a left holding z');
    assert.deepEqual(lost, [[a.nodeId, ['z']]]);
    assert.deepEqual((await look.keys(`${prefix}*`)).filter((k) => k.includes(a.nodeId)), [], 'a reaped: none of its keys left');
    // The last node holding sessions leaves them for the next node to start, which adopts them.
    await b.close();
    assert.deepEqual(await clientsOf(b), ['x']);
    const c = await RedisBus.open(url, { prefix });
    const adopted: Array<[string, string[]]> = [];
    c.attach({ message: () => undefined, claim: () => undefined, nodeLost: (node, ids) => void adopted.push([node, [...ids]]) });
    await until(() => adopted.length > 0, 5000, 'c told that b left holding x');
    assert.deepEqual(adopted, [[b.nodeId, ['x']]]);
    await c.close();
    assert.deepEqual(await look.keys(`${prefix}*`), [], 'a node holding nothing leaves no trace');
  } finally {
    look.disconnect();
  }
});

test('redis: a node alone sends nothing (publish returns undefined: all its groups); a node joining later knows the interest held before it came', async () => {
  const { url } = await server();
  const prefix = freshPrefix();
  const a = await RedisBus.open(url, { prefix });
  a.addInterest('early/#');
  a.addInterest('$share/g/early/#');
  assert.equal(a.publish(message('early/1')), undefined);
  await a.settled();
  const b = await RedisBus.open(url, { prefix });
  assert.equal(b.othersInterested('early/1'), true, 'loaded by open()');
  assert.deepEqual(b.publish(message('early/2')), [], 'the group is only on a');
  await Promise.all([a.close(), b.close()]);
});
