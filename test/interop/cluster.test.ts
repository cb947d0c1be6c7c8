// Three `moat broker` processes with `cluster_redis` on one redis-server act as one broker (issue
// 13): what is published on one node reaches subscribers on the others at every QoS, retained
// messages are shared, a $share group spread over the three gets each message once in all, a
// persistent session follows its client to another node with what was queued for it, a client id
// connecting on another node takes the first connection over (0x8E); a node killed with SIGKILL
// has its clients' wills published once and its persistent sessions adopted by a survivor; and
// with Redis killed and restarted each node goes on serving its own clients, reports not ready,
// and joins up again. Subscriptions reach the other nodes asynchronously: each step first sends
// probes until every subscriber has one, then the messages it counts.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Redis } from 'ioredis';
import type { IClientOptions, IClientPublishOptions } from 'mqtt';
import { connect, type FailoverEvent, type ReceivedMessage } from '../../src/client/index.js';
import { connectMqttJs, type ConnectedClient } from '../kit/mqttjs.js';
import { moatCommand, moatListener, startMoat, type RunningMoat } from '../kit/moat.js';
import { freePort } from '../kit/ports.js';
import { spawnTracked, type TrackedProcess } from '../kit/process.js';
import { startRedis, type RunningRedis } from '../kit/redis.js';
import { until } from '../kit/wait.js';

/** RedisBus's default: a node silent this long is lost. */
const DEAD_AFTER_MS = 3000;

let redis: RunningRedis;
let a: RunningMoat;
let b: RunningMoat;
let c: RunningMoat;
let admin: string;
const clients: ConnectedClient[] = [];
/** `moat broker --cluster` at a port where no Redis listens: it waits its connect timeout (10 s) and refuses; started first, checked last. */
let unreachable: TrackedProcess;

const nodeConfig = (url: string, extra = ''): string => `listener 0 127.0.0.1\nallow_anonymous true\nsys_interval 1\ncluster_redis ${url}\n${extra}`;

async function client(node: RunningMoat, options: IClientOptions = {}): Promise<ConnectedClient> {
  const connected = await connectMqttJs(node, options);
  clients.push(connected);
  return connected;
}

function subscribe(c: ConnectedClient, filter: string, qos: 0 | 1 | 2 = 1): Promise<void> {
  return new Promise((resolve, reject) => c.client.subscribe(filter, { qos }, (error) => (error ? reject(error) : resolve())));
}

function publish(c: ConnectedClient, topic: string, payload: string, options: IClientPublishOptions = {}): Promise<void> {
  return new Promise((resolve, reject) => c.client.publish(topic, payload, { qos: 1, ...options }, (error) => (error ? reject(error) : resolve())));
}

const counted = (c: ConnectedClient, prefix: string): string[] => c.messages.filter((m) => m.topic.startsWith(prefix)).map((m) => m.payload);

/** Publishes `topic` at QoS 0 every 50 ms until `ready()`: the subscriptions have reached the publisher's node. */
async function probe(publisher: ConnectedClient, topic: string, ready: () => boolean, what: string): Promise<void> {
  const end = Date.now() + 10_000;
  while (!ready()) {
    if (Date.now() > end) throw new Error(`probes on ${topic} never reached ${what}`);
    await publish(publisher, topic, 'probe', { qos: 0 });
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** A v5 QoS 1 PUBLISH, sent again while the PUBACK says 0x10 No matching subscribers (the subscriber's node is not known yet). */
async function publishUntilMatched(publisher: ConnectedClient, topic: string, payload: string): Promise<void> {
  let reason = -1;
  const onPacket = (packet: { cmd: string; reasonCode?: number }): void => {
    if (packet.cmd === 'puback') reason = packet.reasonCode ?? 0;
  };
  publisher.client.on('packetreceive', onPacket);
  try {
    for (let attempt = 0; attempt < 100; attempt++) {
      reason = -1;
      await publish(publisher, topic, payload);
      if (reason === 0) return;
      assert.equal(reason, 0x10, `PUBACK of ${topic}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    throw new Error(`${topic}: nobody subscribed to it in the cluster after 100 tries`);
  } finally {
    publisher.client.off('packetreceive', onPacket);
  }
}

async function metric(name: string): Promise<number> {
  const text = await (await fetch(`${admin}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return Number(line?.split(' ')[1]);
}

/** The node id `node` logged in its cluster_joined line. */
function nodeId(node: RunningMoat): string {
  const line = node.logs.find((l) => l.includes('"cluster_joined"'));
  return String((JSON.parse(line ?? '{}') as Record<string, unknown>)['node']);
}

async function readyz(): Promise<number> {
  return (await fetch(`${admin}/readyz`)).status;
}

/** Resolves with `check()`'s value once it is true; polls an async check every 100 ms. */
async function eventually(check: () => Promise<boolean>, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

before(async () => {
  const [noRedis, mqtt] = [await freePort('127.0.0.1'), await freePort('127.0.0.1')];
  const { command, args } = moatCommand(['broker', '-p', String(mqtt), '--cluster', `redis://127.0.0.1:${noRedis}`]);
  unreachable = await spawnTracked(command, args, { name: 'moat' });
  redis = await startRedis();
  [a, b, c] = await Promise.all([startMoat({ config: nodeConfig(redis.url, 'admin_listener 0\n') }), startMoat({ config: nodeConfig(redis.url) }), startMoat({ config: nodeConfig(redis.url) })]);
  const listener = await moatListener(a, 'admin-http');
  admin = `http://${listener.host}:${listener.port}`;
});

after(async () => {
  await unreachable?.kill();
  await Promise.all(clients.map((c) => c.drop()));
  await Promise.all([a, b, c].map((node) => node?.stop()));
  await redis?.stop();
});

test('each node logs cluster_joined with its node id and the Redis URL', () => {
  for (const node of [a, b, c]) {
    const line = node.logs.find((l) => l.includes('"cluster_joined"'));
    assert.ok(line !== undefined, 'a cluster_joined line');
    const record = JSON.parse(line) as Record<string, unknown>;
    assert.equal(record['redis'], redis.url);
    assert.match(nodeId(node), /^node-/);
    assert.equal(typeof record['nodes'], 'number');
  }
});

test('published on B, received on A and C at QoS 0, 1 and 2', async () => {
  const [onA, onC, publisher] = await Promise.all([client(a), client(c), client(b)]);
  await Promise.all([subscribe(onA, 'fan/#', 2), subscribe(onC, 'fan/#', 2)]);
  await probe(publisher, 'fan/probe', () => counted(onA, 'fan/probe').length > 0 && counted(onC, 'fan/probe').length > 0, 'A and C');
  for (const qos of [0, 1, 2] as const) await publish(publisher, `fan/q${qos}`, `m${qos}`, { qos });
  for (const subscriber of [onA, onC]) {
    await subscriber.waitForMessages((m) => m.filter((x) => x.topic.startsWith('fan/q')).length >= 3);
    const got = subscriber.messages.filter((m) => m.topic.startsWith('fan/q'));
    assert.deepEqual(got.map((m) => [m.topic, m.payload, m.packet.qos]), [['fan/q0', 'm0', 0], ['fan/q1', 'm1', 1], ['fan/q2', 'm2', 2]]);
  }
});

test('a retained message set on A is seen by a new subscriber on C', async () => {
  const publisher = await client(a);
  await publish(publisher, 'kept/topic', 'retained on A', { retain: true });
  let seen: string | undefined;
  // The store of C learns it on Redis's channel; a subscriber early enough may come before that.
  await eventually(async () => {
    const late = await client(c);
    await subscribe(late, 'kept/#');
    await late.waitForMessages(1, 300).catch(() => undefined);
    seen = late.messages[0]?.payload;
    await late.end();
    return seen !== undefined;
  }, 5000, 'the retained message on C');
  assert.equal(seen, 'retained on A');
});

test('a $share group with a member on each node gets each of 30 messages once in all', async () => {
  const members = await Promise.all([a, b, c].map((node) => client(node)));
  await Promise.all(members.map((m) => subscribe(m, '$share/g/work/#')));
  const publisher = await client(b);
  // Round robin over the nodes that hold the group: once each member had a probe, B knows all three.
  await probe(publisher, 'work/probe', () => members.every((m) => counted(m, 'work/probe').length > 0), 'every member');
  const sent = Array.from({ length: 30 }, (_, i) => `job-${i}`);
  for (const payload of sent) await publish(publisher, 'work/job', payload);
  await until(() => members.flatMap((m) => counted(m, 'work/job')).length >= 30, 5000, '30 jobs');
  await new Promise((resolve) => setTimeout(resolve, 300)); // duplicates, if any, would come now
  const got = members.flatMap((m) => counted(m, 'work/job'));
  assert.deepEqual([...got].sort(), [...sent].sort());
  for (const member of members) assert.ok(counted(member, 'work/job').length > 0, 'every node takes turns');
});

test('a persistent session moves from A to B with the 10 messages queued for it', async () => {
  const options: IClientOptions = { clientId: 'roamer', clean: false, properties: { sessionExpiryInterval: 3600 } };
  const first = await client(a, options);
  await subscribe(first, 'move/#');
  const publisher = await client(b);
  await probe(publisher, 'move/probe', () => counted(first, 'move/probe').length > 0, 'the roamer on A');
  await first.end();
  const sent = Array.from({ length: 10 }, (_, i) => `queued-${i}`);
  for (const payload of sent) await publish(publisher, 'move/q', payload);
  // Queued on A (and in Redis) before the client goes to B: a message still on its way to A when B
  // loads the session is the window docs/ARCHITECTURE.md describes.
  await eventually(async () => (await metric('moat_queued_messages')) >= 10, 5000, '10 messages queued on A');
  const second = await client(b, options);
  assert.equal(second.connack.sessionPresent, true);
  await second.waitForMessages((m) => m.filter((x) => x.topic === 'move/q').length >= 10);
  assert.deepEqual(counted(second, 'move/q'), sent);
  // A let its copy go: it queues nothing more for the roamer.
  await eventually(async () => (await metric('moat_queued_messages')) === 0, 5000, 'A to drop its copy of the session');
  await publish(publisher, 'move/q', 'after the move');
  await second.waitForMessages((m) => m.some((x) => x.payload === 'after the move'));
  assert.equal(await metric('moat_queued_messages'), 0);
  await second.end();
});

test('a client id connecting on C takes the connection on A over: DISCONNECT 0x8E', async () => {
  const first = await client(a, { clientId: 'twin' });
  const disconnect = new Promise<number | undefined>((resolve) => first.client.once('disconnect', (packet) => resolve(packet.reasonCode)));
  // A's claim is in Redis (the client ids A holds) before C's, or C's claim could come first.
  const redisClient = new Redis(redis.url);
  try {
    await eventually(async () => (await redisClient.sismember(`moat:{bus}clients:${nodeId(a)}`, 'twin')) === 1, 5000, "twin in A's client set");
  } finally {
    redisClient.disconnect();
  }
  await client(c, { clientId: 'twin' });
  assert.equal(await disconnect, 0x8e);
});

test('SIGKILL of B: its client will is published once, its persistent subscribers (connected and offline) get what was published meanwhile', async () => {
  const watcher = await client(a);
  await subscribe(watcher, 'wills/#');
  await subscribe(watcher, '$SYS/broker/cluster/nodes', 0);
  const durable: IClientOptions = { clientId: 'dur-b', clean: false, properties: { sessionExpiryInterval: 3600 } };
  const onB = await client(b, durable);
  await subscribe(onB, 'dur/#');
  await client(b, { clientId: 'will-b', will: { topic: 'wills/b', payload: Buffer.from('b is gone'), qos: 1, retain: false } });
  const [probeA, probeC] = await Promise.all([client(a), client(c)]);
  // The survivor told of B's loss is A or C: both know the watcher's subscription, A knows dur-b's.
  await probe(probeC, 'wills/probe', () => counted(watcher, 'wills/probe').length > 0, 'the watcher from C');
  await probe(probeA, 'dur/probe', () => counted(onB, 'dur/probe').length > 0, 'dur-b from A');
  // Offline on B when it dies: B holds the session (it queues for it), so it is adopted too.
  const offline: IClientOptions = { clientId: 'off-b', clean: false, properties: { sessionExpiryInterval: 3600 } };
  const offB = await client(b, offline);
  await subscribe(offB, 'dur/#');
  await probe(probeA, 'dur/probe2', () => counted(offB, 'dur/probe2').length > 0, 'off-b from A');
  await offB.end();
  const nodesNow = (): string | undefined => watcher.messages.filter((m) => m.topic === '$SYS/broker/cluster/nodes').at(-1)?.payload;
  await until(() => nodesNow() === '3', 5000, '$SYS/broker/cluster/nodes 3 on A');

  await b.process.kill();
  const lostLine = (): string | undefined => [...a.logs, ...c.logs].find((l) => l.includes('"cluster_node_lost"'));
  await until(() => lostLine() !== undefined, DEAD_AFTER_MS + 5000, 'a cluster_node_lost line on A or C');
  const lost = JSON.parse(lostLine() as string) as Record<string, unknown>;
  assert.equal(lost['wills'], 1);
  assert.equal(lost['adopted'], 3, 'dur-b, off-b, and the roamer of the session-move test, left offline on B');
  await until(() => nodesNow() === '2', 5000, '$SYS/broker/cluster/nodes 2 on A');
  const sent = Array.from({ length: 10 }, (_, i) => `while-away-${i}`);
  for (const payload of sent) await publishUntilMatched(probeA, 'dur/x', payload);

  await watcher.waitForMessages((m) => m.some((x) => x.topic === 'wills/b'), DEAD_AFTER_MS + 5000);
  await new Promise((resolve) => setTimeout(resolve, DEAD_AFTER_MS + 1500)); // a second survivor would have published by now
  assert.deepEqual(counted(watcher, 'wills/b'), ['b is gone']);
  assert.equal([...a.logs, ...c.logs].filter((l) => l.includes('"cluster_node_lost"')).length, 1, 'one survivor was told');

  for (const options of [durable, offline]) {
    const back = await client(a, options);
    assert.equal(back.connack.sessionPresent, true);
    await back.waitForMessages((m) => m.filter((x) => x.topic === 'dur/x').length >= 10);
    assert.deepEqual(counted(back, 'dur/x'), sent);
  }
});

test('Redis killed and restarted: each node serves its own clients meanwhile, /readyz says not ready, A to C works again after', async () => {
  const [subA, pubA, subC] = await Promise.all([client(a), client(a), client(c)]);
  await subscribe(subA, 'local/#', 0);
  await subscribe(subC, 'cross/#', 0);
  await probe(pubA, 'cross/probe', () => counted(subC, 'cross/probe').length > 0, 'C');
  assert.equal(await readyz(), 200);

  await redis.kill();
  await eventually(async () => (await readyz()) === 503, 5000, '/readyz 503 on A');
  const body = (await (await fetch(`${admin}/readyz`)).json()) as { reasons: string[] };
  assert.ok(body.reasons.some((r) => r.includes('cannot reach Redis')), body.reasons.join('; '));
  await publish(pubA, 'local/during', 'still served', { qos: 0 });
  await subA.waitForMessages((m) => m.some((x) => x.payload === 'still served'));
  await until(() => a.logs.some((l) => l.includes('"cluster_redis_lost"')), 5000, 'cluster_redis_lost on A');

  redis = await startRedis({ port: redis.port });
  await eventually(async () => (await readyz()) === 200, 15_000, '/readyz 200 on A');
  await until(() => a.logs.some((l) => l.includes('"cluster_redis_back"')), 5000, 'cluster_redis_back on A');
  await probe(pubA, 'cross/after', () => counted(subC, 'cross/after').length > 0, 'C after Redis came back');
});

test('a node stopped cleanly (SIGTERM) hands its offline persistent sessions to a survivor: what is published meanwhile is queued for them', async () => {
  const e = await startMoat({ config: nodeConfig(redis.url) });
  const eNode = nodeId(e);
  const options: IClientOptions = { clientId: 'off-e', clean: false, properties: { sessionExpiryInterval: 3600 } };
  const onE = await client(e, options);
  await subscribe(onE, 'handover/#');
  await onE.end();
  await e.stop();
  const handedOver = (): string | undefined => [...a.logs, ...c.logs].find((l) => l.includes('"cluster_node_lost"') && l.includes(eNode));
  await until(() => handedOver() !== undefined, DEAD_AFTER_MS + 5000, `a survivor adopting what ${eNode} held`);
  assert.equal((JSON.parse(handedOver() as string) as Record<string, unknown>)['adopted'], 1);
  const publisher = await client(c);
  const sent = Array.from({ length: 10 }, (_, i) => `after-stop-${i}`);
  for (const payload of sent) await publishUntilMatched(publisher, 'handover/x', payload);
  const back = await client(a, options);
  assert.equal(back.connack.sessionPresent, true);
  await back.waitForMessages((m) => m.filter((x) => x.topic === 'handover/x').length >= 10);
  assert.deepEqual(counted(back, 'handover/x'), sent);
});

test("moat's client with the nodes' URLs fails over when its node is killed, and finds its session on the next node", async () => {
  const d = await startMoat({ config: nodeConfig(redis.url) });
  const received: ReceivedMessage[] = [];
  const failovers: FailoverEvent[] = [];
  const roaming = await connect([d.url, c.url], {
    clientId: 'roams-by-url',
    protocolVersion: 5,
    clean: false,
    properties: { sessionExpiryInterval: 3600 },
    reconnect: { initialDelayMs: 100, maxDelayMs: 1000 },
    onMessage: (m) => void received.push(m),
    onFailover: (event) => void failovers.push(event),
  });
  try {
    assert.equal(roaming.url, d.url);
    await roaming.subscribe('roam/#', { qos: 1 });
    const pubA = await client(a);
    await probe(pubA, 'roam/probe', () => received.some((m) => m.topic === 'roam/probe'), 'the roaming client on D from A');

    await d.process.kill();
    await until(() => roaming.url === c.url && roaming.connected, DEAD_AFTER_MS + 10_000, 'the client connected to C');
    assert.ok(failovers.some((f) => f.from === d.url && f.to === c.url), JSON.stringify(failovers.map((f) => [f.from, f.to])));
    assert.equal(roaming.sessionPresent, true, 'its session was in Redis: C resumed it');
    await probe(pubA, 'roam/after', () => received.some((m) => m.topic === 'roam/after'), 'the roaming client on C from A');
  } finally {
    await roaming.end();
    await d.stop();
  }
});

test('moat broker --cluster: a bad URL and an unreachable Redis are refused in words, exit 2', async () => {
  const { command, args } = moatCommand(['broker', '-p', String(await freePort('127.0.0.1')), '--cluster', 'http://redis:6379']);
  const bad = await spawnTracked(command, args, { name: 'moat' });
  assert.equal((await bad.exited).code, 2);
  assert.match(bad.stderr.join('\n'), /^moat broker: cluster URL "http:\/\/redis:6379": unknown scheme http:; write redis:\/\//);

  const result = await unreachable.exited;
  assert.equal(result.code, 2, unreachable.formatLogs());
  assert.match(unreachable.stderr.join('\n'), /moat broker: redis:\/\/127\.0\.0\.1:\d+: the Redis store cannot open the store: no connection within 10000 ms \(last connection error: connect ECONNREFUSED/);
  assert.ok(!unreachable.logs.some((l) => l.includes('"listening"')), 'nothing listened');
});
