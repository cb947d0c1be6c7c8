// Two engines joined by a RedisBus on a real redis-server: what 19-bus.test.ts shows on a LocalHub
// holds across processes' worth of connections too: a message published on one node reaches the
// other's subscribers once, a $share group spread over both gets each message once in all, and a
// client id connecting on one node takes its connection on the other over (DISCONNECT 0x8E). On
// the Redis store too, a node that dies has its clients' wills published by the survivor told,
// after their delay when the session is persistent (adopted meanwhile), unless the client is back.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Logger } from '../../src/broker/logger.js';
import type { Message } from '../../src/broker/message.js';
import { RedisBus } from '../../src/cluster/redis-bus.js';
import type { PublishPacket, Subscription } from '../../src/codec/types.js';
import { RedisStore } from '../../src/store/redis.js';
import { startRedis } from '../kit/redis.js';
import { until } from '../kit/wait.js';
import { connect, startBroker, type TestClient } from './helper.js';

function sub(filter: string): Subscription {
  return { filter, qos: 0, noLocal: false, retainAsPublished: false, retainHandling: 0 };
}

function publish(topic: string, payload: string, packetId: number): PublishPacket {
  return { type: 'publish', topic, payload: Buffer.from(payload), qos: 1, retain: false, dup: false, packetId };
}

const payloads = (client: TestClient): string[] => client.received.flatMap((p) => (p.type === 'publish' ? [p.payload.toString()] : []));

async function settle(buses: readonly RedisBus[]): Promise<void> {
  for (let round = 0; round < 2; round++) await Promise.all(buses.map((bus) => bus.settled()));
}

test('two engines on one Redis: messages across once, a $share group over both once in all, takeover across (0x8E)', async () => {
  const redis = await startRedis();
  const buses = [await RedisBus.open(redis.url, { prefix: 'engine:' }), await RedisBus.open(redis.url, { prefix: 'engine:' })];
  const [a, b] = buses.map((bus) => startBroker({ bus })) as [ReturnType<typeof startBroker>, ReturnType<typeof startBroker>];
  try {
    const members: TestClient[] = [];
    for (const [i, node] of [a, b].entries()) {
      const member = await connect(node, `member-${i}`, {}, 5);
      member.client.send({ type: 'subscribe', packetId: 1, subscriptions: [sub('$share/g/w/#')] });
      await member.client.next('suback');
      members.push(member.client);
    }
    const watcher = await connect(b, 'watcher', {}, 5);
    watcher.client.send({ type: 'subscribe', packetId: 1, subscriptions: [sub('w/#')] });
    await watcher.client.next('suback');
    await settle(buses);
    const publisher = await connect(a, 'pub', {}, 5);
    const sent: string[] = [];
    for (let i = 0; i < 10; i++) {
      sent.push(`m${i}`);
      publisher.client.send(publish(`w/${i}`, `m${i}`, i + 1));
      assert.equal((await publisher.client.next('puback')).reasonCode ?? 0, 0);
    }
    await until(() => payloads(watcher.client).length === 10 && members.flatMap(payloads).length >= 10, 3000, 'every delivery');
    await settle(buses);
    assert.deepEqual(payloads(watcher.client), sent);
    assert.deepEqual(members.flatMap(payloads).sort(), [...sent].sort());
    for (const member of members) assert.ok(payloads(member).length > 0, 'both nodes take turns');

    const first = await connect(a, 'roamer', {}, 5);
    await settle(buses);
    await connect(b, 'roamer', {}, 5);
    assert.equal((await first.client.next('disconnect', () => true, 3000)).reasonCode, 0x8e);
  } finally {
    a.close();
    b.close();
    await Promise.all(buses.map((bus) => bus.close()));
    await redis.stop();
  }
});

/** A logger that keeps every record it is given (the engine's own lines: cluster_node_lost). */
function recordingLogger(records: Array<Record<string, unknown>>): Logger {
  const keep = (obj: object): void => void records.push(obj as Record<string, unknown>);
  return { debug: keep, info: keep, warn: keep, error: keep };
}

test('a node lost: the survivor publishes a will at once, a persistent session\'s will after its delay, none for a client back within it', async () => {
  const redis = await startRedis();
  const options = { prefix: 'lost:', heartbeatMs: 100, deadAfterMs: 500 };
  const [survivorStore, dyingStore] = [await RedisStore.open<Message>(redis.url, { prefix: 'lost:' }), await RedisStore.open<Message>(redis.url, { prefix: 'lost:' })];
  const [survivorBus, dyingBus] = [await RedisBus.open(redis.url, options), await RedisBus.open(redis.url, options)];
  const records: Array<Record<string, unknown>> = [];
  const survivor = startBroker({ store: survivorStore, bus: survivorBus, logger: recordingLogger(records) });
  const dying = startBroker({ store: dyingStore, bus: dyingBus });
  try {
    const watcher = await connect(survivor, 'watcher', {}, 5);
    watcher.client.send({ type: 'subscribe', packetId: 1, subscriptions: [sub('w/#')] });
    await watcher.client.next('suback');
    const will = (topic: string, delay: number | undefined) => ({ topic, payload: Buffer.from(topic), qos: 0 as const, retain: false, ...(delay === undefined ? {} : { properties: { willDelayInterval: delay } }) });
    const persistent = { clean: false, properties: { sessionExpiryInterval: 60 } };
    await connect(dying, 'now', { will: will('w/now', undefined) }, 5);
    await connect(dying, 'late', { ...persistent, will: will('w/late', 1) }, 5);
    await connect(dying, 'back', { ...persistent, will: will('w/back', 1) }, 5);
    await settle([survivorBus, dyingBus]);
    // Killed: nothing more from it reaches Redis, its heartbeat stops.
    await dyingStore.close();
    dyingBus.crash();

    await until(() => records.some((r) => r['event'] === 'cluster_node_lost'), 5000, 'cluster_node_lost on the survivor');
    const lost = records.find((r) => r['event'] === 'cluster_node_lost');
    assert.deepEqual([lost?.['clients'], lost?.['wills'], lost?.['adopted']], [3, 1, 2]);
    assert.equal(survivor.getSession('late')?.connection, undefined, 'adopted, offline');
    assert.notEqual(survivor.getSession('late')?.willTimer, undefined, 'its will waits for its delay (1 s)');
    const returning = await connect(survivor, 'back', persistent, 5);
    assert.equal(returning.connack.sessionPresent, true);
    await until(() => payloads(watcher.client).includes('w/late'), 5000, 'the delayed will');
    await new Promise((resolve) => setTimeout(resolve, 300)); // w/back's timer was due with w/late's
    assert.deepEqual(payloads(watcher.client), ['w/now', 'w/late']);
  } finally {
    survivor.close();
    dying.close();
    await Promise.all([survivorBus.close(), survivorStore.close()]);
    await redis.stop();
  }
});
