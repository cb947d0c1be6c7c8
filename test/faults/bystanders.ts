// Two well-behaved MQTT.js clients that stay connected while a fault test abuses the broker: a
// publisher sending on `bystander/tick` every 20 ms and a subscriber counting what arrives. After
// each bad-input case the test checks the subscriber got new ticks and neither client dropped.
import assert from 'node:assert/strict';
import mqtt, { type MqttClient } from 'mqtt';

const TOPIC = 'bystander/tick';

export interface Bystanders {
  /** Ticks the subscriber received so far. */
  readonly received: () => number;
  /** Asserts both clients are still connected and at least one tick arrived after `since`. */
  assertHealthy(since: number, what: string): Promise<void>;
  /** Disconnects both (clean DISCONNECT). */
  stop(): Promise<void>;
}

function connectClient(url: string, clientId: string, events: string[]): Promise<MqttClient> {
  return new Promise((resolve, reject) => {
    const client = mqtt.connect(url, { protocolVersion: 5, clientId, reconnectPeriod: 0, connectTimeout: 5000, keepalive: 30 });
    const timer = setTimeout(() => {
      client.end(true);
      reject(new Error(`bystander ${clientId}: no CONNACK within 5 s`));
    }, 5000);
    client.once('connect', () => {
      clearTimeout(timer);
      resolve(client);
    });
    client.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    for (const event of ['close', 'offline', 'disconnect', 'error'] as const) {
      client.on(event, (arg?: unknown) => events.push(`${clientId} ${event}${arg instanceof Error ? `: ${arg.message}` : ''}`));
    }
  });
}

export async function startBystanders(url: string, tag: string): Promise<Bystanders> {
  const events: string[] = [];
  const subscriber = await connectClient(url, `bystander-sub-${tag}`, events);
  let count = 0;
  const waiters = new Set<() => void>();
  subscriber.on('message', (topic) => {
    if (topic !== TOPIC) return;
    count++;
    for (const w of [...waiters]) w();
  });
  await subscriber.subscribeAsync(TOPIC, { qos: 0 });
  const publisher = await connectClient(url, `bystander-pub-${tag}`, events);
  let seq = 0;
  const ticker = setInterval(() => {
    if (publisher.connected) publisher.publish(TOPIC, String(seq++), { qos: 0 });
  }, 20);

  const waitForCount = (target: number, timeoutMs: number): Promise<boolean> =>
    new Promise((resolve) => {
      if (count >= target) {
        resolve(true);
        return;
      }
      const check = (): void => {
        if (count < target) return;
        clearTimeout(timer);
        waiters.delete(check);
        resolve(true);
      };
      const timer = setTimeout(() => {
        waiters.delete(check);
        resolve(count >= target);
      }, timeoutMs);
      waiters.add(check);
    });

  const first = await waitForCount(1, 3000);
  if (!first) {
    clearInterval(ticker);
    publisher.end(true);
    subscriber.end(true);
    throw new Error('bystanders: the subscriber received no tick within 3 s of starting');
  }

  return {
    received: () => count,
    async assertHealthy(since, what) {
      // Ticks every 20 ms: a couple must arrive within 1 s even on a loaded machine.
      const got = await waitForCount(since + 2, 1000);
      assert.deepEqual(events, [], `bystanders saw connection events during/after "${what}"`);
      assert.ok(subscriber.connected, `bystander subscriber disconnected during/after "${what}"`);
      assert.ok(publisher.connected, `bystander publisher disconnected during/after "${what}"`);
      assert.ok(got, `bystander subscriber received no new ticks during/after "${what}" (had ${since} before, ${count} now)`);
    },
    async stop() {
      clearInterval(ticker);
      await Promise.all([publisher.endAsync(), subscriber.endAsync()]);
    },
  };
}
