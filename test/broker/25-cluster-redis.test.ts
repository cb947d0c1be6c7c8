// Two engines joined by a RedisBus on a real redis-server: what 19-bus.test.ts shows on a LocalHub
// holds across processes' worth of connections too: a message published on one node reaches the
// other's subscribers once, a $share group spread over both gets each message once in all, and a
// client id connecting on one node takes its connection on the other over (DISCONNECT 0x8E).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RedisBus } from '../../src/cluster/redis-bus.js';
import type { PublishPacket, Subscription } from '../../src/codec/types.js';
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
