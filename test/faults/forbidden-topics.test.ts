// Issue 9, defect 5: topics the specification forbids were accepted and forwarded. A will topic is
// published later as a Topic Name, so an empty one, one with `#` or `+`, or one that is not UTF-8
// must be refused at CONNECT [MQTT-3.1.3-11, MQTT-4.7.0-1]; a v5 Response Topic is a Topic Name too
// and may not hold wildcards [MQTT-3.3.2-14]. Each case runs against moat and Debian's Mosquitto,
// with a `#` subscriber watching that no such will is ever delivered.
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import mqtt, { type MqttClient } from 'mqtt';
import type { ProtocolVersion } from '../../src/codec/types.js';
import { brokerTargets, type RunningBroker } from '../kit/index.js';
import { packet, props, RawClient, str, u16, validConnect } from './raw-client.js';

/** CONNECT with clean start and a QoS 0 will whose topic is exactly `topic` (raw bytes allowed). */
function connectWithWill(version: ProtocolVersion, clientId: string, topic: Buffer, willProperties: Buffer = props()): Buffer {
  const head = Buffer.concat([str('MQTT'), Buffer.from([version, 0x06]), u16(60)]);
  return version === 5
    ? packet(0x10, head, props(), str(clientId), willProperties, str(topic), str('gone'))
    : packet(0x10, head, str(clientId), str(topic), str('gone'));
}

const responseTopic = (topic: string): Buffer => Buffer.concat([Buffer.from([0x08]), str(topic)]);

/** `moatOnly`: Mosquitto 2.0.11 accepts it (a will Response Topic is not checked there). */
const WILL_CASES: ReadonlyArray<{ name: string; topic: Buffer; willProperties?: Buffer; v5Only?: boolean; moatOnly?: boolean }> = [
  { name: 'an empty will topic [MQTT-4.7.3-1]', topic: Buffer.alloc(0) },
  { name: 'a will topic with # (a/#) [MQTT-4.7.0-1]', topic: Buffer.from('a/#') },
  { name: 'a will topic with + (a/+) [MQTT-4.7.0-1]', topic: Buffer.from('a/+') },
  { name: 'a will topic that is not UTF-8 (overlong C0 AF) [MQTT-1.5.4-1]', topic: Buffer.from([0x61, 0x2f, 0xc0, 0xaf]) },
  { name: 'a will Response Topic with a wildcard (r/+)', topic: Buffer.from('a/b'), willProperties: props(responseTopic('r/+')), v5Only: true, moatOnly: true },
];

for (const target of brokerTargets()) {
  describe(`forbidden will topics are refused, never published (${target.name})`, () => {
    let broker: RunningBroker;
    let watcher: MqttClient;
    const seen: string[] = [];

    before(async () => {
      broker = await target.start();
      watcher = await mqtt.connectAsync(`mqtt://${broker.host}:${broker.port}`, { protocolVersion: 5, clientId: 'will-watcher', reconnectPeriod: 0 });
      watcher.on('message', (topic) => seen.push(topic));
      await watcher.subscribeAsync('#', { qos: 1 });
    });
    after(async () => {
      await watcher?.endAsync();
      await broker?.stop();
    });

    for (const version of [4, 5] as const) {
      for (const c of WILL_CASES) {
        if ((c.v5Only === true && version !== 5) || (c.moatOnly === true && target.name !== 'moat')) continue;
        test(`v${version}: ${c.name}`, async () => {
          const client = await RawClient.open({ host: broker.host, port: broker.port, version });
          try {
            client.send(connectWithWill(version, `bad-will-${version}`, c.topic, c.willProperties));
            assert.ok(await client.waitClosed(2000), `the broker kept the connection open; ${client.describe()}`);
            const replies = client.packets.map((p) => (p.type === 'connack' ? `connack 0x${p.reasonCode.toString(16)}` : p.type));
            // Mosquitto closes without a CONNACK; moat tells a v5 client why (CONNACK 0x90, or 0x81 for bytes that are not UTF-8).
            if (target.name === 'moat' && version === 5) {
              const utf8 = c.topic.includes(0xc0);
              assert.deepEqual(replies, utf8 ? [] : ['connack 0x90'], client.describe());
              const connack = client.packets[0];
              if (connack?.type === 'connack') assert.match(connack.properties?.reasonString ?? '', /will/i);
            } else {
              assert.deepEqual(replies, [], `expected the close with no CONNACK; ${client.describe()}`);
            }
          } finally {
            client.destroy();
          }
          await sleep(100);
          assert.deepEqual(seen.filter((t) => !t.startsWith('$')), [], 'no will reached the # subscriber');
        });
      }
    }
  });
}

describe('a PUBLISH whose Response Topic holds a wildcard is refused with DISCONNECT 0x82 (moat) [MQTT-3.3.2-14]', () => {
  // Mosquitto 2.0.11 accepts and forwards it; moat follows the specification.
  const moat = brokerTargets().find((t) => t.name === 'moat');
  let broker: RunningBroker;
  let watcher: MqttClient;
  const seen: Array<{ topic: string; responseTopic: string | undefined }> = [];
  before(async () => {
    if (moat === undefined) return;
    broker = await moat.start();
    watcher = await mqtt.connectAsync(`mqtt://${broker.host}:${broker.port}`, { protocolVersion: 5, clientId: 'rt-watcher', reconnectPeriod: 0 });
    watcher.on('message', (topic, _payload, p) => seen.push({ topic, responseTopic: p.properties?.responseTopic }));
    await watcher.subscribeAsync('req/#', { qos: 1 });
  });
  after(async () => {
    await watcher?.endAsync();
    await broker?.stop();
  });

  for (const [label, rt] of [['#', 'replies/#'], ['+', 'replies/+/x']] as const) {
    test(`Response Topic ${rt} (${label})`, { skip: moat === undefined }, async () => {
      const client = await RawClient.open({ host: broker.host, port: broker.port, version: 5 });
      try {
        client.send(validConnect(5, `rt-${label}`));
        assert.equal((await client.waitFor('connack', 2000))?.reasonCode, 0);
        // PUBLISH QoS 1 to req/x, packet id 1, properties: Response Topic.
        client.send(packet(0x32, str('req/x'), u16(1), props(responseTopic(rt)), Buffer.from('ping')));
        assert.ok(await client.waitClosed(2000), client.describe());
        const last = client.packets.at(-1);
        assert.equal(last?.type, 'disconnect', client.describe());
        if (last?.type === 'disconnect') assert.equal(last.reasonCode, 0x82);
      } finally {
        client.destroy();
      }
      // A valid Response Topic still goes through, so the watcher is alive and saw only that.
      await watcher.publishAsync('req/ok', 'ping', { qos: 1, properties: { responseTopic: 'replies/ok' } });
      await sleep(100);
      assert.deepEqual(seen, [{ topic: 'req/ok', responseTopic: 'replies/ok' }]);
      seen.length = 0;
    });
  }
});
