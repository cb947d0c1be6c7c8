// Interop: MQTT.js v5 (npm `mqtt`) with MQTT 5 features against each broker.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import type { IPublishPacket } from 'mqtt';
import type { RunningBroker } from '../kit/broker.js';
import { connectMqttJs, type ConnectedClient, type ReceivedMessage } from '../kit/mqttjs.js';
import { brokerTargets } from '../kit/targets.js';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Subscription identifiers of a received PUBLISH, as a sorted list (mqtt-packet gives a number or an array). */
function subscriptionIds(packet: IPublishPacket): number[] {
  const ids = packet.properties?.subscriptionIdentifier;
  if (ids === undefined) return [];
  return (Array.isArray(ids) ? ids : [ids]).slice().sort((a, b) => a - b);
}

const topicsOf = (messages: readonly ReceivedMessage[]): string[] => messages.map((m) => m.topic);

for (const target of brokerTargets()) {
  describe(`MQTT.js (MQTT 5) against ${target.name}`, () => {
    let broker: RunningBroker | undefined;
    const clients: ConnectedClient[] = [];

    before(async () => {
      broker = await target.start();
    });
    after(async () => {
      await Promise.all(clients.map((c) => c.drop()));
      await broker?.stop();
    });

    const unique = (name: string): string => `mqttjs/${target.name}/${name}/${randomUUID().slice(0, 8)}`;
    const connect = async (options: Parameters<typeof connectMqttJs>[1] = {}): Promise<ConnectedClient> => {
      assert.ok(broker, `${target.name} did not start`);
      const c = await connectMqttJs(broker, options);
      clients.push(c);
      return c;
    };

    test('a PUBLISH that sets a topic alias and a later one that uses only the alias both reach subscribers under the full topic', async () => {
      const topic = `${unique('alias')}/temperature`;
      const subscriber = await connect();
      await subscriber.client.subscribeAsync(topic, { qos: 1 });
      const publisher = await connect();
      const max = publisher.connack.properties?.topicAliasMaximum ?? 0;
      assert.ok(max >= 1, `CONNACK Topic Alias Maximum is ${max}; the broker must accept at least one alias`);

      await publisher.client.publishAsync(topic, 'with topic', { qos: 1, properties: { topicAlias: 1 } });
      await publisher.client.publishAsync('', 'alias only', { qos: 1, properties: { topicAlias: 1 } });
      await publisher.client.publishAsync('', 'alias only, qos 0', { qos: 0, properties: { topicAlias: 1 } });
      const got = await subscriber.waitForMessages(3);
      assert.deepEqual(
        got.map((m) => [m.topic, m.payload]),
        [
          [topic, 'with topic'],
          [topic, 'alias only'],
          [topic, 'alias only, qos 0'],
        ],
      );
      // The subscriber did not allow aliases (no Topic Alias Maximum in its CONNECT), so none may be sent to it.
      for (const m of got) assert.equal(m.packet.properties?.topicAlias, undefined);
    });

    test('a shared subscription $share/g/jobs/# splits messages between its members: each gets some, together all, none twice', async () => {
      const base = unique('jobs');
      const filter = `$share/g/${base}/#`;
      const a = await connect();
      const b = await connect();
      await a.client.subscribeAsync(filter, { qos: 1 });
      await b.client.subscribeAsync(filter, { qos: 1 });
      const publisher = await connect();
      const sent = Array.from({ length: 20 }, (_, i) => `job-${i}`);
      for (const [i, job] of sent.entries()) {
        await publisher.client.publishAsync(`${base}/${i % 4}`, job, { qos: 1 });
      }
      const total = (): number => a.messages.length + b.messages.length;
      const deadline = Date.now() + 5000;
      while (total() < sent.length && Date.now() < deadline) await sleep(20);
      await sleep(200); // any duplicate would arrive now
      const all = [...a.messages, ...b.messages].map((m) => m.payload);
      assert.ok(a.messages.length > 0, `member a got nothing; b got ${b.messages.length}`);
      assert.ok(b.messages.length > 0, `member b got nothing; a got ${a.messages.length}`);
      assert.deepEqual(all.slice().sort(), sent.slice().sort(), 'together the members must get every message exactly once');
    });

    test('a queued message whose expiry interval passed while the session was offline is dropped; a live one arrives with its remaining interval', async () => {
      const base = unique('expiry');
      const clientId = `expiry-${randomUUID().slice(0, 8)}`;
      const session = { clientId, clean: false, properties: { sessionExpiryInterval: 300 } };
      const first = await connect(session);
      await first.client.subscribeAsync(`${base}/#`, { qos: 1 });
      await first.end();

      const publisher = await connect();
      await publisher.client.publishAsync(`${base}/short`, 'expires after 1 s', {
        qos: 1,
        properties: { messageExpiryInterval: 1 },
      });
      await publisher.client.publishAsync(`${base}/long`, 'expires after 60 s', {
        qos: 1,
        properties: { messageExpiryInterval: 60 },
      });
      await sleep(2100);

      const resumed = await connect(session);
      assert.equal(resumed.connack.sessionPresent, true, 'the persistent session must be resumed');
      await resumed.waitForMessages((m) => topicsOf(m).includes(`${base}/long`));
      await publisher.client.publishAsync(`${base}/sentinel`, 'after', { qos: 1 });
      const got = await resumed.waitForMessages((m) => topicsOf(m).includes(`${base}/sentinel`));

      assert.deepEqual(topicsOf(got).sort(), [`${base}/long`, `${base}/sentinel`], 'the expired message must not be delivered');
      const long = got.find((m) => m.topic === `${base}/long`);
      const remaining = long?.packet.properties?.messageExpiryInterval;
      assert.equal(typeof remaining, 'number', 'the forwarded message must carry its Message Expiry Interval');
      assert.ok(
        remaining !== undefined && remaining >= 1 && remaining <= 58,
        `Message Expiry Interval should be 60 minus the ~2 s spent queued, got ${remaining}`,
      );
    });

    test('a message matching a subscription with a subscription identifier carries that identifier', async () => {
      const base = unique('subid');
      const c = await connect();
      await c.client.subscribeAsync(`${base}/#`, { qos: 1, properties: { subscriptionIdentifier: 42 } });
      await c.client.subscribeAsync(`${base}/+/temp`, { qos: 1, properties: { subscriptionIdentifier: 7 } });
      await c.client.subscribeAsync(`${base}/plain/#`, { qos: 1 });
      const publisher = await connect();
      await publisher.client.publishAsync(`${base}/only-hash`, 'one', { qos: 1 });
      const [one] = await c.waitForMessages(1);
      assert.equal(one?.topic, `${base}/only-hash`);
      assert.deepEqual(subscriptionIds(one.packet), [42]);

      // Matches both identified subscriptions: one copy with both ids, or one copy per subscription with its id.
      await publisher.client.publishAsync(`${base}/kitchen/temp`, 'both', { qos: 1 });
      await publisher.client.publishAsync(`${base}/sentinel`, 'end', { qos: 1 });
      const got = await c.waitForMessages((m) => topicsOf(m).includes(`${base}/sentinel`));
      const both = got.filter((m) => m.topic === `${base}/kitchen/temp`);
      assert.ok(both.length === 1 || both.length === 2, `expected 1 or 2 copies, got ${both.length}`);
      const ids = both.flatMap((m) => subscriptionIds(m.packet)).sort((x, y) => x - y);
      assert.deepEqual(ids, [7, 42]);

      // A subscription without an identifier adds none.
      await publisher.client.publishAsync(`${base}/plain/x`, 'plain', { qos: 1 });
      await publisher.client.publishAsync(`${base}/sentinel`, 'end 2', { qos: 1 });
      const plain = await c.waitForMessages((m) => m.some((x) => x.payload === 'end 2'));
      const plainCopies = plain.filter((m) => m.payload === 'plain');
      assert.deepEqual(
        plainCopies.flatMap((m) => subscriptionIds(m.packet)).sort((x, y) => x - y),
        [42],
        'only the # subscription (id 42) has an identifier among those matching plain/x',
      );
    });

    test('a persistent session resumed after going offline gets all 10 QoS 1 and 10 QoS 2 messages queued meanwhile, in order, with sessionPresent', async () => {
      const base = unique('resume');
      const clientId = `resume-${randomUUID().slice(0, 8)}`;
      const session = { clientId, clean: false, properties: { sessionExpiryInterval: 300 } };
      const first = await connect(session);
      assert.equal(first.connack.sessionPresent, false);
      await first.client.subscribeAsync(`${base}/#`, { qos: 2 });
      await first.end();

      const publisher = await connect();
      const payloads = Array.from({ length: 10 }, (_, i) => `m${i}`);
      for (const p of payloads) await publisher.client.publishAsync(`${base}/q1`, p, { qos: 1 });
      for (const p of payloads) await publisher.client.publishAsync(`${base}/q2`, p, { qos: 2 });

      const resumed = await connect(session);
      assert.equal(resumed.connack.sessionPresent, true, 'CONNACK must say the session was present');
      const got = await resumed.waitForMessages(20, 10_000);
      await sleep(200); // any duplicate would arrive now
      const q1 = resumed.messages.filter((m) => m.topic === `${base}/q1`);
      const q2 = resumed.messages.filter((m) => m.topic === `${base}/q2`);
      assert.equal(got.length, 20);
      assert.deepEqual(q1.map((m) => m.payload), payloads, 'QoS 1 messages: all, once, in order');
      assert.deepEqual(q2.map((m) => m.payload), payloads, 'QoS 2 messages: all, once, in order');
      assert.deepEqual(new Set(q1.map((m) => m.packet.qos)), new Set([1]));
      assert.deepEqual(new Set(q2.map((m) => m.packet.qos)), new Set([2]));
    });

    test('unacknowledged QoS 1/2 messages in flight when the connection drops are resent with DUP set when the session resumes', async () => {
      const base = unique('inflight');
      const clientId = `inflight-${randomUUID().slice(0, 8)}`;
      const session = { clientId, clean: false, properties: { sessionExpiryInterval: 300 } };
      const seenUnacked: IPublishPacket[] = [];
      // Never acknowledge: MQTT.js sends no PUBACK/PUBREC while the callback is not called.
      const first = await connect({
        ...session,
        customHandleAcks: (_topic, _message, packet) => {
          seenUnacked.push(packet);
        },
      });
      await first.client.subscribeAsync(`${base}/#`, { qos: 2 });

      const publisher = await connect();
      const payloads = Array.from({ length: 10 }, (_, i) => `m${i}`);
      for (const p of payloads) await publisher.client.publishAsync(`${base}/q1`, p, { qos: 1 });
      for (const p of payloads) await publisher.client.publishAsync(`${base}/q2`, p, { qos: 2 });
      const deadline = Date.now() + 5000;
      while (seenUnacked.length === 0 && Date.now() < deadline) await sleep(20);
      assert.ok(seenUnacked.length > 0, 'the subscriber received nothing while online');
      assert.equal(seenUnacked[0]?.payload.toString(), 'm0');
      await first.drop(); // no DISCONNECT, nothing acknowledged

      const resumed = await connect(session);
      assert.equal(resumed.connack.sessionPresent, true, 'CONNACK must say the session was present');
      await resumed.waitForMessages(20, 10_000);
      await sleep(200);
      const q1 = resumed.messages.filter((m) => m.topic === `${base}/q1`);
      const q2 = resumed.messages.filter((m) => m.topic === `${base}/q2`);
      assert.deepEqual(q1.map((m) => m.payload), payloads, 'QoS 1 messages: all, once, in order');
      assert.deepEqual(q2.map((m) => m.payload), payloads, 'QoS 2 messages: all, once, in order');
      const redelivered = resumed.messages.find((m) => m.topic === `${base}/q1` && m.payload === 'm0');
      assert.equal(redelivered?.packet.dup, true, 'a PUBLISH resent after reconnect must have DUP set [MQTT-3.3.1-1]');
    });

    test('user properties, content type, correlation data, response topic and payload format pass through unchanged', async () => {
      const topic = `${unique('props')}/request`;
      const subscriber = await connect();
      await subscriber.client.subscribeAsync(topic, { qos: 1 });
      const publisher = await connect();
      const properties = {
        userProperties: { trace: 'abc-123', tag: ['first', 'second'], 'ünï': 'cødé' },
        contentType: 'application/json; charset=utf-8',
        correlationData: Buffer.from([0, 1, 2, 254, 255]),
        responseTopic: `${topic}/reply`,
        payloadFormatIndicator: true,
      };
      await publisher.client.publishAsync(topic, '{"ok":true}', { qos: 1, properties });
      const [m] = await subscriber.waitForMessages(1);
      const got = m?.packet.properties;
      assert.ok(got, 'the forwarded PUBLISH has no properties');
      assert.deepEqual({ ...got.userProperties }, properties.userProperties);
      assert.deepEqual(Object.keys(got.userProperties ?? {}), Object.keys(properties.userProperties), 'order is kept');
      assert.equal(got.contentType, properties.contentType);
      assert.deepEqual(Buffer.from(got.correlationData ?? []), properties.correlationData);
      assert.equal(got.responseTopic, properties.responseTopic);
      assert.equal(got.payloadFormatIndicator, true);
      assert.equal(m?.payload, '{"ok":true}');
    });

    test('a no-local subscription does not receive the client\'s own publishes but does receive other clients\'', async () => {
      const base = unique('nolocal');
      const self = await connect();
      await self.client.subscribeAsync(`${base}/#`, { qos: 1, nl: true });
      const observer = await connect();
      await observer.client.subscribeAsync(`${base}/#`, { qos: 1 });

      await self.client.publishAsync(`${base}/own`, 'mine', { qos: 1 });
      await observer.waitForMessages((m) => topicsOf(m).includes(`${base}/own`)); // it was routed
      await observer.client.publishAsync(`${base}/other`, 'theirs', { qos: 1 });
      const got = await self.waitForMessages((m) => topicsOf(m).includes(`${base}/other`));
      assert.deepEqual(topicsOf(got), [`${base}/other`]);
    });

    test('retain handling 2 sends no retained messages on subscribe; retain handling 0 does', async () => {
      const base = unique('rh');
      const publisher = await connect();
      await publisher.client.publishAsync(`${base}/state`, 'on', { qos: 1, retain: true });

      const rh2 = await connect();
      await rh2.client.subscribeAsync(`${base}/#`, { qos: 1, rh: 2 });
      const rh0 = await connect();
      await rh0.client.subscribeAsync(`${base}/#`, { qos: 1, rh: 0 });
      const [retained] = await rh0.waitForMessages(1);
      assert.equal(retained?.topic, `${base}/state`);
      assert.equal(retained.packet.retain, true);

      await publisher.client.publishAsync(`${base}/live`, 'now', { qos: 1 });
      const got = await rh2.waitForMessages((m) => topicsOf(m).includes(`${base}/live`));
      assert.deepEqual(topicsOf(got), [`${base}/live`], 'retain handling 2 must not send the retained message');
    });
  });
}
