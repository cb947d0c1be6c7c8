// The engine's counters (broker.stats()) and the event tally (observe/tally.ts) equal what the
// clients did: packets, PUBLISH by QoS, bytes both ways, sockets, CONNECTs, per-connection
// messages; refusals by the reason the client was told.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { encode } from '../../src/codec/encode.js';
import { refusalName, tallyOf } from '../../src/observe/tally.js';
import { connect, open, startBroker } from '../broker/helper.js';

test('stats count packets, PUBLISH by QoS, bytes and sockets exactly', async () => {
  const broker = startBroker();
  try {
    const { client: sub } = await connect(broker, 'sub', {}, 5);
    sub.send({ type: 'subscribe', packetId: 1, subscriptions: [{ filter: 'c/#', qos: 2, noLocal: false, retainAsPublished: false, retainHandling: 0 }] });
    await sub.next('suback');
    const { client: pub } = await connect(broker, 'pub', {}, 4);
    let bytesFromPub = 0;
    for (let qos = 0 as 0 | 1 | 2; qos <= 2; qos++) {
      for (let i = 0; i < 3; i++) {
        const packet = { type: 'publish', topic: `c/${qos}`, payload: Buffer.from('x'.repeat(i)), qos, retain: false, dup: false, ...(qos > 0 ? { packetId: qos * 10 + i } : {}) } as const;
        bytesFromPub += encode(packet, 4).length;
        pub.send(packet);
      }
    }
    for (let i = 0; i < 9; i++) await sub.next('publish');
    for (let i = 0; i < 3; i++) await pub.next('puback');
    for (let i = 0; i < 3; i++) pub.send({ type: 'pubrel', packetId: (await pub.next('pubrec')).packetId });
    for (let i = 0; i < 3; i++) await pub.next('pubcomp');

    const stats = broker.stats();
    assert.equal(stats.socketsOpened, 2);
    assert.equal(stats.connectsReceived, 2);
    assert.equal(stats.messagesReceived, 9);
    assert.deepEqual(stats.messagesReceivedByQos, [3, 3, 3]);
    assert.equal(stats.messagesSent, 9);
    assert.deepEqual(stats.messagesSentByQos, [3, 3, 3]);
    // in: 2 CONNECT + SUBSCRIBE + 9 PUBLISH + 3 PUBREL, and the subscriber's acks of 3 QoS 1 and 3 QoS 2 (not sent by this test: still in flight)
    assert.equal(stats.packetsReceived, 2 + 1 + 9 + 3);
    // out: 2 CONNACK + SUBACK + 9 PUBLISH + 3 PUBACK + 3 PUBREC + 3 PUBCOMP
    assert.equal(stats.packetsSent, 2 + 1 + 9 + 9);
    const connectBytes = encode({ type: 'connect', protocolName: 'MQTT', protocolVersion: 4, clean: true, keepalive: 0, clientId: 'pub' }, 4).length;
    assert.ok(stats.bytesReceived > bytesFromPub + connectBytes, `${stats.bytesReceived} bytes in`);
    assert.ok(stats.bytesSent > 9 * 4, `${stats.bytesSent} bytes out`);
    const pubConnection = broker.getSession('pub')?.connection;
    const subConnection = broker.getSession('sub')?.connection;
    assert.equal(pubConnection?.messagesIn, 9);
    assert.equal(pubConnection?.messagesOut, 0);
    assert.equal(subConnection?.messagesOut, 9);
  } finally {
    broker.close();
  }
});

test('bytesReceived is every byte read; bytesSent every byte written', async () => {
  const broker = startBroker();
  try {
    const client = open(broker, 4);
    const connectPacket = encode({ type: 'connect', protocolName: 'MQTT', protocolVersion: 4, clean: true, keepalive: 0, clientId: 'b' }, 4);
    client.sendRaw(connectPacket);
    await client.next('connack');
    client.sendRaw([0xc0, 0x00]); // PINGREQ
    await client.next('pingresp');
    assert.equal(broker.stats().bytesReceived, connectPacket.length + 2);
    assert.equal(broker.stats().bytesSent, 4 + 2); // CONNACK + PINGRESP
  } finally {
    broker.close();
  }
});

test('the tally counts refused CONNECTs by the reason the client was told, once each', async () => {
  const broker = startBroker({ allowZeroLengthClientId: false });
  const tally = tallyOf(broker);
  try {
    const { connack: v5 } = await connect(broker, '', { clean: true }, 5);
    assert.equal(v5.reasonCode, 0x85);
    const { connack: v4 } = await connect(broker, '', { clean: true }, 4);
    assert.equal(v4.reasonCode, 2);
    const refused = tally.snapshot().connectRefused;
    assert.deepEqual(refused, { client_identifier_not_valid: 2 });
    assert.equal(refusalName(0x97), 'quota_exceeded');
    assert.equal(refusalName(0x86), 'bad_user_name_or_password');
    assert.equal(refusalName(0x9f), 'connection_rate_exceeded');
    assert.equal(refusalName(undefined), 'closed_without_connack');
    assert.equal(tallyOf(broker), tally, 'one tally per broker');
  } finally {
    tally.stop();
    broker.close();
  }
});
