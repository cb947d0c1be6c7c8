// moat's client against two brokers in one run: a moat process and Debian's Mosquitto 2, each under
// MQTT 3.1.1 and 5. One table-driven suite: QoS 0/1/2 round trips, retained messages, the will on
// a dead link (and none after end()), and session resume with messages queued while offline.
// MOAT_TEST_BROKERS=moat (or mosquitto) narrows the targets, as in the kit.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { connect, type MqttClient, type ReceivedMessage } from '../../src/client/index.js';
import type { QoS } from '../../src/codec/types.js';
import type { RunningBroker } from '../kit/broker.js';
import { MOSQUITTO_BINARY } from '../kit/mosquitto.js';
import { brokerTargets } from '../kit/targets.js';
import { delay, within } from './helper.js';
import { startRelay } from './relay.js';

const run = `${Date.now().toString(36)}${process.pid}`;
const TEST_TIMEOUT = 15_000;

/** Collects messages from `client` (or an onMessage option) and hands them out in order, with a timeout. */
class Inbox {
  readonly #messages: ReceivedMessage[] = [];
  readonly #waiters: Array<() => void> = [];

  readonly push = (message: ReceivedMessage): void => {
    this.#messages.push(message);
    for (const wake of this.#waiters.splice(0)) wake();
  };

  get size(): number {
    return this.#messages.length;
  }

  /** The first `count` messages, once that many arrived. */
  async take(count: number, what: string, ms = 3000): Promise<ReceivedMessage[]> {
    const arrived = async (): Promise<void> => {
      while (this.#messages.length < count) await new Promise<void>((resolve) => this.#waiters.push(resolve));
    };
    await within(ms, arrived(), `${what} (${this.#messages.length}/${count} so far)`);
    return this.#messages.splice(0, count);
  }
}

for (const target of brokerTargets()) {
  const skip = target.name === 'mosquitto' && !existsSync(MOSQUITTO_BINARY) ? `${MOSQUITTO_BINARY} not installed` : false;

  describe(`client against ${target.name}`, { skip }, () => {
    let broker: RunningBroker | undefined;
    const url = (): string => {
      assert.ok(broker, `${target.name} did not start`);
      return broker.url;
    };
    const clients: MqttClient[] = [];
    const client = async (options: Parameters<typeof connect>[1] = {}, at = url()): Promise<MqttClient> => {
      const c = await connect(at, { reconnect: false, ...options });
      clients.push(c);
      return c;
    };

    before(async () => {
      broker = await target.start();
    });
    after(async () => {
      await Promise.all(clients.map((c) => c.end().catch(() => undefined)));
      await broker?.stop();
    });

    for (const protocolVersion of [4, 5] as const) {
      const tag = `${target.name}-v${protocolVersion}-${run}`;

      test(`v${protocolVersion}: QoS 0/1/2 publish reaches subscriptions of QoS 0/1/2 at the lower QoS [MQTT-3.8.4-6]`, { timeout: TEST_TIMEOUT }, async () => {
        const base = `moat-brokers/${tag}/qos`;
        const inbox = new Inbox();
        const sub = await client({ protocolVersion, clientId: `${tag}-qos-sub`, onMessage: inbox.push });
        for (const s of [0, 1, 2] as const) assert.deepEqual(await sub.subscribe(`${base}/s${s}/#`, { qos: s }), [s]);
        const pub = await client({ protocolVersion, clientId: `${tag}-qos-pub` });
        for (const s of [0, 1, 2] as const) {
          for (const p of [0, 1, 2] as const) await pub.publish(`${base}/s${s}/p${p}`, `${s}${p}`, { qos: p });
        }
        const got = (await inbox.take(9, 'nine messages')).map((m) => `${m.topic.slice(base.length)} qos ${m.qos} ${m.payload.toString()} retain ${m.retain}`).sort();
        const expected: string[] = [];
        for (const s of [0, 1, 2] as const) {
          for (const p of [0, 1, 2] as const) expected.push(`/s${s}/p${p} qos ${Math.min(s, p) as QoS} ${s}${p} retain false`);
        }
        assert.deepEqual(got, expected.sort());
        await pub.end();
        await sub.end();
      });

      test(`v${protocolVersion}: a retained message reaches a later subscriber with the retain flag [MQTT-3.3.1-6]`, { timeout: TEST_TIMEOUT }, async () => {
        const topic = `moat-brokers/${tag}/retained`;
        const pub = await client({ protocolVersion, clientId: `${tag}-retain-pub` });
        await pub.publish(topic, 'kept', { qos: 1, retain: true });
        await pub.publish(`${topic}/not`, 'not kept', { qos: 1 });
        const inbox = new Inbox();
        const late = await client({ protocolVersion, clientId: `${tag}-retain-late`, onMessage: inbox.push });
        await late.subscribe(`${topic}/#`, { qos: 1 });
        const [message] = await inbox.take(1, 'the retained message');
        assert.equal(message?.topic, topic);
        assert.equal(message?.payload.toString(), 'kept');
        assert.equal(message?.retain, true);
        assert.equal(message?.qos, 1);
        // Live publishes to a subscriber carry retain 0 [MQTT-3.3.1-9], even when published retained.
        await pub.publish(topic, '', { qos: 1, retain: true }); // clears it
        const [cleared] = await inbox.take(1, 'the clearing message');
        assert.equal(cleared?.retain, false);
        await delay(50);
        assert.equal(inbox.size, 0, 'the non-retained message must not be delivered to the later subscriber');
        await late.end();
        await pub.end();
      });

      test(`v${protocolVersion}: the will is published when the link dies, not after end() [MQTT-3.1.2-8] [MQTT-3.1.2-10]`, { timeout: TEST_TIMEOUT }, async () => {
        const topic = `moat-brokers/${tag}/will`;
        const inbox = new Inbox();
        const watcher = await client({ protocolVersion, clientId: `${tag}-will-watcher`, onMessage: inbox.push });
        await watcher.subscribe(topic, { qos: 1 });
        const will = { topic, payload: 'gone', qos: 1 as const };

        const relay = await startRelay(url());
        try {
          const dying = await client({ protocolVersion, clientId: `${tag}-will-dying`, will }, relay.url);
          const lost = new Promise<void>((resolve) => dying.onDisconnect(() => resolve()));
          relay.cut(); // no DISCONNECT from either side: the broker sees a dead link
          const [message] = await inbox.take(1, 'the will message', 5000);
          assert.equal(message?.payload.toString(), 'gone');
          assert.equal(message?.qos, 1);
          await within(2000, lost, 'the dead client noticing the lost link');
        } finally {
          await relay.close();
        }

        const polite = await client({ protocolVersion, clientId: `${tag}-will-polite`, will });
        await polite.end();
        await delay(300);
        await watcher.publish(topic, 'sentinel', { qos: 1 });
        const [next] = await inbox.take(1, 'the sentinel');
        assert.equal(next?.payload.toString(), 'sentinel', 'no will after a normal DISCONNECT');
        await watcher.end();
      });

      test(`v${protocolVersion}: a session resumes with the QoS 1 messages queued while offline [MQTT-3.2.2-2]`, { timeout: TEST_TIMEOUT }, async () => {
        const topic = `moat-brokers/${tag}/session`;
        const clientId = `${tag}-session`;
        const persistent = protocolVersion === 5 ? { clean: false, properties: { sessionExpiryInterval: 300 } } : { clean: false };
        const first = await client({ protocolVersion, clientId, ...persistent });
        assert.deepEqual(await first.subscribe(topic, { qos: 1 }), [1]);
        await first.end();

        const pub = await client({ protocolVersion, clientId: `${tag}-session-pub` });
        for (let i = 1; i <= 5; i++) await pub.publish(topic, `queued ${i}`, { qos: 1 });
        await pub.end();

        // onMessage as an option: queued messages may arrive in the same read as the CONNACK.
        const inbox = new Inbox();
        const again = await client({ protocolVersion, clientId, ...persistent, onMessage: inbox.push });
        assert.equal(again.sessionPresent, true);
        const messages = await inbox.take(5, 'the five queued messages');
        assert.deepEqual(messages.map((m) => `${m.topic} ${m.qos} ${m.payload.toString()}`), [1, 2, 3, 4, 5].map((i) => `${topic} 1 queued ${i}`));
        await again.end();
      });
    }
  });
}
