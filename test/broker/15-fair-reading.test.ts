// Issue 9, defect 3: reading is budgeted per connection per event-loop turn (PACKETS_PER_TURN,
// BYTES_PER_TURN); what is over the budget waits, unparsed, for the next turn. These tests pin
// down that nothing waiting is lost or reordered: not when the client closes right behind its
// packets, not when the packets are big, not while a password check holds the rest of the input.
import assert from 'node:assert/strict';
import { connect as netConnect } from 'node:net';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { test } from 'node:test';
import { BYTES_PER_TURN, PACKETS_PER_TURN } from '../../src/broker/connection.js';
import { encode } from '../../src/codec/encode.js';
import type { Subscription } from '../../src/codec/types.js';
import { listenTcp } from '../../src/transport/tcp.js';
import { connect, open, startBroker } from './helper.js';

const sub = (filter: string): Subscription => ({ filter, qos: 0, noLocal: false, retainAsPublished: false, retainHandling: 0 });
const publish = (topic: string, payload: Buffer | string): Buffer => encode({ type: 'publish', topic, payload: Buffer.from(payload), qos: 0, retain: false, dup: false }, 4);

test(`${10 * PACKETS_PER_TURN} PUBLISH, DISCONNECT and FIN in one write over TCP: all routed, in order, and the will suppressed`, async () => {
  // Over a real socket: net.Socket reports the FIN even while reading is paused, which is when
  // packets held for a later turn used to be dropped with the connection.
  const broker = startBroker();
  const listening = await listenTcp(broker, { host: '127.0.0.1', port: 0 });
  const { client: subscriber } = await connect(broker, 'reader');
  subscriber.send({ type: 'subscribe', packetId: 1, subscriptions: [sub('burst/#'), sub('will/#')] });
  await subscriber.next('suback');

  const socket = netConnect({ host: '127.0.0.1', port: listening.port });
  socket.on('error', () => {});
  await new Promise<void>((resolve) => socket.once('connect', resolve));
  socket.write(encode({ type: 'connect', protocolName: 'MQTT', protocolVersion: 4, clean: true, keepalive: 0, clientId: 'writer', will: { topic: 'will/writer', payload: Buffer.from('gone'), qos: 0, retain: false } }, 4));
  await new Promise((resolve) => socket.once('data', resolve)); // CONNACK
  const count = 10 * PACKETS_PER_TURN;
  socket.end(Buffer.concat([...Array.from({ length: count }, (_, i) => publish('burst/x', String(i))), Buffer.from([0xe0, 0x00])]));

  const got: string[] = [];
  for (let i = 0; i < count; i++) got.push((await subscriber.next('publish')).payload.toString());
  assert.deepEqual(got, Array.from({ length: count }, (_, i) => String(i)));
  await subscriber.nothing('publish', 100); // no will: the DISCONNECT was handled
  broker.close();
  await listening.close();
});

test('input over the turn budget waits for a later turn instead of being handled at once', async () => {
  const broker = startBroker();
  const { client } = await connect(broker, 'flooder');
  const pings = Buffer.alloc(2 * 4 * PACKETS_PER_TURN).fill(Buffer.from([0xc0, 0x00]));
  client.sendRaw(pings);
  await nextTurn();
  const first = client.received.filter((p) => p.type === 'pingresp').length;
  assert.ok(first > 0 && first <= 2 * PACKETS_PER_TURN, `${first} PINGRESP after one turn`);
  for (let i = 0; i < 4 * PACKETS_PER_TURN; i++) await client.next('pingresp');
  broker.close();
});

test(`PUBLISH packets bigger than BYTES_PER_TURN (${BYTES_PER_TURN} bytes) each still go through, one per turn`, async () => {
  const broker = startBroker();
  const { client: subscriber } = await connect(broker, 'big-reader');
  subscriber.send({ type: 'subscribe', packetId: 1, subscriptions: [sub('big')] });
  await subscriber.next('suback');
  const { client: publisher } = await connect(broker, 'big-writer');
  publisher.sendRaw(Buffer.concat(Array.from({ length: 5 }, (_, i) => publish('big', Buffer.alloc(BYTES_PER_TURN + 10, i)))));
  for (let i = 0; i < 5; i++) assert.equal((await subscriber.next('publish')).payload[0], i);
  broker.close();
});

test('packets sent right behind CONNECT wait unparsed while it is checked, then run in order', async () => {
  const broker = startBroker();
  const { client: subscriber } = await connect(broker, 'watch');
  subscriber.send({ type: 'subscribe', packetId: 1, subscriptions: [sub('early/#')] });
  await subscriber.next('suback');
  const client = open(broker);
  const connectPacket = encode({ type: 'connect', protocolName: 'MQTT', protocolVersion: 4, clean: true, keepalive: 0, clientId: 'eager' }, 4);
  client.sendRaw(Buffer.concat([connectPacket, ...Array.from({ length: 3 * PACKETS_PER_TURN }, (_, i) => publish('early/x', String(i)))]));
  await client.next('connack');
  for (let i = 0; i < 3 * PACKETS_PER_TURN; i++) assert.equal((await subscriber.next('publish')).payload.toString(), String(i));
  broker.close();
});
