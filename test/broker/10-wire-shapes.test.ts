import assert from 'node:assert/strict';
import { test } from 'node:test';
import { encode } from '../../src/codec/encode.js';
import type { ProtocolVersion, QoS, Subscription } from '../../src/codec/types.js';
import { connect, startBroker } from './helper.js';

const sub = (filter: string, qos: QoS): Subscription => ({ filter, qos, noLocal: false, retainAsPublished: false, retainHandling: 0 });

// Subscribers of every version and QoS behind one publisher: forwarded bytes, shared encodings and
// patched packet ids must all decode to the same message.
for (const publisherVersion of [3, 4, 5] as const) {
  test(`a v${publisherVersion} PUBLISH reaches v3/v4/v5 subscribers at QoS 0/1/2 intact`, async () => {
    const broker = startBroker();
    const subscribers: Array<{ version: ProtocolVersion; qos: QoS; client: Awaited<ReturnType<typeof connect>>['client'] }> = [];
    for (const version of [3, 4, 5] as const) {
      for (const qos of [0, 1, 2] as const) {
        const { client } = await connect(broker, `s${version}${qos}`, {}, version);
        client.send({ type: 'subscribe', packetId: 1, subscriptions: [sub('w/#', qos)] });
        await client.next('suback');
        subscribers.push({ version, qos, client });
      }
    }
    const { client: publisher } = await connect(broker, 'p', {}, publisherVersion);
    for (const qos of [0, 1, 2] as const) {
      const packet = (packetId: number) => ({ type: 'publish' as const, topic: `w/${qos}`, payload: Buffer.from(`q${qos}`), qos, retain: false, dup: false, ...(qos > 0 ? { packetId } : {}) });
      // Two in one write: the second must not reuse the first's packet id on any subscriber.
      publisher.sendRaw(Buffer.concat([encode(packet(10 + qos), publisherVersion), encode(packet(20 + qos), publisherVersion)]));
    }
    for (const { version, qos: subQos, client } of subscribers) {
      const ids = new Set<number>();
      for (let i = 0; i < 6; i++) {
        const message = await client.next('publish');
        const expected = Math.min(subQos, Number(message.topic.slice(2)));
        assert.equal(message.qos, expected, `v${version} sub QoS ${subQos} on ${message.topic}`);
        assert.equal(message.payload.toString(), `q${message.topic.slice(2)}`);
        assert.equal(message.dup, false);
        if (message.qos > 0) {
          assert.ok(!ids.has(message.packetId ?? 0), 'packet ids are distinct');
          ids.add(message.packetId ?? 0);
          client.send({ type: message.qos === 1 ? 'puback' : 'pubrec', packetId: message.packetId ?? 0 });
        }
      }
    }
    broker.close();
  });
}

test('a v5 PUBLISH with properties is re-encoded, not forwarded: v4 subscribers get no properties', async () => {
  const broker = startBroker();
  const { client: v4 } = await connect(broker, 'old', {}, 4);
  v4.send({ type: 'subscribe', packetId: 1, subscriptions: [sub('p', 0)] });
  await v4.next('suback');
  const { client } = await connect(broker, 'p', {}, 5);
  client.send({ type: 'publish', topic: 'p', payload: Buffer.from('x'), qos: 0, retain: false, dup: false, properties: { contentType: 'text/plain' } });
  const message = await v4.next('publish');
  assert.equal(message.payload.toString(), 'x');
  assert.equal(message.properties, undefined);
  broker.close();
});
