// Connection limits of issue 12 on a real moat process, with raw packets: global_max_connections
// across two listeners, max_connection_rate_per_address (loopback is not exempt) and
// max_connection_rate. The refused client is told why — CONNACK 0x97 / 0x9F with a reason string
// (v5), return code 3 (3.1.1) — the clients already in keep working, and every refusal is counted
// in $SYS/broker/refused/<reason>, also under a storm of 1,500 connects. Mosquitto 2.0.11 has none
// of these options (it refuses to start with them: "Unknown configuration variable"), so these run
// against moat only.
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { encode } from '../../src/codec/encode.js';
import type { Packet, ProtocolVersion } from '../../src/codec/types.js';
import { startMoat, until, type RunningMoat } from '../kit/index.js';
import { RawClient } from '../faults/raw-client.js';

interface Attempt {
  readonly client: RawClient;
  readonly connack: Packet | undefined;
}

async function attempt(host: string, port: number, clientId: string, version: ProtocolVersion, localAddress?: string): Promise<Attempt> {
  const client = await RawClient.open({ host, port, version, ...(localAddress === undefined ? {} : { localAddress }) });
  client.send(encode({ type: 'connect', protocolName: 'MQTT', protocolVersion: version, clean: true, keepalive: 60, clientId }, version));
  await client.until(() => client.packets.length > 0 || client.closed, 5000);
  return { client, connack: client.packets[0] };
}

function codeOf(a: Attempt): number | undefined {
  return a.connack?.type === 'connack' ? a.connack.reasonCode : undefined;
}

/** A client subscribed to $SYS/broker/refused/<reason>; `value()` is the last one published. */
async function watchRefused(host: string, port: number, reason: string, localAddress?: string): Promise<{ client: RawClient; value(): string | undefined }> {
  const { client } = await attempt(host, port, `sys-${reason}`, 4, localAddress);
  client.send(encode({ type: 'subscribe', packetId: 1, subscriptions: [{ filter: `$SYS/broker/refused/${reason}`, qos: 0, noLocal: false, retainAsPublished: false, retainHandling: 0 }] }, 4));
  assert.ok(await client.until(() => client.packets.some((p) => p.type === 'suback'), 5000), client.describe());
  return {
    client,
    value: () => {
      const last = client.packets.filter((p) => p.type === 'publish').at(-1);
      return last?.type === 'publish' ? last.payload.toString() : undefined;
    },
  };
}

describe('global_max_connections 3 across two listeners', () => {
  let broker: RunningMoat;
  const open: RawClient[] = [];
  after(async () => {
    for (const client of open) client.destroy();
    await broker?.stop();
  });

  test('the fourth client on either listener is refused in words; the three inside keep exchanging messages; counted', async () => {
    // One more slot than clients: the $SYS watcher below needs one too.
    broker = await startMoat({ config: 'listener 0 127.0.0.1\nlistener 0 127.0.0.1\nallow_anonymous true\nglobal_max_connections 3\nsys_interval 1\n' });
    await until(() => broker.listeners.length >= 2, 5000, 'the second listener');
    const [first, second] = broker.listeners as unknown as [{ port: number }, { port: number }];
    assert.notEqual(first.port, second.port);
    // The $SYS watcher is the first of the three.
    const watcher = await watchRefused(broker.host, first.port, 'global_max_connections');
    open.push(watcher.client);
    const inside = [await attempt(broker.host, first.port, 'in-1', 4), await attempt(broker.host, second.port, 'in-2', 4)];
    for (const a of inside) {
      assert.equal(codeOf(a), 0, a.client.describe());
      open.push(a.client);
    }

    const v5 = await attempt(broker.host, first.port, 'over-5', 5);
    assert.ok(v5.connack?.type === 'connack', v5.client.describe());
    assert.equal(v5.connack.reasonCode, 0x97);
    assert.match(v5.connack.properties?.reasonString ?? '', /global_max_connections 3/);
    assert.ok(await v5.client.waitClosed(5000), v5.client.describe());
    const v4 = await attempt(broker.host, second.port, 'over-4', 4);
    assert.equal(codeOf(v4), 3, v4.client.describe());
    assert.ok(await v4.client.waitClosed(5000), v4.client.describe());

    const [subscriber, publisher] = [inside[0] as Attempt, inside[1] as Attempt];
    subscriber.client.send(encode({ type: 'subscribe', packetId: 1, subscriptions: [{ filter: 'g/t', qos: 1, noLocal: false, retainAsPublished: false, retainHandling: 0 }] }, 4));
    assert.ok(await subscriber.client.until(() => subscriber.client.packets.some((p) => p.type === 'suback'), 5000));
    publisher.client.send(encode({ type: 'publish', topic: 'g/t', payload: Buffer.from('across listeners'), qos: 1, packetId: 3, retain: false, dup: false }, 4));
    assert.ok(await subscriber.client.until(() => subscriber.client.packets.some((p) => p.type === 'publish' && p.payload.toString() === 'across listeners'), 5000), subscriber.client.describe());
    assert.ok(broker.logs.some((line) => line.includes('"limit_refused"') && line.includes('"limit":"global_max_connections"')), broker.logs.slice(-5).join('\n'));

    assert.ok(await watcher.client.until(() => watcher.value() === '2', 5000), `$SYS/broker/refused/global_max_connections: ${watcher.value()}`);
  });
});

describe('max_connection_rate_per_address 2', () => {
  let broker: RunningMoat;
  const open: RawClient[] = [];
  after(async () => {
    for (const client of open) client.destroy();
    await broker?.stop();
  });

  test('a third connection from 127.0.0.1 within a second gets 0x9F (v5) / 3 (3.1.1); 127.0.0.2 still connects; counted', async () => {
    broker = await startMoat({ config: 'listener 0 127.0.0.1\nallow_anonymous true\nmax_connection_rate_per_address 2\nsys_interval 1\n' });
    const tries: Attempt[] = [];
    for (let i = 0; i < 4; i++) tries.push(await attempt(broker.host, broker.port, `a-${i}`, i % 2 === 0 ? 5 : 4, '127.0.0.1'));
    for (const a of tries) open.push(a.client);
    const codes = tries.map(codeOf);
    // Two tokens, refilled at 2 per second: at least one of the four, and never either of the first two, is refused.
    assert.deepEqual(codes.slice(0, 2), [0, 0]);
    const refused = tries.filter((a) => codeOf(a) !== 0);
    assert.ok(refused.length >= 1, codes.join(','));
    for (const a of refused) {
      const v5 = tries.indexOf(a) % 2 === 0;
      assert.equal(codeOf(a), v5 ? 0x9f : 3);
      if (v5 && a.connack?.type === 'connack') assert.match(a.connack.properties?.reasonString ?? '', /max_connection_rate_per_address 2 per second/);
      assert.ok(await a.client.waitClosed(5000), a.client.describe());
    }
    const other = await attempt(broker.host, broker.port, 'other', 5, '127.0.0.2');
    open.push(other.client);
    assert.equal(codeOf(other), 0, other.client.describe());
    // The watcher comes from its own address (the rate applies to it too).
    const watcher = await watchRefused(broker.host, broker.port, 'max_connection_rate_per_address', '127.0.0.3');
    open.push(watcher.client);
    assert.ok(await watcher.client.until(() => watcher.value() === String(refused.length), 5000), `${watcher.value()} ${refused.length}`);
  });
});

describe('max_connection_rate 3', () => {
  let broker: RunningMoat;
  const open: RawClient[] = [];
  after(async () => {
    for (const client of open) client.destroy();
    await broker?.stop();
  });

  test('a burst past the broker-wide rate is refused 0x9F / 3 from any address; the clients in keep working', async () => {
    broker = await startMoat({ config: 'listener 0 127.0.0.1\nallow_anonymous true\nmax_connection_rate 3\n' });
    const tries = await Promise.all(Array.from({ length: 10 }, (_, i) => attempt(broker.host, broker.port, `b-${i}`, i % 2 === 0 ? 5 : 4, `127.0.0.${i + 1}`)));
    for (const a of tries) open.push(a.client);
    const admitted = tries.filter((a) => codeOf(a) === 0);
    const refused = tries.filter((a) => codeOf(a) !== 0);
    assert.ok(admitted.length >= 3 && refused.length >= 1, tries.map(codeOf).join(','));
    for (const a of refused) assert.equal(codeOf(a), tries.indexOf(a) % 2 === 0 ? 0x9f : 3, a.client.describe());
    const inside = admitted[0] as Attempt;
    inside.client.send(encode({ type: 'pingreq' }, 4));
    assert.ok(await inside.client.until(() => inside.client.packets.some((p) => p.type === 'pingresp'), 5000), inside.client.describe());
    assert.ok(broker.logs.some((line) => line.includes('"limit_refused"') && line.includes('"limit":"max_connection_rate"')));
  });
});

describe('a connection storm against max_connection_rate 200 and max_connection_rate_per_address 10', () => {
  let broker: RunningMoat;
  const open: RawClient[] = [];
  after(async () => {
    for (const client of open) client.destroy();
    await broker?.stop();
  });

  test('1,500 connects from 30 addresses: each is answered or closed, every refusal is counted once, a bystander is served throughout', async () => {
    broker = await startMoat({ config: 'listener 0 127.0.0.1\nallow_anonymous true\nmax_connection_rate 200\nmax_connection_rate_per_address 10\nsys_interval 1\nconnection_messages false\n' });
    const watcher = await watchRefused(broker.host, broker.port, '#', '127.0.0.250');
    const bystander = await attempt(broker.host, broker.port, 'bystander', 4, '127.0.0.251');
    open.push(watcher.client, bystander.client);
    assert.equal(codeOf(bystander), 0);
    let pings = 0;
    let pongs = 0;
    const pinger = setInterval(() => {
      pings++;
      bystander.client.send(encode({ type: 'pingreq' }, 4));
    }, 20);
    const outcomes = new Map<string, number>();
    const total = 1500;
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < total) {
        const i = next++;
        const version = i % 2 === 0 ? 5 : 4;
        const a = await attempt(broker.host, broker.port, `storm-${i}`, version, `127.0.1.${(i % 30) + 1}`);
        const code = codeOf(a);
        const key = code === undefined ? 'closed' : String(code);
        outcomes.set(key, (outcomes.get(key) ?? 0) + 1);
        a.client.destroy();
      }
    };
    try {
      await Promise.all(Array.from({ length: 50 }, worker));
    } finally {
      clearInterval(pinger);
    }
    const answered = [...outcomes.values()].reduce((a, b) => a + b, 0);
    assert.equal(answered, total, JSON.stringify([...outcomes]));
    for (const key of outcomes.keys()) assert.ok(['0', '3', '159', 'closed'].includes(key), JSON.stringify([...outcomes]));
    const refused = total - (outcomes.get('0') ?? 0);
    assert.ok(refused > 0, JSON.stringify([...outcomes]));
    // The bystander's pings were all answered.
    assert.ok(await bystander.client.until(() => (pongs = bystander.client.packets.filter((p) => p.type === 'pingresp').length) === pings, 5000), `${pongs} of ${pings}`);
    // Every refusal counted exactly once: $SYS/broker/refused/<limit> add up to the refused attempts.
    const sums = (): number => {
      const latest = new Map<string, number>();
      for (const p of watcher.client.packets) if (p.type === 'publish' && p.topic !== '$SYS/broker/refused') latest.set(p.topic, Number(p.payload.toString()));
      return [...latest.values()].reduce((a, b) => a + b, 0);
    };
    assert.ok(await watcher.client.until(() => sums() === refused, 5000), `${sums()} counted, ${refused} refused: ${JSON.stringify([...outcomes])}`);
  });
});
