// The engine on the SQLite store, in process: a broker closed and a new one opened on the same file
// (a new SqliteStore, as a restarted process would) resumes persistent sessions with their queued
// QoS 1 messages and their in-flight QoS 1/2 state. test/broker/20-durable-store.test.ts covers the
// same engine paths on a MemoryStore standing in for the disk; this one puts the disk under them.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import type { Broker } from '../../src/broker/broker.js';
import type { Message } from '../../src/broker/message.js';
import type { PublishPacket, Subscription } from '../../src/codec/types.js';
import { SqliteStore } from '../../src/store/sqlite.js';
import { connect, startBroker, type TestClient } from './helper.js';

const dir = mkdtempSync(join(tmpdir(), 'moat-sqlite-broker-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function sub(filter: string, qos: 0 | 1 | 2 = 1): Subscription {
  return { filter, qos, noLocal: false, retainAsPublished: false, retainHandling: 0 };
}

function publish(topic: string, payload: string, packetId: number, qos: 1 | 2 = 1): PublishPacket {
  return { type: 'publish', topic, payload: Buffer.from(payload), qos, retain: false, dup: false, packetId };
}

const persistent = { clean: false, properties: { sessionExpiryInterval: 3600 } };

async function subscribed(broker: Broker, clientId: string, filter: string, qos: 0 | 1 | 2 = 1) {
  const { client } = await connect(broker, clientId, persistent, 5);
  client.send({ type: 'subscribe', packetId: 1, subscriptions: [sub(filter, qos)] });
  await client.next('suback');
  return client;
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
  await client.waitClosed();
}

/** Closes the broker, waits for its connections to go (their last session writes), then closes the store. */
async function shutDown(broker: Broker, store: SqliteStore<Message>, clients: TestClient[]): Promise<void> {
  broker.close();
  for (const client of clients) await client.waitClosed();
  await new Promise((resolve) => setImmediate(resolve));
  await store.close();
}

test('sqlite: queued QoS 1 messages of an offline persistent session survive a broker restart on the same file, in order', async () => {
  const file = join(dir, 'queued.db');
  const store = new SqliteStore<Message>(file);
  const first = startBroker({ store });
  const client = await subscribed(first, 'dev', 'd/#');
  client.send({ type: 'disconnect', reasonCode: 0 });
  await client.waitClosed();
  await publishAll(first, 'd/1', ['one', 'two', 'three']);
  await shutDown(first, store, []);

  const reopened = new SqliteStore<Message>(file);
  const second = startBroker({ store: reopened });
  const back = await connect(second, 'dev', persistent, 5);
  assert.equal(back.connack.sessionPresent, true);
  const got: string[] = [];
  for (let i = 0; i < 3; i++) {
    const message = await back.client.next('publish');
    got.push(message.payload.toString());
    back.client.send({ type: 'puback', packetId: message.packetId as number });
  }
  assert.deepEqual(got, ['one', 'two', 'three']);
  await publishAll(second, 'd/2', ['four']);
  assert.equal((await back.client.next('publish')).payload.toString(), 'four');
  await shutDown(second, reopened, [back.client]);
});

test('sqlite: an unacknowledged QoS 1 delivery is resent with DUP after a restart; a QoS 2 one past PUBREC gets its PUBREL', async () => {
  const file = join(dir, 'inflight.db');
  const store = new SqliteStore<Message>(file);
  const first = startBroker({ store });
  const one = await subscribed(first, 'q1', 'a/1', 1);
  const two = await subscribed(first, 'q2', 'a/2', 2);
  await publishAll(first, 'a/1', ['never acked']);
  await publishAll(first, 'a/2', ['half done'], 2);
  assert.equal((await one.next('publish')).payload.toString(), 'never acked');
  const qos2 = await two.next('publish');
  two.send({ type: 'pubrec', packetId: qos2.packetId as number });
  await two.next('pubrel');
  await shutDown(first, store, [one, two]);

  const reopened = new SqliteStore<Message>(file);
  const second = startBroker({ store: reopened });
  const oneBack = await connect(second, 'q1', persistent, 5);
  const resent = await oneBack.client.next('publish');
  assert.deepEqual([resent.payload.toString(), resent.dup], ['never acked', true]);
  const twoBack = await connect(second, 'q2', persistent, 5);
  const pubrel = await twoBack.client.next('pubrel');
  assert.equal(pubrel.packetId, qos2.packetId);
  twoBack.client.send({ type: 'pubcomp', packetId: pubrel.packetId });
  await twoBack.client.nothing('publish', 100);
  await shutDown(second, reopened, [oneBack.client, twoBack.client]);
});
