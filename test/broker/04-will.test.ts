import assert from 'node:assert/strict';
import { test } from 'node:test';
import { connect, startBroker } from './helper.js';

const will = (topic: string, payload: string, willDelayInterval?: number) => ({
  topic,
  payload: Buffer.from(payload),
  qos: 1 as const,
  retain: false,
  ...(willDelayInterval === undefined ? {} : { properties: { willDelayInterval } }),
});

async function watcher(broker: ReturnType<typeof startBroker>, filter = 'will/#') {
  const { client } = await connect(broker, `watch-${filter}`);
  client.send({ type: 'subscribe', packetId: 1, subscriptions: [{ filter, qos: 1, noLocal: false, retainAsPublished: false, retainHandling: 0 }] });
  await client.next('suback');
  return client;
}

test('the will is published when the connection drops without DISCONNECT', async () => {
  const broker = startBroker();
  const watch = await watcher(broker);
  const { client } = await connect(broker, 'dies', { will: will('will/dies', 'gone') });
  client.stream.destroy();
  const message = await watch.next('publish');
  assert.equal(message.topic, 'will/dies');
  assert.equal(message.payload.toString(), 'gone');
  broker.close();
});

test('no will after a normal DISCONNECT [MQTT-3.14.4-3]', async () => {
  const broker = startBroker();
  const watch = await watcher(broker);
  const { client } = await connect(broker, 'polite', { will: will('will/polite', 'x') });
  client.send({ type: 'disconnect' });
  await client.waitClosed();
  await watch.nothing('publish', 150);
  broker.close();
});

test('v5 DISCONNECT 0x04 asks for the will to be published', async () => {
  const broker = startBroker();
  const watch = await watcher(broker);
  const { client } = await connect(broker, 'asks', { will: will('will/asks', 'please') }, 5);
  client.send({ type: 'disconnect', reasonCode: 0x04 });
  assert.equal((await watch.next('publish')).payload.toString(), 'please');
  broker.close();
});

test('the will is published on keep alive timeout', async () => {
  const broker = startBroker();
  const watch = await watcher(broker);
  await connect(broker, 'silent', { keepalive: 1, will: will('will/silent', 'timeout') });
  const message = await watch.next('publish', () => true, 4000);
  assert.equal(message.payload.toString(), 'timeout');
  broker.close();
});

test('will delay: not sent if the session resumes within the delay [MQTT-3.1.3-9]', async () => {
  const broker = startBroker();
  const watch = await watcher(broker);
  const properties = { sessionExpiryInterval: 60 };
  const first = await connect(broker, 'blip', { clean: false, properties, will: will('will/blip', 'late', 1) }, 5);
  first.client.stream.destroy();
  await new Promise((r) => setTimeout(r, 100));
  await connect(broker, 'blip', { clean: false, properties }, 5);
  await watch.nothing('publish', 1300);
  broker.close();
});

test('will delay: sent after the delay when the client stays away', async () => {
  const broker = startBroker();
  const watch = await watcher(broker);
  const { client } = await connect(broker, 'away', { clean: false, properties: { sessionExpiryInterval: 60 }, will: will('will/away', 'delayed', 1) }, 5);
  const started = Date.now();
  client.stream.destroy();
  await watch.next('publish', () => true, 3000);
  assert.ok(Date.now() - started >= 900);
  broker.close();
});
