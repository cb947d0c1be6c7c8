// The Store contract (src/store/store.ts), as MQTT.js's abstract store test and aedes-persistence's
// abstract tests do for theirs: every Store implementation runs this suite. Each test gets a fresh
// store from `open`; writes are read back after flush(), as a durable store only promises them then.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { InflightRecord, QueuedRecord, SessionRecord, Store, StoredMessage } from '../../src/store/store.js';

export function message(topic: string, payload = 'x', overrides: Partial<StoredMessage> = {}): StoredMessage {
  return { topic, payload: Buffer.from(payload), qos: 1, retain: true, properties: undefined, expiresAt: 0, origin: 'pub', ...overrides };
}

function session(clientId: string, overrides: Partial<SessionRecord> = {}): SessionRecord {
  return {
    clientId,
    expiryInterval: 3600,
    subscriptions: [{ filter: 'a/#', qos: 1, noLocal: false, retainAsPublished: false, retainHandling: 0, subscriptionIdentifier: undefined }],
    will: undefined,
    disconnectedAt: undefined,
    ...overrides,
  };
}

function queued(id: number, topic = `q/${id}`): QueuedRecord {
  return { id, message: message(topic, `m${id}`, { retain: false }), qos: 1, retain: false, subscriptionIdentifiers: undefined };
}

function inflight(packetId: number, state: 'publish' | 'pubrel' = 'publish'): InflightRecord {
  return { packetId, state, message: message(`f/${packetId}`, `p${packetId}`, { retain: false, qos: 2 }), qos: 2, retain: false, subscriptionIdentifiers: [7] };
}

async function sorted(store: Store, filter: string): Promise<string[]> {
  await store.flush();
  return [...store.matchRetained(filter)].map((m) => m.topic).sort();
}

export function storeContract(name: string, open: () => Store | Promise<Store>): void {
  const withStore = (title: string, body: (store: Store) => Promise<void>): void => {
    test(`${name}: ${title}`, async () => {
      const store = await open();
      try {
        await body(store);
      } finally {
        await store.close();
      }
    });
  };

  withStore('pending: nothing to wait for on a fresh store, nor once flush has resolved', async (store) => {
    assert.equal(store.pending, false);
    store.putRetained(message('p/1'));
    await store.flush();
    assert.equal(store.pending, false);
  });

  withStore('a retained message is kept per topic: the last one wins, delete removes it', async (store) => {
    store.putRetained(message('a/b', 'one'));
    store.putRetained(message('a/b', 'two'));
    store.putRetained(message('a/c', 'three'));
    await store.flush();
    assert.equal(store.retainedCount, 2);
    assert.equal(store.retainedBytes, 'two'.length + 'three'.length);
    assert.equal(store.getRetained('a/b')?.payload.toString(), 'two');
    store.deleteRetained('a/b');
    store.deleteRetained('never/there');
    await store.flush();
    assert.equal(store.getRetained('a/b'), undefined);
    assert.equal(store.retainedCount, 1);
    assert.equal(store.retainedBytes, 'three'.length);
  });

  withStore('the retained message keeps every field it was given', async (store) => {
    const original = message('p/q', 'payload', { qos: 2, expiresAt: 1_900_000_000_000, origin: 'dev-7', properties: { contentType: 'text/plain', userProperties: [['k', 'v']] } });
    store.putRetained(original);
    await store.flush();
    const back = store.getRetained('p/q');
    assert.ok(back !== undefined);
    assert.deepEqual({ ...back, payload: back.payload.toString() }, { ...original, payload: 'payload' });
  });

  withStore('matchRetained follows the filter rules: +, #, exact, and $-topics only when named', async (store) => {
    for (const topic of ['a', 'a/b', 'a/b/c', 'a/x/c', 'b/b', '$SYS/uptime', '/lead']) store.putRetained(message(topic));
    assert.deepEqual(await sorted(store, '#'), ['/lead', 'a', 'a/b', 'a/b/c', 'a/x/c', 'b/b']);
    assert.deepEqual(await sorted(store, 'a/#'), ['a', 'a/b', 'a/b/c', 'a/x/c']);
    assert.deepEqual(await sorted(store, 'a/+/c'), ['a/b/c', 'a/x/c']);
    assert.deepEqual(await sorted(store, '+/b'), ['a/b', 'b/b']);
    assert.deepEqual(await sorted(store, 'a/b'), ['a/b']);
    assert.deepEqual(await sorted(store, '+/+'), ['/lead', 'a/b', 'b/b']);
    assert.deepEqual(await sorted(store, '$SYS/#'), ['$SYS/uptime']);
    assert.deepEqual(await sorted(store, 'none/+'), []);
  });

  withStore('a session saved is loaded with its record; saving again replaces the record', async (store) => {
    assert.equal(await store.loadSession('c1'), undefined);
    store.saveSession(session('c1'));
    const will = { topic: 'w', payload: Buffer.from('bye'), qos: 1 as const, retain: false, properties: { willDelayInterval: 5 } };
    store.saveSession(session('c1', { expiryInterval: 0xffffffff, will, disconnectedAt: 1234 }));
    await store.flush();
    const loaded = await store.loadSession('c1');
    assert.equal(loaded?.session.expiryInterval, 0xffffffff);
    assert.equal(loaded?.session.disconnectedAt, 1234);
    assert.equal(loaded?.session.will?.payload.toString(), 'bye');
    assert.deepEqual(loaded?.session.subscriptions.map((s) => s.filter), ['a/#']);
    assert.deepEqual(loaded?.queued, []);
    assert.deepEqual(loaded?.inflight, []);
    assert.deepEqual(loaded?.awaitingPubrel, []);
  });

  withStore('the queue keeps id order however it was written, and dequeue removes one entry', async (store) => {
    store.saveSession(session('c1'));
    for (const id of [3, 1, 2, 5, 4]) store.enqueue('c1', queued(id));
    store.dequeue('c1', 2);
    store.dequeue('c1', 99);
    await store.flush();
    const loaded = await store.loadSession('c1');
    assert.deepEqual(loaded?.queued.map((q) => q.id), [1, 3, 4, 5]);
    assert.equal(loaded?.queued[0]?.message.payload.toString(), 'm1');
  });

  withStore('in-flight state is kept per packet id: PUBREL sent replaces PUBLISH sent; delete removes it', async (store) => {
    store.saveSession(session('c1'));
    store.putInflight('c1', inflight(9));
    store.putInflight('c1', inflight(65535));
    store.putInflight('c1', inflight(1));
    store.putInflight('c1', inflight(9, 'pubrel'));
    store.deleteInflight('c1', 1);
    await store.flush();
    const loaded = await store.loadSession('c1');
    assert.deepEqual(loaded?.inflight.map((f) => [f.packetId, f.state]), [[9, 'pubrel'], [65535, 'publish']]);
    assert.deepEqual(loaded?.inflight[0]?.subscriptionIdentifiers, [7]);
  });

  withStore('QoS 2 packet ids awaiting PUBREL are kept per session, ascending, until deleted', async (store) => {
    store.saveSession(session('c1'));
    for (const id of [65535, 1, 300]) store.putAwaitingPubrel('c1', id);
    store.putAwaitingPubrel('c1', 1);
    store.deleteAwaitingPubrel('c1', 300);
    store.putAwaitingPubrel('ghost', 5);
    await store.flush();
    assert.deepEqual((await store.loadSession('c1'))?.awaitingPubrel, [1, 65535]);
    assert.equal(await store.loadSession('ghost'), undefined);
  });

  withStore('deleting a session removes its queue and in-flight messages; other sessions keep theirs', async (store) => {
    store.saveSession(session('c1'));
    store.saveSession(session('c2'));
    store.enqueue('c1', queued(1));
    store.enqueue('c2', queued(1));
    store.putInflight('c1', inflight(1));
    store.putAwaitingPubrel('c1', 9);
    store.deleteSession('c1');
    await store.flush();
    assert.equal(await store.loadSession('c1'), undefined);
    assert.deepEqual((await store.loadSession('c2'))?.queued.map((q) => q.id), [1]);
    // Saved again, it starts empty: nothing of the old session comes back.
    store.saveSession(session('c1'));
    await store.flush();
    const again = await store.loadSession('c1');
    assert.deepEqual([again?.queued.length, again?.inflight.length, again?.awaitingPubrel.length], [0, 0, 0]);
  });

  withStore('queue and in-flight writes for a client id with no session are ignored', async (store) => {
    store.enqueue('ghost', queued(1));
    store.putInflight('ghost', inflight(1));
    await store.flush();
    assert.equal(await store.loadSession('ghost'), undefined);
  });

  withStore('sessions() lists every saved session once', async (store) => {
    for (const id of ['a', 'b', 'c']) store.saveSession(session(id));
    store.saveSession(session('b', { expiryInterval: 1 }));
    store.deleteSession('c');
    await store.flush();
    const records: SessionRecord[] = [];
    for await (const record of store.sessions()) records.push(record);
    assert.deepEqual(records.map((r) => [r.clientId, r.expiryInterval]).sort(), [['a', 3600], ['b', 1]]);
  });

  withStore('payloads and topics at the edges: empty, binary with zero bytes, a 65,535-byte topic', async (store) => {
    store.putRetained(message('empty', ''));
    const binary = Buffer.from([0, 255, 0, 1]);
    store.putRetained({ ...message('bin'), payload: binary });
    const longTopic = `t/${'x'.repeat(65_533)}`;
    store.putRetained(message(longTopic, 'long'));
    await store.flush();
    assert.equal(store.getRetained('empty')?.payload.length, 0);
    assert.deepEqual(store.getRetained('bin')?.payload, binary);
    assert.equal(store.getRetained(longTopic)?.payload.toString(), 'long');
  });

  withStore('flush() resolves, also with nothing to commit and when called twice at once', async (store) => {
    await store.flush();
    store.putRetained(message('x'));
    await Promise.all([store.flush(), store.flush()]);
    assert.equal(store.retainedCount, 1);
    assert.equal(typeof store.durable, 'boolean');
  });
}
