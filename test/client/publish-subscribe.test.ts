import assert from 'node:assert/strict';
import { test } from 'node:test';
import { connect, type ReceivedMessage } from '../../src/client/index.js';
import { startBroker, within } from './helper.js';

function nextMessage(client: Awaited<ReturnType<typeof connect>>): Promise<ReceivedMessage> {
  return new Promise((resolve) => {
    const off = client.onMessage((message) => {
      off();
      resolve(message);
    });
  });
}

for (const protocolVersion of [4, 5] as const) {
  for (const qos of [0, 1, 2] as const) {
    test(`v${protocolVersion} QoS ${qos} publish/subscribe round trip through the broker`, async () => {
      const server = await startBroker();
      const subscriber = await connect(server.url, { protocolVersion });
      const publisher = await connect(server.url, { protocolVersion });
      assert.deepEqual(await subscriber.subscribe('sensors/+/temp', { qos }), [qos]);
      const received = nextMessage(subscriber);
      await publisher.publish('sensors/room1/temp', '21.5', { qos });
      const message = await within(2000, received, 'the message');
      assert.equal(message.topic, 'sensors/room1/temp');
      assert.equal(message.payload.toString(), '21.5');
      assert.equal(message.qos, qos);
      assert.equal(message.retain, false);
      assert.equal(message.dup, false);
      // The subscriber acknowledged QoS 1/2: nothing stays in flight at the broker.
      await within(2000, waitFor(() => server.broker.getSession(subscriber.clientId)?.inflight.size === 0), 'the ack');
      await publisher.end();
      await subscriber.end();
      await server.close();
    });
  }
}

async function waitFor(check: () => boolean): Promise<void> {
  while (!check()) await new Promise((resolve) => setTimeout(resolve, 5));
}

test('subscribe to several filters returns one code per filter; Buffer payloads are kept byte for byte', async () => {
  const server = await startBroker();
  const client = await connect(server.url);
  assert.deepEqual(await client.subscribe(['a/#', 'b/+', 'c'], { qos: 2 }), [2, 2, 2]);
  const received = nextMessage(client);
  const payload = Buffer.from([0, 1, 2, 255]);
  await client.publish('b/x', payload, { qos: 1 });
  assert.deepEqual((await within(2000, received, 'the message')).payload, payload);
  await client.end();
  await server.close();
});

test('retained messages are delivered to a later subscriber with retain set', async () => {
  const server = await startBroker();
  const publisher = await connect(server.url);
  await publisher.publish('status/door', 'open', { qos: 1, retain: true });
  const subscriber = await connect(server.url, { protocolVersion: 4 });
  const received = nextMessage(subscriber);
  await subscriber.subscribe('status/#', { qos: 1 });
  const message = await within(2000, received, 'the retained message');
  assert.equal(message.topic, 'status/door');
  assert.equal(message.payload.toString(), 'open');
  assert.equal(message.retain, true);
  await publisher.end();
  await subscriber.end();
  await server.close();
});

test('messages(filter) iterates only matching messages and ends when the client closes', async () => {
  const server = await startBroker();
  const client = await connect(server.url);
  await client.subscribe('#', { qos: 1 });
  const temps = client.messages('sensors/+/temp');
  const all = client.messages();
  const collected: string[] = [];
  const reading = (async () => {
    for await (const message of temps) collected.push(`${message.topic}=${message.payload.toString()}`);
    return 'ended';
  })();
  await client.publish('sensors/room1/temp', '21.5', { qos: 1 });
  await client.publish('sensors/room1/humidity', '40', { qos: 1 });
  await client.publish('sensors/room2/temp', '19', { qos: 1 });
  const first = await within(2000, all.next(), 'the first message');
  assert.equal(first.done, false);
  assert.equal(first.value?.topic, 'sensors/room1/temp');
  await within(2000, waitFor(() => collected.length === 2), 'two temperatures');
  await client.end();
  assert.equal(await within(2000, reading, 'the iteration to end'), 'ended');
  assert.deepEqual(collected, ['sensors/room1/temp=21.5', 'sensors/room2/temp=19']);
  // `all` still yields what it buffered, then ends.
  assert.equal((await all.next()).value?.topic, 'sensors/room1/humidity');
  assert.equal((await all.next()).value?.topic, 'sensors/room2/temp');
  assert.equal((await all.next()).done, true);
  await server.close();
});

test('breaking out of messages() detaches the iterator', async () => {
  const server = await startBroker();
  const client = await connect(server.url);
  await client.subscribe('t', { qos: 1 });
  const iterator = client.messages('t');
  await client.publish('t', '1', { qos: 1 });
  for await (const message of iterator) {
    assert.equal(message.payload.toString(), '1');
    break;
  }
  assert.equal((await iterator.next()).done, true);
  assert.throws(() => client.messages('a/#/b'), /messages\(\): the filter is not valid/);
  await client.end();
  await server.close();
});

test('unsubscribe stops delivery and returns one code per filter (v5 and 3.1.1)', async () => {
  const server = await startBroker();
  for (const protocolVersion of [4, 5] as const) {
    const client = await connect(server.url, { protocolVersion });
    await client.subscribe(['x/1', 'x/2']);
    assert.deepEqual(await client.unsubscribe(['x/1', 'x/2']), [0, 0]);
    let count = 0;
    client.onMessage(() => count++);
    await client.publish('x/1', 'late', { qos: 1 });
    await client.subscribe('marker');
    const marker = nextMessage(client);
    await client.publish('marker', 'm');
    assert.equal((await within(2000, marker, 'the marker')).topic, 'marker');
    assert.equal(count, 1); // only the marker
    await client.end();
  }
  await server.close();
});

test('invalid topics and arguments reject without sending anything', async () => {
  const server = await startBroker();
  const client = await connect(server.url);
  await assert.rejects(client.publish('a/+', 'x'), { code: 'MOAT_ERR_INVALID_TOPIC', message: /wildcard/ });
  await assert.rejects(client.publish('a', 'x', { qos: 3 as 0 }), /qos must be 0, 1 or 2/);
  await assert.rejects(client.subscribe('a/#/b'), { code: 'MOAT_ERR_INVALID_TOPIC' });
  await assert.rejects(client.subscribe([]), /non-empty array/);
  assert.equal(client.connected, true);
  await client.end();
  await assert.rejects(client.publish('a', 'x'), { code: 'MOAT_ERR_CLIENT_CLOSED', message: /not connected\. The client ended the connection/ });
  await server.close();
});

test('v5 topic aliases the server sends are resolved', async () => {
  const server = await startBroker();
  const client = await connect(server.url, { properties: { topicAliasMaximum: 4 } });
  await client.subscribe('alias/#', { qos: 1 });
  const iterator = client.messages();
  for (const payload of ['1', '2', '3']) await client.publish('alias/long/topic/name', payload, { qos: 1 });
  for (const payload of ['1', '2', '3']) {
    const { value } = await within(2000, iterator.next(), 'a message');
    assert.equal(value?.topic, 'alias/long/topic/name');
    assert.equal(value?.payload.toString(), payload);
    assert.equal(value?.properties?.topicAlias, undefined);
  }
  await client.end();
  await server.close();
});

test('QoS 1 publishes beyond the server Receive Maximum are queued, then all complete in order', async () => {
  const server = await startBroker({ maxInflightMessages: 2 });
  const client = await connect(server.url);
  assert.equal(client.serverProperties.receiveMaximum, 2);
  await client.subscribe('q', { qos: 1 });
  const received: string[] = [];
  client.onMessage((message) => received.push(message.payload.toString()));
  const sent = Array.from({ length: 50 }, (_, i) => String(i));
  await within(5000, Promise.all(sent.map((payload, i) => client.publish('q', payload, { qos: (i % 2 === 0 ? 1 : 2) as 1 | 2 }))), 'all publishes');
  await within(2000, waitFor(() => received.length === sent.length), 'all messages');
  assert.deepEqual(received, sent);
  await client.end();
  await server.close();
});
