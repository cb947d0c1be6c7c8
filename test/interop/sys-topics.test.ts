// $SYS (issue 12): the same actions on moat and on Debian's Mosquitto 2.0.11 (sys_interval 1,
// max_queued_messages 2), then $SYS read topic by topic and compared with what the test did. Every
// client is a raw socket that counts the packets and bytes it wrote and read, so the packet and byte
// counters are checked exactly. The $SYS observer connects first and subscribes to $SYS/# only at
// the end, once the brokers have published after the last action: the retained values it is sent
// then describe everything before its SUBSCRIBE (its own CONNECT and CONNACK included, as both
// brokers count them) and nothing after. Mosquitto's own $SYS messages are retained messages too
// (retained messages/count and messages/stored include them); moat counts its own the same way.
// Then moat's own: the capacity alert (max_connections 10, capacity_alert_threshold 80), and
// refusals and failed logins by reason, per interval and in total.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { formatPasswordHash, hashPassword } from '../../src/auth/password-file.js';
import { encode } from '../../src/codec/encode.js';
import type { Packet, PublishPacket, QoS, Subscription } from '../../src/codec/types.js';
import { brokerTargets, startMoat, type RunningBroker } from '../kit/index.js';
import { RawClient } from '../faults/raw-client.js';

/** The topics under $SYS/broker/ Debian's Mosquitto 2.0.11 publishes with sys_interval set (no bridges). */
const LOAD_SERIES = ['messages/received', 'messages/sent', 'publish/dropped', 'publish/received', 'publish/sent', 'bytes/received', 'bytes/sent', 'sockets', 'connections'];
const MOSQUITTO_TOPICS = [
  'version',
  'uptime',
  ...['total', 'maximum', 'inactive', 'disconnected', 'active', 'connected', 'expired'].map((t) => `clients/${t}`),
  ...LOAD_SERIES.flatMap((series) => ['1min', '5min', '15min'].map((window) => `load/${series}/${window}`)),
  'messages/stored',
  'store/messages/count',
  'store/messages/bytes',
  'subscriptions/count',
  'shared_subscriptions/count',
  'retained messages/count',
  'heap/current',
  'heap/maximum',
  'messages/received',
  'messages/sent',
  'publish/messages/dropped',
  'publish/messages/received',
  'publish/messages/sent',
  'bytes/received',
  'bytes/sent',
  'publish/bytes/received',
  'publish/bytes/sent',
];

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** A 3.1.1 client on a raw socket that counts what it writes (the broker's "received"). */
class CountingClient {
  sentPackets = 0;
  sentBytes = 0;
  private constructor(readonly raw: RawClient) {}

  static async connect(broker: RunningBroker, clientId: string, clean = true): Promise<CountingClient> {
    const client = new CountingClient(await RawClient.open({ host: broker.host, port: broker.port, version: 4 }));
    client.send({ type: 'connect', protocolName: 'MQTT', protocolVersion: 4, clean, keepalive: 600, clientId });
    await client.expect((p) => p.type === 'connack', `CONNACK for ${clientId}`);
    return client;
  }

  send(packet: Packet): void {
    const bytes = encode(packet, 4);
    this.sentPackets++;
    this.sentBytes += bytes.length;
    this.raw.send(bytes);
  }

  count(match: (p: Packet) => boolean): number {
    return this.raw.packets.filter(match).length;
  }

  async expect(match: (p: Packet) => boolean, what: string, n = 1): Promise<void> {
    const ok = await this.raw.until(() => this.count(match) >= n, 5000);
    assert.ok(ok, `${what}: ${this.raw.describe()}`);
  }

  async subscribe(packetId: number, filters: Array<[string, QoS]>): Promise<void> {
    const subscriptions: Subscription[] = filters.map(([filter, qos]) => ({ filter, qos, noLocal: false, retainAsPublished: false, retainHandling: 0 }));
    this.send({ type: 'subscribe', packetId, subscriptions });
    await this.expect((p) => p.type === 'suback' && p.packetId === packetId, `SUBACK ${packetId}`);
  }

  async disconnect(): Promise<void> {
    this.send({ type: 'disconnect' });
    assert.ok(await this.raw.waitClosed(5000), 'the broker closes after DISCONNECT');
  }
}

const publish = (topic: string, payload: string, qos: QoS, packetId?: number, retain = false): PublishPacket =>
  ({ type: 'publish', topic, payload: Buffer.from(payload), qos, retain, dup: false, ...(packetId === undefined ? {} : { packetId }) }) as PublishPacket;

/** The retained $SYS values the observer is sent on SUBSCRIBE $SYS/#: topic → payload. */
async function readSys(observer: CountingClient): Promise<Map<string, string>> {
  const before = observer.raw.packets.length;
  observer.send({ type: 'subscribe', packetId: 9999, subscriptions: [{ filter: '$SYS/#', qos: 0, noLocal: false, retainAsPublished: false, retainHandling: 0 }] });
  await observer.expect((p) => p.type === 'suback' && p.packetId === 9999, 'SUBACK for $SYS/#');
  // Retained messages follow the SUBACK in one burst; wait until it has stopped for a while.
  let seen = -1;
  while (seen !== observer.raw.packets.length) {
    seen = observer.raw.packets.length;
    await sleep(400);
  }
  const values = new Map<string, string>();
  for (const p of observer.raw.packets.slice(before)) {
    if (p.type === 'publish' && p.retain) values.set(p.topic, p.payload.toString('utf8'));
  }
  return values;
}

for (const target of brokerTargets()) {
  const moat = target.name === 'moat';
  describe(`$SYS values equal what the test did (${target.name})`, () => {
    test('clients, subscriptions, retained and stored messages, PUBLISH and packet and byte counters, drops, loads, heap, uptime', async () => {
      const broker = await target.start({ extraConfig: 'sys_interval 1\nmax_queued_messages 2\n' });
      const clients: CountingClient[] = [];
      try {
        const observer = await CountingClient.connect(broker, 'sys-observer');
        clients.push(observer);
        // c1..c7; c5, c6 and c7 keep their sessions (clean session false) and leave, so clients/total
        // never falls and Mosquitto's maximum (sampled once per update) cannot miss the peak.
        for (let i = 1; i <= 7; i++) clients.push(await CountingClient.connect(broker, `sys-c${i}`, i < 5));
        const [, c1, c2, c3, c4, c5, c6, c7] = clients as [CountingClient, CountingClient, CountingClient, CountingClient, CountingClient, CountingClient, CountingClient, CountingClient];
        await c1.subscribe(1, [
          ['sys-test/a', 0],
          ['sys-test/b/#', 0],
        ]);
        await c2.subscribe(1, [['sys-test/+/x', 1]]);
        await c6.subscribe(1, [['drop/q', 1]]);
        await c7.subscribe(1, [['other/#', 1]]);
        await c6.disconnect();

        // 100 PUBLISH: 38 QoS 0 and 40 QoS 1 delivered to c1 (at QoS 0), 5 QoS 1 to c2 (at QoS 1), 2 QoS 2
        // to nobody, 3 retained, 12 for the offline c6.
        const payloads: string[] = [];
        let delivered = 0;
        for (let i = 0; i < 38; i++) {
          const payload = `zero-${i}`;
          c3.send(publish('sys-test/a', payload, 0));
          payloads.push(payload);
          await c1.expect((p) => p.type === 'publish', 'QoS 0 delivery', ++delivered);
        }
        for (let i = 0; i < 40; i++) {
          const payload = `one-${i}-${'x'.repeat(i)}`;
          c3.send(publish('sys-test/b/c', payload, 1, i + 1));
          payloads.push(payload);
          await c3.expect((p) => p.type === 'puback' && p.packetId === i + 1, 'PUBACK');
          await c1.expect((p) => p.type === 'publish', 'QoS 1 delivery', ++delivered);
        }
        for (let i = 0; i < 5; i++) {
          const payload = `to-c2-${i}`;
          c4.send(publish('sys-test/q/x', payload, 1, 50 + i));
          payloads.push(payload);
          await c2.expect((p) => p.type === 'publish', 'QoS 1 delivery to c2', i + 1);
          const received = c2.raw.packets.filter((p): p is PublishPacket => p.type === 'publish')[i] as PublishPacket;
          c2.send({ type: 'puback', packetId: received.packetId as number });
          await c4.expect((p) => p.type === 'puback' && p.packetId === 50 + i, 'PUBACK to c4');
        }
        for (let i = 0; i < 2; i++) {
          const payload = `two-${i}`;
          c4.send(publish('sys-test/two', payload, 2, 60 + i));
          payloads.push(payload);
          await c4.expect((p) => p.type === 'pubrec' && p.packetId === 60 + i, 'PUBREC');
          c4.send({ type: 'pubrel', packetId: 60 + i });
          await c4.expect((p) => p.type === 'pubcomp' && p.packetId === 60 + i, 'PUBCOMP');
        }
        const retainedPayloads = ['r-one', 'r-two', 'r-three'];
        for (const [i, payload] of retainedPayloads.entries()) {
          c4.send(publish(`sys-test/retained/${i}`, payload, 1, i + 1, true));
          payloads.push(payload);
          await c4.expect((p) => p.type === 'puback' && p.packetId === i + 1, 'PUBACK of a retained message');
        }
        const queuedPayloads: string[] = [];
        for (let i = 0; i < 12; i++) {
          const payload = `for-c6-${i}`;
          c3.send(publish('drop/q', payload, 1, 100 + i));
          payloads.push(payload);
          if (i < 2) queuedPayloads.push(payload); // max_queued_messages 2: the first 2 wait, 10 are dropped
          await c3.expect((p) => p.type === 'puback' && p.packetId === 100 + i, 'PUBACK for a message to the offline c6');
        }
        assert.equal(payloads.length, 100);
        await c7.disconnect();
        await c5.disconnect();

        // Both brokers publish after the last action (Mosquitto's sys_interval 1 is every 2 s).
        await sleep(5000);
        const sentPackets = clients.reduce((n, c) => n + c.sentPackets, 0);
        const sentBytes = clients.reduce((n, c) => n + c.sentBytes, 0);
        const receivedPackets = clients.reduce((n, c) => n + c.raw.packets.length, 0);
        const receivedBytes = clients.reduce((n, c) => n + c.raw.received.length, 0);
        const deliveredBytes = clients.reduce((n, c) => n + c.raw.packets.reduce((m, p) => m + (p.type === 'publish' ? p.payload.length : 0), 0), 0);
        const sys = await readSys(observer);
        const value = (topic: string): string | undefined => sys.get(`$SYS/broker/${topic}`);
        const sysRetained = [...sys.keys()].length;
        const bytes = (list: string[]): number => list.reduce((n, p) => n + Buffer.byteLength(p), 0);

        const expected: Record<string, string> = {
          // the observer and c1..c4 are connected; c5, c6, c7 are offline sessions
          'clients/connected': '5',
          'clients/active': '5',
          'clients/disconnected': '3',
          'clients/inactive': '3',
          'clients/total': '8',
          'clients/maximum': '8',
          'clients/expired': '0',
          'subscriptions/count': '5',
          'shared_subscriptions/count': '0',
          'retained messages/count': String(retainedPayloads.length + sysRetained),
          'messages/stored': String(retainedPayloads.length + sysRetained + queuedPayloads.length),
          'store/messages/count': String(retainedPayloads.length + sysRetained + queuedPayloads.length),
          // Mosquitto 2.0.11 tests a received PUBLISH's first byte with a mask of 0xF5, which keeps
          // the RETAIN bit and the high QoS bit: retained and QoS 2 PUBLISHes are not counted.
          'publish/messages/received': moat ? '100' : '95',
          'publish/messages/sent': '83',
          'publish/messages/dropped': '10',
          'publish/bytes/received': String(bytes(payloads)),
          'publish/bytes/sent': String(deliveredBytes),
          'messages/received': String(sentPackets),
          'messages/sent': String(receivedPackets),
          'bytes/received': String(sentBytes),
          'bytes/sent': String(receivedBytes),
        };
        // The arithmetic, so a reader can check the test too: 8 CONNECT + 4 SUBSCRIBE + 100 PUBLISH +
        // 5 PUBACK + 2 PUBREL + 3 DISCONNECT in; 8 CONNACK + 4 SUBACK + 83 PUBLISH + 60 PUBACK + 2
        // PUBREC + 2 PUBCOMP out.
        assert.equal(sentPackets, 122);
        assert.equal(receivedPackets, 159);
        const actual = Object.fromEntries(Object.keys(expected).map((topic) => [topic, value(topic)]));
        assert.deepEqual(actual, expected, `${target.name} $SYS:\n${[...sys].map(([t, v]) => `  ${t} ${v}`).join('\n')}`);

        // Payload bytes held: the retained and queued ones, plus the broker's own $SYS payloads.
        const storeBytes = Number(value('store/messages/bytes'));
        assert.ok(storeBytes >= bytes(retainedPayloads) + bytes(queuedPayloads), `store/messages/bytes ${storeBytes}`);
        // Formats: uptime text, integers, "%.2f" loads.
        assert.match(value('uptime') ?? '', /^\d+ seconds$/);
        assert.match(value('version') ?? '', moat ? /^moat version \d+\.\d+\.\d+/ : /^mosquitto version 2\.0\.11$/);
        // Every topic Debian's Mosquitto publishes, both publish (moat has more of its own).
        const missing = MOSQUITTO_TOPICS.filter((topic) => value(topic) === undefined);
        assert.deepEqual(missing, [], `${target.name} lacks these $SYS topics`);
        for (const topic of ['heap/current', 'heap/maximum']) assert.match(value(topic) ?? '', /^[1-9]\d*$/, topic);
        assert.ok(Number(value('heap/maximum')) >= Number(value('heap/current')));
        for (const series of LOAD_SERIES) {
          for (const window of ['1min', '5min', '15min']) assert.match(value(`load/${series}/${window}`) ?? '', /^\d+\.\d\d$/, `load/${series}/${window}`);
        }
        if (moat) {
          // moat's own: drops by reason, no limit configured, nothing refused.
          assert.equal(value('publish/messages/dropped/queue_full'), '10');
          assert.equal(value('messages/inflight'), '0');
          assert.equal(value('clients/limit'), undefined);
          assert.equal(value('capacity/percent'), undefined);
          assert.equal(value('capacity/alert'), undefined);
          assert.equal(value('auth/failures/total'), '0');
          assert.equal(value('tls/handshake_failures/total'), '0');
        }
      } finally {
        for (const client of clients) client.raw.destroy();
        await broker.stop();
      }
    });
  });
}

describe('$SYS capacity alert (moat): max_connections 10, capacity_alert_threshold 80', () => {
  test('set at 8 connections (retained: a late subscriber sees it), still set at 7, cleared at 4; clients/limit and capacity/percent', async () => {
    const broker = await startMoat({ config: 'listener 0 127.0.0.1\nallow_anonymous true\nmax_connections 10\ncapacity_alert_threshold 80\nsys_interval 1\n' });
    const clients: CountingClient[] = [];
    const alertTopic = '$SYS/broker/capacity/alert';
    try {
      // The observer is one of the connections it watches.
      const observer = await CountingClient.connect(broker, 'capacity-observer');
      observer.send({ type: 'subscribe', packetId: 1, subscriptions: ['$SYS/broker/capacity/#', '$SYS/broker/clients/limit'].map((filter) => ({ filter, qos: 0 as const, noLocal: false, retainAsPublished: false, retainHandling: 0 as const })) });
      const publishes = (topic: string): string[] => observer.raw.packets.flatMap((p) => (p.type === 'publish' && p.topic === topic ? [p.payload.toString('utf8')] : []));
      /** Waits for `payload` on `topic` among the messages after the first `after` ones on it. */
      const waitFor = async (topic: string, payload: string, what: string, after = 0): Promise<void> => {
        assert.ok(await observer.raw.until(() => publishes(topic).slice(after).includes(payload), 5000), `${what}: ${JSON.stringify(publishes(topic))}`);
      };
      const percent = '$SYS/broker/capacity/percent';
      await waitFor('$SYS/broker/clients/limit', '10', 'clients/limit');
      for (let i = 1; i <= 6; i++) clients.push(await CountingClient.connect(broker, `cap-${i}`));
      await waitFor(percent, '70.0', '7 of 10');
      assert.deepEqual(publishes(alertTopic), [], 'no alert below the threshold');
      clients.push(await CountingClient.connect(broker, 'cap-7'));
      const text = 'connections 8/10 (80.0%) crossed capacity_alert_threshold 80%';
      await waitFor(alertTopic, text, 'the alert at 8 of 10');
      await waitFor(percent, '80.0', '8 of 10');

      // A late subscriber is sent the retained alert.
      const late = await CountingClient.connect(broker, 'late');
      await late.subscribe(1, [[alertTopic, 0]]);
      await late.expect((p) => p.type === 'publish' && p.topic === alertTopic && p.retain && p.payload.toString() === text, 'the retained alert');
      await late.disconnect();

      // Down to 7: inside the hysteresis band (for a limit of 10 one connection, 10 points), still set.
      // The alert is checked at each disconnect, so once an update says 70.0 the check at 7 has run.
      const percentsAtEight = publishes(percent).length;
      await (clients.pop() as CountingClient).disconnect();
      await waitFor(percent, '70.0', 'back to 7 of 10', percentsAtEight);
      assert.deepEqual(publishes(alertTopic), [text], 'still set at 7 of 10');

      // Down to 4: cleared, with an empty retained message, once under 70% (at 6 of 10).
      for (let i = 0; i < 3; i++) await (clients.pop() as CountingClient).disconnect();
      await waitFor(alertTopic, '', 'the alert cleared on the way down to 4 of 10');
      await waitFor(percent, '40.0', '4 of 10');
      assert.deepEqual(publishes(alertTopic), [text, '']);

      // A late subscriber now finds no alert, but the percent.
      const after = await CountingClient.connect(broker, 'after');
      await after.subscribe(1, [['$SYS/broker/capacity/#', 0]]);
      await after.expect((p) => p.type === 'publish' && p.topic === '$SYS/broker/capacity/percent', 'the retained percent');
      await sleep(300);
      assert.equal(after.count((p) => p.type === 'publish' && p.topic === alertTopic), 0, 'no retained alert once cleared');
      clients.push(after);

      // The log: a warning when set, an info line when cleared.
      const lines = broker.logs.filter((l) => l.includes('"capacity_alert"')).map((l) => JSON.parse(l) as { level: number; state: string; msg: string });
      assert.deepEqual(
        lines.map((l) => [l.level, l.state]),
        [
          [40, 'set'],
          [30, 'cleared'],
        ],
      );
      assert.match(lines[0]?.msg ?? '', /connections 8\/10 \(80\.0%\) crossed capacity_alert_threshold 80%/);
      clients.push(observer);

      // Full (5 more: 10 of 10), then one more is refused with 0x97, counted by reason and by limit.
      for (let i = 0; i < 5; i++) clients.push(await CountingClient.connect(broker, `full-${i}`));
      const over = await RawClient.open({ host: broker.host, port: broker.port, version: 5 });
      over.send(encode({ type: 'connect', protocolName: 'MQTT', protocolVersion: 5, clean: true, keepalive: 60, clientId: 'over' }, 5));
      const refused = await over.waitFor('connack', 5000);
      over.destroy();
      assert.equal(refused?.reasonCode, 0x97, over.describe());
      await observer.subscribe(2, [['$SYS/broker/clients/refused/#', 0]]);
      await waitFor('$SYS/broker/clients/refused/limit/max_connections', '1', 'the limit refusal');
      await waitFor('$SYS/broker/clients/refused/quota_exceeded', '1', 'the refusal by reason');
      await waitFor(percent, '100.0', '10 of 10');
    } finally {
      for (const client of clients) client.raw.destroy();
      await broker.stop();
    }
  });
});

describe('$SYS refusals and failed logins (moat)', () => {
  test('clients/refused/<reason> and auth/failures/{total,interval} count wrong passwords; the interval value falls back to 0', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'moat-sys-auth-'));
    const passwd = join(dir, 'passwd');
    await writeFile(passwd, `sensor:${formatPasswordHash(await hashPassword('right', { iterations: 1000 }))}\n`, { mode: 0o644 });
    const broker = await startMoat({ config: `listener 0 127.0.0.1\nallow_anonymous true\npassword_file ${passwd}\nsys_interval 1\n` });
    const clients: RawClient[] = [];
    try {
      const observer = await CountingClient.connect(broker, 'auth-observer');
      clients.push(observer.raw);
      await observer.subscribe(1, [
        ['$SYS/broker/auth/#', 0],
        ['$SYS/broker/clients/refused/#', 0],
      ]);
      const published = (topic: string): string[] => observer.raw.packets.flatMap((p) => (p.type === 'publish' && p.topic === `$SYS/broker/${topic}` ? [p.payload.toString('utf8')] : []));
      await observer.expect((p) => p.type === 'publish' && p.topic === '$SYS/broker/auth/failures/interval', 'the retained interval value');
      for (const version of [5, 4] as const) {
        const client = await RawClient.open({ host: broker.host, port: broker.port, version });
        clients.push(client);
        client.send(encode({ type: 'connect', protocolName: 'MQTT', protocolVersion: version, clean: true, keepalive: 60, clientId: `wrong-${version}`, username: 'sensor', password: Buffer.from('wrong') }, version));
        const connack = await client.waitFor('connack', 5000);
        assert.notEqual(connack?.reasonCode, 0, client.describe());
      }
      const settled = (): boolean => published('auth/failures/total').at(-1) === '2' && published('auth/failures/interval').at(-1) === '0';
      assert.ok(await observer.raw.until(settled, 8000), `total ${JSON.stringify(published('auth/failures/total'))}, interval ${JSON.stringify(published('auth/failures/interval'))}`);
      const intervals = published('auth/failures/interval').map(Number);
      assert.equal(intervals.reduce((a, b) => a + b, 0), 2, `per-interval values ${JSON.stringify(intervals)} add up to the total`);
      assert.ok(intervals.some((n) => n > 0));
      assert.equal(published('clients/refused/bad_user_name_or_password').at(-1), '2');
    } finally {
      for (const client of clients) client.destroy();
      await broker.stop();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('$SYS clients/limit with two listeners (moat)', () => {
  test("the listeners' max_connections added up; none when one listener is unlimited", async () => {
    for (const [config, expected] of [
      ['listener 0 127.0.0.1\nmax_connections 3\nlistener 0 127.0.0.1\nmax_connections 4\n', '7'],
      ['listener 0 127.0.0.1\nmax_connections 3\nlistener 0 127.0.0.1\n', undefined],
    ] as const) {
      const broker = await startMoat({ config: `${config}allow_anonymous true\nsys_interval 1\n` });
      try {
        const observer = await CountingClient.connect(broker, 'limit-observer');
        const sys = await readSys(observer);
        observer.raw.destroy();
        assert.ok(sys.has('$SYS/broker/clients/connected'));
        assert.equal(sys.get('$SYS/broker/clients/limit'), expected);
        assert.equal(sys.get('$SYS/broker/capacity/percent'), expected === undefined ? undefined : '0.0');
      } finally {
        await broker.stop();
      }
    }
  });
});
