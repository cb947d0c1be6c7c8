// Outgoing topic aliases (MQTT 5): the client assigns them by itself when the server's CONNACK
// allows them (moat advertises Topic Alias Maximum 10). The bytes the client sends are read
// through a relay; a second client checks the broker resolves every alias to the full topic.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { connect, type MqttClient, type ReceivedMessage } from '../../src/client/index.js';
import { TopicAliases, withTopicAlias } from '../../src/client/topic-alias.js';
import { encode } from '../../src/codec/encode.js';
import { Parser } from '../../src/codec/parser.js';
import type { Packet, PublishPacket } from '../../src/codec/types.js';
import { startBroker, within, type TestBroker } from './helper.js';
import { startRelay, type Relay } from './relay.js';

let broker: TestBroker;
let relay: Relay;

before(async () => {
  broker = await startBroker();
  relay = await startRelay(broker.url);
});
after(async () => {
  await relay.close();
  await broker.close();
});

/** The PUBLISH packets of `sent`, as [topic, alias, dup]. */
function publishes(sent: readonly Packet[]): Array<[string, number | undefined, boolean]> {
  return sent.filter((p): p is PublishPacket => p.type === 'publish').map((p) => [p.topic, p.properties?.topicAlias, p.dup]);
}

async function subscriber(filter: string): Promise<{ client: MqttClient; next: () => Promise<ReceivedMessage> }> {
  const client = await connect(broker.url);
  const iterator = client.messages();
  await client.subscribe(filter, { qos: 1 });
  return {
    client,
    next: async () => {
      const { value } = await within(2000, iterator.next(), 'a message at the subscriber');
      assert.ok(value);
      return value;
    },
  };
}

test('first PUBLISH of a topic carries topic + alias, the next one only the alias; the subscriber gets the full topic [MQTT-3.3.2-12]', async () => {
  const base = `alias/first/${Date.now()}`;
  const sub = await subscriber(`${base}/#`);
  const client = await connect(relay.url, { clientId: `alias-first-${Date.now()}` });
  const connection = relay.connections.at(-1);
  assert.ok(connection);
  assert.equal(client.serverProperties.topicAliasMaximum, 10);
  await client.publish(`${base}/t`, 'one', { qos: 1 });
  await client.publish(`${base}/t`, 'two', { qos: 1 });
  await client.publish(`${base}/t`, 'three'); // QoS 0 too
  for (const payload of ['one', 'two', 'three']) {
    const message = await sub.next();
    assert.equal(message.topic, `${base}/t`);
    assert.equal(message.payload.toString(), payload);
    assert.equal(message.properties?.topicAlias, undefined);
  }
  assert.deepEqual(publishes(connection.sent), [
    [`${base}/t`, 1, false],
    ['', 1, false],
    ['', 1, false],
  ]);
  await client.end();
  await sub.client.end();
});

test('aliases stop at the server\'s Topic Alias Maximum: later topics go plain [MQTT-3.3.2-9]', async () => {
  const base = `alias/max/${Date.now()}`;
  const sub = await subscriber(`${base}/#`);
  const client = await connect(relay.url, { clientId: `alias-max-${Date.now()}` });
  const connection = relay.connections.at(-1);
  assert.ok(connection);
  for (let i = 1; i <= 12; i++) await client.publish(`${base}/${i}`, `m${i}`, { qos: 1 });
  await client.publish(`${base}/1`, 'again', { qos: 1 });
  await client.publish(`${base}/12`, 'again', { qos: 1 });
  const expected: Array<[string, number | undefined, boolean]> = [];
  for (let i = 1; i <= 10; i++) expected.push([`${base}/${i}`, i, false]);
  expected.push([`${base}/11`, undefined, false], [`${base}/12`, undefined, false], ['', 1, false], [`${base}/12`, undefined, false]);
  assert.deepEqual(publishes(connection.sent), expected);
  const got: string[] = [];
  for (let i = 0; i < 14; i++) {
    const message = await sub.next();
    got.push(`${message.topic.slice(base.length)} ${message.payload.toString()}`);
  }
  assert.deepEqual(got.slice(-2), ['/1 again', '/12 again']);
  await client.end();
  await sub.client.end();
});

test('topicAliases: false sends plain topics', async () => {
  const base = `alias/off/${Date.now()}`;
  const client = await connect(relay.url, { topicAliases: false });
  const connection = relay.connections.at(-1);
  assert.ok(connection);
  await client.publish(`${base}/t`, 'one', { qos: 1 });
  await client.publish(`${base}/t`, 'two', { qos: 1 });
  assert.deepEqual(publishes(connection.sent), [
    [`${base}/t`, undefined, false],
    [`${base}/t`, undefined, false],
  ]);
  await client.end();
});

test('a caller-set topicAlias is sent as given, and the automatic aliases share its table', async () => {
  const base = `alias/caller/${Date.now()}`;
  const sub = await subscriber(`${base}/#`);
  const client = await connect(relay.url);
  const connection = relay.connections.at(-1);
  assert.ok(connection);
  await client.publish(`${base}/a`, 'a1', { qos: 1, properties: { topicAlias: 1 } });
  await client.publish(`${base}/a`, 'a2', { qos: 1 }); // reuses the caller's alias 1
  await client.publish(`${base}/b`, 'b1', { qos: 1 }); // gets alias 2, not 1
  assert.deepEqual(publishes(connection.sent), [
    [`${base}/a`, 1, false],
    ['', 1, false],
    [`${base}/b`, 2, false],
  ]);
  const got: string[] = [];
  for (let i = 0; i < 3; i++) got.push((await sub.next()).topic.slice(base.length));
  assert.deepEqual(got, ['/a', '/a', '/b']);
  await client.end();
  await sub.client.end();
});

test('after a reconnect the alias table is new: the first PUBLISH, and a DUP resend, carry the full topic [MQTT-3.3.2-7]', async () => {
  const base = `alias/reconnect/${Date.now()}`;
  const sub = await subscriber(`${base}/#`);
  const client = await connect(relay.url, { clientId: `alias-reconnect-${Date.now()}`, clean: false, properties: { sessionExpiryInterval: 60 }, reconnect: { initialDelayMs: 0, maxDelayMs: 20 } });
  const first = relay.connections.at(-1);
  assert.ok(first);
  await client.publish(`${base}/t`, 'one', { qos: 1 });
  // The next PUBLISH (alias only) never reaches the broker: held back, then the link dies.
  relay.hold = true;
  const pending = client.publish(`${base}/t`, 'two', { qos: 1 });
  await within(2000, waitFor(() => publishes(first.sent).length === 2), 'the held PUBLISH');
  const reconnected = new Promise<void>((resolve) => client.onConnect(() => resolve()));
  relay.hold = false;
  relay.cut();
  await within(5000, reconnected, 'the reconnect');
  await within(2000, pending, 'the PUBACK of the resent PUBLISH');
  await client.publish(`${base}/t`, 'three', { qos: 1 });
  await client.publish(`${base}/t`, 'four', { qos: 1 });
  const second = relay.connections.at(-1);
  assert.ok(second && second !== first);
  assert.deepEqual(publishes(first.sent), [
    [`${base}/t`, 1, false],
    ['', 1, false],
  ]);
  assert.deepEqual(publishes(second.sent), [
    [`${base}/t`, 1, true], // the resend: full topic, new alias, DUP
    ['', 1, false],
    ['', 1, false],
  ]);
  const got: string[] = [];
  for (let i = 0; i < 4; i++) {
    const message = await sub.next();
    got.push(`${message.topic.slice(base.length)} ${message.payload.toString()}`);
  }
  assert.deepEqual(got, ['/t one', '/t two', '/t three', '/t four']);
  await client.end();
  await sub.client.end();
});

test('a caller-set alias with an empty topic, in flight at a reconnect, is resent with the full topic', async () => {
  const base = `alias/caller-reconnect/${Date.now()}`;
  const sub = await subscriber(`${base}/#`);
  const client = await connect(relay.url, { clientId: `alias-caller-${Date.now()}`, clean: false, properties: { sessionExpiryInterval: 60 }, reconnect: { initialDelayMs: 0, maxDelayMs: 20 } });
  const first = relay.connections.at(-1);
  assert.ok(first);
  await client.publish(`${base}/t`, 'one', { qos: 1, properties: { topicAlias: 7 } });
  relay.hold = true;
  const pending = client.publish('', 'two', { qos: 1, properties: { topicAlias: 7 } });
  await within(2000, waitFor(() => publishes(first.sent).length === 2), 'the held PUBLISH');
  const reconnected = new Promise<void>((resolve) => client.onConnect(() => resolve()));
  relay.hold = false;
  relay.cut();
  await within(5000, reconnected, 'the reconnect');
  await within(2000, pending, 'the PUBACK of the resent PUBLISH');
  const second = relay.connections.at(-1);
  assert.ok(second && second !== first);
  assert.deepEqual(publishes(first.sent), [
    [`${base}/t`, 7, false],
    ['', 7, false],
  ]);
  assert.deepEqual(publishes(second.sent), [[`${base}/t`, 7, true]]);
  const got: string[] = [];
  for (let i = 0; i < 2; i++) got.push((await sub.next()).payload.toString());
  assert.deepEqual(got, ['one', 'two']);
  await assert.rejects(client.publish('', 'x', { properties: { topicAlias: 9 } }), /topic alias 9 has no topic on this connection/);
  await client.end();
  await sub.client.end();
});

function parseOne(buffer: Buffer): PublishPacket {
  const packets: Packet[] = [];
  const parser = new Parser({ onPacket: (p) => packets.push(p), onError: (e) => assert.fail(e) }, { side: 'server', protocolVersion: 5 });
  parser.push(buffer);
  assert.equal(packets.length, 1);
  const [packet] = packets;
  assert.equal(packet?.type, 'publish');
  return packet as PublishPacket;
}

test('withTopicAlias keeps flags, packet id, other properties and payload, across remaining-length sizes', () => {
  for (const size of [0, 100, 120, 16_370, 20_000]) {
    const payload = Buffer.alloc(size, 7);
    const original: PublishPacket = { type: 'publish', topic: 'a/b', payload, qos: 2, retain: true, dup: true, packetId: 513, properties: { contentType: 'x', userProperties: [['k', 'v']] } };
    const buffer = encode(original, 5);
    for (const keepTopic of [true, false]) {
      const packet = parseOne(withTopicAlias(buffer, 7, keepTopic));
      assert.deepEqual(
        { ...packet, payload: packet.payload.length },
        { ...original, topic: keepTopic ? 'a/b' : '', payload: size, properties: { ...original.properties, topicAlias: 7 } },
      );
    }
  }
});

test('no alias when topic + alias would exceed the server\'s Maximum Packet Size', () => {
  const aliases = new TopicAliases();
  const buffer = encode({ type: 'publish', topic: 't', payload: Buffer.alloc(10), qos: 0, retain: false, dup: false }, 5);
  aliases.reset(10, buffer.length + 2);
  assert.equal(aliases.apply(buffer, undefined), buffer);
  assert.equal(aliases.size, 0);
  aliases.reset(10, buffer.length + 3);
  assert.equal(parseOne(aliases.apply(buffer, undefined)).properties?.topicAlias, 1);
});

async function waitFor(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((resolve) => setTimeout(resolve, 5));
}
