// max_subscriptions_per_client and max_topic_length on a real moat process, with raw packets
// (moat's own options: Mosquitto 2.0.11 has neither and refuses to start with them). Past the
// subscription limit a filter gets SUBACK 0x97 with a reason string (v5) or 0x80 (3.1.1), a
// filter the client holds already does not count twice; a topic over the length limit gets SUBACK
// 0x8F, PUBACK 0x90 (v5 QoS 1) or the connection closed (3.1.1); each counted in $SYS.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { encode } from '../../src/codec/encode.js';
import type { Packet, ProtocolVersion, Subscription } from '../../src/codec/types.js';
import { startMoat, type RunningMoat } from '../kit/index.js';
import { RawClient } from '../faults/raw-client.js';

const sub = (filter: string): Subscription => ({ filter, qos: 0, noLocal: false, retainAsPublished: false, retainHandling: 0 });

async function connected(broker: RunningMoat, clientId: string, version: ProtocolVersion): Promise<RawClient> {
  const client = await RawClient.open({ host: broker.host, port: broker.port, version });
  client.send(encode({ type: 'connect', protocolName: 'MQTT', protocolVersion: version, clean: true, keepalive: 60, clientId }, version));
  assert.ok(await client.until(() => client.packets.some((p) => p.type === 'connack'), 5000), client.describe());
  return client;
}

async function suback(client: RawClient, packetId: number): Promise<Packet & { type: 'suback' }> {
  const find = (): Packet | undefined => client.packets.find((p) => p.type === 'suback' && p.packetId === packetId);
  assert.ok(await client.until(() => find() !== undefined, 5000), client.describe());
  return find() as Packet & { type: 'suback' };
}

describe('max_subscriptions_per_client 3, max_topic_length 32', () => {
  let broker: RunningMoat;
  const clients: RawClient[] = [];
  before(async () => {
    broker = await startMoat({ config: 'listener 0 127.0.0.1\nallow_anonymous true\nmax_subscriptions_per_client 3\nmax_topic_length 32\nsys_interval 1\n' });
  });
  after(async () => {
    for (const client of clients) client.destroy();
    await broker?.stop();
  });

  test('the fourth filter is refused (0x97 with a reason / 0x80); re-subscribing does not count twice; others still subscribe', async () => {
    const v5 = await connected(broker, 'subs-v5', 5);
    const v4 = await connected(broker, 'subs-v4', 4);
    clients.push(v5, v4);
    v5.send(encode({ type: 'subscribe', packetId: 1, subscriptions: [sub('s/1'), sub('s/2'), sub('s/3'), sub('s/4')] }, 5));
    const first = await suback(v5, 1);
    assert.deepEqual(first.reasonCodes, [0, 0, 0, 0x97]);
    assert.match(first.properties?.reasonString ?? '', /max_subscriptions_per_client/);
    v5.send(encode({ type: 'subscribe', packetId: 2, subscriptions: [sub('s/1'), sub('s/3')] }, 5));
    assert.deepEqual((await suback(v5, 2)).reasonCodes, [0, 0]);
    v4.send(encode({ type: 'subscribe', packetId: 1, subscriptions: [sub('t/1'), sub('t/2'), sub('t/3'), sub('t/4'), sub('t/5')] }, 4));
    assert.deepEqual((await suback(v4, 1)).reasonCodes, [0, 0, 0, 0x80, 0x80]);
    // The subscriptions inside the limit work.
    v4.send(encode({ type: 'publish', topic: 's/2', payload: Buffer.from('inside'), qos: 0, retain: false, dup: false }, 4));
    assert.ok(await v5.until(() => v5.packets.some((p) => p.type === 'publish' && p.topic === 's/2'), 5000), v5.describe());
  });

  test('a topic over max_topic_length: SUBACK 0x8F / 0x80, PUBACK 0x90 with a reason (v5 QoS 1), closed (3.1.1)', async () => {
    const v5 = await connected(broker, 'len-v5', 5);
    const v4 = await connected(broker, 'len-v4', 4);
    clients.push(v5, v4);
    const long = 'l/'.padEnd(33, 'x');
    v5.send(encode({ type: 'subscribe', packetId: 1, subscriptions: [sub(long), sub('l/'.padEnd(32, 'x'))] }, 5));
    assert.deepEqual((await suback(v5, 1)).reasonCodes, [0x8f, 0]);
    v5.send(encode({ type: 'publish', topic: long, payload: Buffer.from('x'), qos: 1, packetId: 9, retain: false, dup: false }, 5));
    assert.ok(await v5.until(() => v5.packets.some((p) => p.type === 'puback'), 5000), v5.describe());
    const puback = v5.packets.find((p) => p.type === 'puback');
    assert.ok(puback?.type === 'puback');
    assert.equal(puback.reasonCode, 0x90);
    assert.match(puback.properties?.reasonString ?? '', /max_topic_length/);
    v4.send(encode({ type: 'subscribe', packetId: 1, subscriptions: [sub(long)] }, 4));
    assert.deepEqual((await suback(v4, 1)).reasonCodes, [0x80]);
    v4.send(encode({ type: 'publish', topic: long, payload: Buffer.from('x'), qos: 0, retain: false, dup: false }, 4));
    assert.ok(await v4.waitClosed(5000), v4.describe());
  });

  test('each refusal is counted in $SYS/broker/refused/<reason>', async () => {
    const sys = await connected(broker, 'subs-sys', 4);
    clients.push(sys);
    // One short filter: the topic names themselves are longer than max_topic_length 32.
    sys.send(encode({ type: 'subscribe', packetId: 1, subscriptions: [sub('$SYS/broker/refused/#')] }, 4));
    const last = (topic: string): string | undefined => {
      const found = sys.packets.filter((p) => p.type === 'publish' && p.topic === topic).at(-1);
      return found?.type === 'publish' ? found.payload.toString() : undefined;
    };
    const counted = (): boolean => last('$SYS/broker/refused/max_subscriptions_per_client') === '3' && last('$SYS/broker/refused/max_topic_length') === '4';
    assert.ok(await sys.until(counted, 5000), sys.describe());
  });
});
