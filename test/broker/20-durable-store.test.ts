// The engine on a durable Store (issue 11's seam, before the SQLite store of issue 13): sessions,
// their queues and in-flight messages are written through the store and loaded from it at CONNECT,
// so a broker restarted on the same store resumes them; acknowledgements wait for the store's
// flush. A MemoryStore with { durable: true } stands in for the disk: the engine treats it exactly
// as it will a durable store, and a second Broker on it is the restarted process.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Broker } from '../../src/broker/broker.js';
import type { Message } from '../../src/broker/message.js';
import type { PublishPacket, Subscription } from '../../src/codec/types.js';
import { MemoryStore } from '../../src/store/memory.js';
import { until } from '../kit/wait.js';
import { connect, open, startBroker } from './helper.js';

function sub(filter: string, qos: 0 | 1 | 2 = 1): Subscription {
  return { filter, qos, noLocal: false, retainAsPublished: false, retainHandling: 0 };
}

function publish(topic: string, payload: string, packetId: number, qos: 1 | 2 = 1): PublishPacket {
  return { type: 'publish', topic, payload: Buffer.from(payload), qos, retain: false, dup: false, packetId };
}

const persistent = { clean: false, properties: { sessionExpiryInterval: 3600 } };

async function subscribed(broker: Broker, clientId: string, filter: string, qos: 0 | 1 | 2 = 1) {
  const { client, connack } = await connect(broker, clientId, persistent, 5);
  client.send({ type: 'subscribe', packetId: 1, subscriptions: [sub(filter, qos)] });
  await client.next('suback');
  return { client, connack };
}

async function publishAll(broker: Broker, topic: string, payloads: string[], qos: 1 | 2 = 1): Promise<void> {
  const { client } = await connect(broker, `pub-${topic}`, {}, 5);
  for (const [i, payload] of payloads.entries()) {
    client.send(publish(topic, payload, i + 1, qos));
    if (qos === 1) await client.next('puback');
    else {
      await client.next('pubrec');
      client.send({ type: 'pubrel', packetId: i + 1 });
      await client.next('pubcomp');
    }
  }
  client.close();
}

test('queued messages of an offline session survive a restart on the same store, in order; the session resumes', async () => {
  const store = new MemoryStore<Message>({ durable: true });
  const first = startBroker({ store });
  const { client } = await subscribed(first, 'dev', 'd/#');
  client.send({ type: 'disconnect', reasonCode: 0 });
  await client.waitClosed();
  await publishAll(first, 'd/1', ['one', 'two', 'three']);
  first.close();

  const second = startBroker({ store });
  const back = await connect(second, 'dev', persistent, 5);
  assert.equal(back.connack.sessionPresent, true);
  const got: string[] = [];
  for (let i = 0; i < 3; i++) {
    const message = await back.client.next('publish');
    got.push(message.payload.toString());
    back.client.send({ type: 'puback', packetId: message.packetId as number });
  }
  assert.deepEqual(got, ['one', 'two', 'three']);
  // The subscription came back too: a new message reaches it on the restarted broker.
  await publishAll(second, 'd/2', ['four']);
  assert.equal((await back.client.next('publish')).payload.toString(), 'four');
  second.close();
});

test('an unacknowledged QoS 1 delivery is resent with DUP after a restart; a QoS 2 one past PUBREC gets its PUBREL', async () => {
  const store = new MemoryStore<Message>({ durable: true });
  const first = startBroker({ store });
  const one = await subscribed(first, 'q1', 'a/1', 1);
  const two = await subscribed(first, 'q2', 'a/2', 2);
  await publishAll(first, 'a/1', ['never acked']);
  await publishAll(first, 'a/2', ['half done'], 2);
  assert.equal((await one.client.next('publish')).payload.toString(), 'never acked');
  const qos2 = await two.client.next('publish');
  two.client.send({ type: 'pubrec', packetId: qos2.packetId as number });
  await two.client.next('pubrel');
  first.close();

  const second = startBroker({ store });
  const oneBack = await connect(second, 'q1', persistent, 5);
  const resent = await oneBack.client.next('publish');
  assert.deepEqual([resent.payload.toString(), resent.dup], ['never acked', true]);
  const twoBack = await connect(second, 'q2', persistent, 5);
  const pubrel = await twoBack.client.next('pubrel');
  assert.equal(pubrel.packetId, qos2.packetId);
  twoBack.client.send({ type: 'pubcomp', packetId: pubrel.packetId });
  await twoBack.client.nothing('publish', 100);
  second.close();
  // PUBCOMP ended the flow in the store too: a third start has nothing in flight for q2.
  const third = startBroker({ store });
  const again = await connect(third, 'q2', persistent, 5);
  await again.client.nothing('pubrel', 100);
  third.close();
});

test('exactly once across a restart: a QoS 2 PUBLISH resent after PUBREC is not routed again; PUBREL gets PUBCOMP', async () => {
  const store = new MemoryStore<Message>({ durable: true });
  const first = startBroker({ store });
  const subscriber = await subscribed(first, 'watcher', 'once/#', 2);
  subscriber.client.send({ type: 'disconnect', reasonCode: 0 });
  await subscriber.client.waitClosed();
  const sender = await connect(first, 'sender', persistent, 5);
  sender.client.send(publish('once/1', 'exactly once', 42, 2));
  await sender.client.next('pubrec');
  first.close(); // the sender never got to send PUBREL

  const second = startBroker({ store });
  const again = await connect(second, 'sender', persistent, 5);
  assert.equal(again.connack.sessionPresent, true);
  again.client.send({ ...publish('once/1', 'exactly once', 42, 2), dup: true });
  await again.client.next('pubrec');
  again.client.send({ type: 'pubrel', packetId: 42 });
  assert.equal((await again.client.next('pubcomp')).reasonCode ?? 0, 0);
  const watcher = await connect(second, 'watcher', persistent, 5);
  const got = await watcher.client.next('publish');
  assert.equal(got.payload.toString(), 'exactly once');
  watcher.client.send({ type: 'pubrec', packetId: got.packetId as number });
  await watcher.client.next('pubrel');
  await watcher.client.nothing('publish', 150);
  second.close();
});

test('Clean Start deletes the stored session; one that expired while the broker was down is not resumed', async () => {
  const store = new MemoryStore<Message>({ durable: true });
  const first = startBroker({ store });
  for (const id of ['clean', 'short']) {
    const { client } = await connect(first, id, { clean: false, properties: { sessionExpiryInterval: id === 'short' ? 1 : 3600 } }, 5);
    client.send({ type: 'subscribe', packetId: 1, subscriptions: [sub(`${id}/#`)] });
    await client.next('suback');
    client.send({ type: 'disconnect', reasonCode: 0 });
    await client.waitClosed();
  }
  await publishAll(first, 'clean/x', ['dropped by clean start']);
  first.close();
  await new Promise((resolve) => setTimeout(resolve, 1100));

  const second = startBroker({ store });
  const clean = await connect(second, 'clean', { clean: true }, 5);
  assert.equal(clean.connack.sessionPresent, false);
  await clean.client.nothing('publish', 100);
  const short = await connect(second, 'short', persistent, 5);
  assert.equal(short.connack.sessionPresent, false);
  assert.equal(await store.loadSession('short').then((s) => s?.session.subscriptions.length), 0);
  second.close();
});

test('PUBACK waits for the store to commit: held while flush() is pending, sent when it resolves', async () => {
  let commit: (() => void) | undefined;
  class SlowStore extends MemoryStore<Message> {
    // A write is waiting for its commit: what a disk store says after a PUBLISH it must keep.
    override readonly pending = true;
    override flush(): Promise<void> {
      return new Promise((resolve) => (commit = resolve));
    }
  }
  const broker = startBroker({ store: new SlowStore({ durable: true }) });
  const { client } = await connect(broker, 'pub', {}, 5);
  client.send(publish('t', 'x', 1));
  await client.nothing('puback', 150);
  assert.ok(commit !== undefined, 'the acknowledgement asked the store to commit');
  commit();
  assert.equal((await client.next('puback')).packetId, 1);
  broker.close();
});

test('a session loaded for a client that left while it loaded still expires, and is not kept for ever', async () => {
  let release: (() => void) | undefined;
  class GatedStore extends MemoryStore<Message> {
    gate = false;
    override loadSession(clientId: string): ReturnType<MemoryStore<Message>['loadSession']> {
      if (!this.gate) return super.loadSession(clientId);
      return new Promise((resolve) => (release = () => resolve(super.loadSession(clientId))));
    }
  }
  const store = new GatedStore({ durable: true });
  const first = startBroker({ store });
  const { client } = await connect(first, 'gone', { clean: false, properties: { sessionExpiryInterval: 2 } }, 5);
  client.send({ type: 'disconnect', reasonCode: 0 });
  await client.waitClosed();
  first.close();

  store.gate = true;
  const second = startBroker({ store });
  const leaving = open(second, 5);
  leaving.send({ type: 'connect', protocolName: 'MQTT', protocolVersion: 5, clean: false, keepalive: 0, clientId: 'gone', properties: { sessionExpiryInterval: 2 } });
  await until(() => release !== undefined, 2000, 'the load to start');
  leaving.stream.destroy();
  // Released only once the broker has seen the connection close, so no connection takes the session.
  await leaving.waitClosed();
  await new Promise((resolve) => setTimeout(resolve, 50));
  release?.();
  await until(() => second.getSession('gone') !== undefined, 2000, 'the loaded session in memory');
  assert.equal(second.getSession('gone')?.connection, undefined);
  await until(() => second.getSession('gone') === undefined, 4000, 'the loaded session to expire');
  store.gate = false;
  assert.equal(await store.loadSession('gone'), undefined, 'the expired session is gone from the store too');
  second.close();
});

test('a store that is not durable keeps no sessions: the engine writes none through it', async () => {
  const store = new MemoryStore<Message>();
  const broker = startBroker({ store });
  const { client } = await subscribed(broker, 'dev', 'd/#');
  client.close();
  assert.equal(await store.loadSession('dev'), undefined);
  broker.close();
});
