// moat/broker's front object: an embedding application serves a stream, publishes, reads stats,
// tells its events from another broker's, and closes; nothing of the engine's internals is exported.
import assert from 'node:assert/strict';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { test } from 'node:test';
import * as front from '../../src/broker/index.js';
import { BROKER_EVENTS, createBroker } from '../../src/broker/index.js';
import { duplexPair, TestClient } from './helper.js';

test('moat/broker exports the front and the events, not the engine', () => {
  assert.deepEqual(Object.keys(front).sort(), ['BROKER_EVENTS', 'createBroker', 'silentLogger']);
});

test('createBroker: serve a stream, publish to its subscriber, stats, owns its events only, close', async () => {
  const broker = createBroker();
  const other = createBroker();
  const seen: boolean[] = [];
  const listener = (message: unknown): void => void seen.push(broker.owns(message as { broker: unknown }));
  subscribe(BROKER_EVENTS.clientConnected, listener);
  try {
    for (const target of [broker, other]) {
      const [clientEnd, brokerEnd] = duplexPair();
      target.handle(brokerEnd, { remoteAddress: '127.0.0.1' });
      const client = new TestClient(clientEnd, 5);
      client.send({ type: 'connect', protocolName: 'MQTT', protocolVersion: 5, clean: true, keepalive: 0, clientId: 'app' });
      await client.next('connack');
      if (target !== broker) continue;
      client.send({ type: 'subscribe', packetId: 1, subscriptions: [{ filter: 'app/#', qos: 1, noLocal: false, retainAsPublished: false, retainHandling: 0 }] });
      await client.next('suback');
      assert.equal(broker.publish('app/state', 'ready', { qos: 1, retain: true, properties: { contentType: 'text/plain' } }), 1);
      const message = await client.next('publish');
      assert.deepEqual([message.topic, message.payload.toString(), message.qos, message.properties?.contentType], ['app/state', 'ready', 1, 'text/plain']);
      const stats = broker.stats();
      assert.deepEqual([stats.connected, stats.sessions, stats.subscriptions, stats.retained], [1, 1, 1, 1]);
      await broker.close();
      assert.equal(await client.waitClosed(), true);
    }
    assert.deepEqual(seen, [true, false]);
  } finally {
    unsubscribe(BROKER_EVENTS.clientConnected, listener);
    await other.close();
  }
});
