import assert from 'node:assert/strict';
import { test } from 'node:test';
import { connect, MqttError } from '../../src/client/index.js';
import { PacketIds } from '../../src/client/inflight.js';
import type { Packet, PublishPacket } from '../../src/codec/types.js';
import { acceptConnect, startFakeServer, within, type FakeConnection } from './helper.js';

test('packet ids run 1..65535, wrap to 1 and skip ids still in use', () => {
  const ids = new PacketIds();
  assert.equal(ids.allocate(), 1);
  assert.equal(ids.allocate(), 2);
  for (let i = 3; i <= 65534; i++) ids.allocate();
  ids.release(2);
  ids.release(40);
  assert.equal(ids.allocate(), 65535);
  assert.equal(ids.allocate(), 2); // 1 still in use
  assert.equal(ids.allocate(), 40);
  assert.throws(() => ids.allocate(), { code: 'MOAT_ERR_PACKET_IDS_EXHAUSTED' });
  ids.release(7);
  assert.equal(ids.allocate(), 7);
});

test('never more QoS 1/2 PUBLISHes in flight than the server Receive Maximum [MQTT-4.9.0-2]', async () => {
  let outstanding = 0;
  let peak = 0;
  const held: PublishPacket[] = [];
  const fake = await startFakeServer((packet, connection) => {
    acceptConnect(packet, connection, { receiveMaximum: 3 });
    if (packet.type === 'publish') {
      outstanding++;
      peak = Math.max(peak, outstanding);
      held.push(packet);
      // Acknowledge in batches, a little later, so the window fills up.
      setTimeout(() => {
        for (const p of held.splice(0)) {
          outstanding--;
          connection.send({ type: p.qos === 1 ? 'puback' : 'pubrec', packetId: p.packetId ?? 0 });
        }
      }, 5);
    }
    if (packet.type === 'pubrel') connection.send({ type: 'pubcomp', packetId: packet.packetId });
  });
  const client = await connect(fake.url);
  const results = await within(5000, Promise.all(Array.from({ length: 20 }, (_, i) => client.publish('t', String(i), { qos: i % 3 === 0 ? 2 : 1 }))), 'all publishes');
  assert.equal(results.length, 20);
  assert.equal(peak, 3);
  const payloads = fake.connections[0]?.received.filter((p): p is PublishPacket => p.type === 'publish').map((p) => p.payload.toString());
  assert.deepEqual(payloads, Array.from({ length: 20 }, (_, i) => String(i)));
  await client.end();
  await fake.close();
});

function ackWith(type: 'puback' | 'pubrec', reasonCode: number) {
  return (packet: Packet, connection: FakeConnection): void => {
    acceptConnect(packet, connection);
    if (packet.type === 'publish') connection.send({ type, packetId: packet.packetId ?? 0, reasonCode, properties: { reasonString: 'acl says no' } });
  };
}

test('a PUBACK failure rejects publish() with MqttError naming the reason', async () => {
  const fake = await startFakeServer(ackWith('puback', 0x87));
  const client = await connect(fake.url);
  await assert.rejects(client.publish('secret', 'x', { qos: 1 }), (error: unknown) => {
    assert.ok(error instanceof MqttError);
    assert.equal(error.code, 'MOAT_ERR_PUBACK');
    assert.equal(error.reasonCode, 0x87);
    assert.match(error.message, /^0x87 Not authorized: .*\(server says: acl says no\)$/);
    return true;
  });
  // The flow is over: the id is free again and later publishes go through.
  assert.equal(client.connected, true);
  await client.end();
  await fake.close();
});

test('a PUBREC failure ends the QoS 2 flow with MqttError and no PUBREL [MQTT-4.3.3-4]', async () => {
  const fake = await startFakeServer(ackWith('pubrec', 0x97));
  const client = await connect(fake.url);
  await assert.rejects(client.publish('t', 'x', { qos: 2 }), { name: 'MqttError', code: 'MOAT_ERR_PUBREC', reasonCode: 0x97, message: /Quota exceeded/ });
  await client.end();
  assert.equal(fake.connections[0]?.received.some((p) => p.type === 'pubrel'), false);
  await fake.close();
});

test('PUBACK codes below 0x80 (0x10 No matching subscribers) resolve', async () => {
  const fake = await startFakeServer(ackWith('puback', 0x10));
  const client = await connect(fake.url);
  await client.publish('nobody/listens', 'x', { qos: 1 });
  await client.end();
  await fake.close();
});

test('incoming QoS 1 and 2 are acknowledged; a resent QoS 2 PUBLISH is delivered once; aliases resolve', async () => {
  const fake = await startFakeServer((packet, connection) => {
    acceptConnect(packet, connection);
    if (packet.type === 'subscribe') {
      connection.send({ type: 'suback', packetId: packet.packetId, reasonCodes: [1] });
      const base = { type: 'publish', payload: Buffer.from('p'), retain: false, dup: false } as const;
      connection.send({ ...base, topic: 'a/long/topic', qos: 1, packetId: 10, properties: { topicAlias: 1, contentType: 'text/plain' } });
      connection.send({ ...base, topic: '', qos: 2, packetId: 11, properties: { topicAlias: 1 } });
      connection.send({ ...base, topic: '', qos: 2, packetId: 11, dup: true, properties: { topicAlias: 1 } });
      connection.send({ type: 'pubrel', packetId: 11 });
    }
  });
  const client = await connect(fake.url, { properties: { topicAliasMaximum: 1 } });
  const seen: string[] = [];
  client.onMessage((m) => seen.push(`${m.topic} q${m.qos} ${m.properties?.contentType ?? '-'} ${m.properties?.topicAlias ?? '-'}`));
  assert.deepEqual(await client.subscribe('#', { qos: 2 }), [1]);
  const connection = fake.connections[0] as FakeConnection;
  await within(2000, (async () => {
    while (!connection.received.some((p) => p.type === 'pubcomp')) await new Promise((r) => setTimeout(r, 5));
  })(), 'PUBCOMP');
  assert.deepEqual(seen, ['a/long/topic q1 text/plain -', 'a/long/topic q2 - -']);
  const acks = connection.received.filter((p) => p.type !== 'connect' && p.type !== 'subscribe').map((p) => `${p.type}:${'packetId' in p ? p.packetId : ''}`);
  assert.deepEqual(acks, ['puback:10', 'pubrec:11', 'pubrec:11', 'pubcomp:11']);
  await client.end();
  await fake.close();
});

test('the server Maximum Packet Size, Maximum QoS and Retain Available are not violated', async () => {
  const fake = await startFakeServer((packet, connection) => acceptConnect(packet, connection, { maximumPacketSize: 100, maximumQoS: 1, retainAvailable: 0 }));
  const client = await connect(fake.url);
  await assert.rejects(client.publish('t', Buffer.alloc(200)), { code: 'MOAT_ERR_PACKET_TOO_LARGE', reasonCode: 0x95, message: /Maximum Packet Size of 100 bytes/ });
  await assert.rejects(client.publish('t', 'x', { qos: 2 }), { code: 'MOAT_ERR_QOS_NOT_SUPPORTED', message: /QoS up to 1/ });
  await assert.rejects(client.publish('t', 'x', { retain: true }), { code: 'MOAT_ERR_RETAIN_NOT_SUPPORTED' });
  await client.publish('t', 'fits');
  await client.end();
  assert.deepEqual(fake.connections[0]?.received.map((p) => p.type), ['connect', 'publish', 'disconnect']);
  await fake.close();
});
