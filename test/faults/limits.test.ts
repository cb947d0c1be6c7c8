// Limits a broker announces and enforces: Maximum Packet Size (checked on the fixed header, before
// any body is buffered), Receive Maximum for incoming QoS 2, Retain Available 0 and moat's
// connect_timeout. One broker with all four configured; a bystander pair runs beside every case.
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import mqtt from 'mqtt';
import { startMoat, type RunningMoat } from '../kit/moat.js';
import { startBystanders, type Bystanders } from './bystanders.js';
import { CLOSE_TIMEOUT_MS, openClient, runCase, type FaultCase } from './cases.js';
import { hex, packet, props, RawClient, str, u16, validConnect } from './raw-client.js';

const CONFIG = [
  'listener 0 127.0.0.1',
  'allow_anonymous true',
  'max_packet_size 100',
  'max_inflight_messages 2',
  'retain_available false',
  'connect_timeout 2',
  '',
].join('\n');

const CASES: FaultCase[] = [
  {
    name: 'PUBLISH announcing a 1 MB remaining length (30 80 80 40, header only) gets DISCONNECT 0x95 at once (5.0 §3.2.2.3.6)',
    version: 5,
    bytes: Buffer.from([0x30, 0x80, 0x80, 0x40]),
    expect: { disconnect: 0x95 },
    // It must not wait for the megabyte that never comes.
    closeWithinMs: 500,
  },
  {
    name: 'a whole 200-byte PUBLISH above max_packet_size 100 gets DISCONNECT 0x95 (5.0 §3.2.2.3.6)',
    version: 5,
    bytes: packet(0x30, str('big'), props(), Buffer.alloc(191, 0x61)),
    expect: { disconnect: 0x95 },
  },
  {
    name: 'a 200-byte PUBLISH above max_packet_size 100 closes a 3.1.1 connection',
    version: 4,
    bytes: packet(0x30, str('big'), Buffer.alloc(192, 0x61)),
    expect: { silentClose: true },
  },
  {
    name: 'a 150-byte CONNECT above max_packet_size 100 is refused and closed, no DISCONNECT (5.0 §3.1.2.11.4)',
    version: 5,
    connectFirst: false,
    bytes: validConnect(5, 'c'.repeat(134)),
    expect: { refused: true },
  },
  {
    name: 'PUBLISH with RETAIN when the CONNACK said Retain Available 0 gets DISCONNECT 0x9A (5.0 §3.2.2.3.5)',
    version: 5,
    bytes: packet(0x31, str('r/t'), props(), Buffer.from('x')),
    expect: { disconnect: 0x9a },
  },
];

describe('faults: broker limits close only the offending connection', () => {
  let broker: RunningMoat;
  let bystanders: Bystanders;

  before(async () => {
    broker = await startMoat({ config: CONFIG });
    bystanders = await startBystanders(broker.url, 'limits');
  });

  after(async () => {
    await bystanders?.stop();
    await broker?.stop();
  });

  test('the CONNACK announces Maximum Packet Size 100, Receive Maximum 2 and Retain Available 0', async () => {
    const client = await RawClient.open({ host: broker.host, port: broker.port, version: 5 });
    try {
      client.send(validConnect(5, 'limits-connack'));
      const connack = await client.waitFor('connack', 2000);
      assert.equal(connack?.reasonCode, 0, client.describe());
      assert.equal(connack.properties?.maximumPacketSize, 100);
      assert.equal(connack.properties?.receiveMaximum, 2);
      assert.equal(connack.properties?.retainAvailable, 0);
    } finally {
      client.destroy();
    }
  });

  let n = 0;
  for (const c of CASES) {
    const clientId = `limit-${++n}`;
    test(c.name, async () => {
      const since = bystanders.received();
      await runCase(broker, c, clientId);
      await bystanders.assertHealthy(since, c.name);
    });
  }

  test('a third unacknowledged QoS 2 PUBLISH above Receive Maximum 2 gets DISCONNECT 0x93 (5.0 §3.3.4)', async () => {
    const since = bystanders.received();
    const client = await openClient(broker, 5, 'limit-receive-max');
    try {
      const before = client.packets.length;
      const sent: Buffer[] = [];
      for (const id of [1, 2, 3]) {
        const bytes = packet(0x34, str('q2/t'), u16(id), props(), Buffer.from(`m${id}`));
        sent.push(bytes);
        client.send(bytes);
      }
      assert.ok(await client.waitClosed(CLOSE_TIMEOUT_MS), `not closed after 3 QoS 2 PUBLISHes without PUBREL; ${client.describe()}`);
      const replies = client.packets.slice(before).map((p) =>
        p.type === 'disconnect' ? `disconnect 0x${(p.reasonCode ?? 0).toString(16)}` : p.type === 'pubrec' ? `pubrec ${p.packetId}` : p.type,
      );
      assert.deepEqual(replies, ['pubrec 1', 'pubrec 2', 'disconnect 0x93'], `sent [${sent.map(hex).join('] [')}]; ${client.describe()}`);
    } finally {
      client.destroy();
    }
    await bystanders.assertHealthy(since, 'Receive Maximum exceeded');
  });

  test('QoS 2 PUBLISHes completed with PUBREL do not count against Receive Maximum 2', async () => {
    const since = bystanders.received();
    const client = await openClient(broker, 5, 'limit-receive-max-ok');
    try {
      for (const id of [1, 2, 3, 4]) {
        client.send(packet(0x34, str('q2/ok'), u16(id), props(), Buffer.from(`m${id}`)));
        const pubrec = await client.until(() => client.packets.some((p) => p.type === 'pubrec' && p.packetId === id), 1000);
        assert.ok(pubrec, `no PUBREC ${id}; ${client.describe()}`);
        client.send(packet(0x62, u16(id)));
        const pubcomp = await client.until(() => client.packets.some((p) => p.type === 'pubcomp' && p.packetId === id), 1000);
        assert.ok(pubcomp, `no PUBCOMP ${id}; ${client.describe()}`);
      }
      assert.equal(client.closed, false, client.describe());
    } finally {
      client.destroy();
    }
    await bystanders.assertHealthy(since, 'QoS 2 within Receive Maximum');
  });

  test('a CONNECT dripped too slowly to finish is closed by connect_timeout 2 s, nothing sent', async () => {
    const since = bystanders.received();
    const client = await RawClient.open({ host: broker.host, port: broker.port, version: 4 });
    const opened = performance.now();
    try {
      // A valid CONNECT announcing 90 bytes (under max_packet_size), dripped one byte every 200 ms: it
      // would take 18 s to finish.
      const connect = Buffer.concat([str('MQTT'), Buffer.from([4, 2]), u16(60), str('d'.repeat(78))]);
      assert.equal(connect.length, 90);
      client.send(Buffer.from([0x10, connect.length]));
      for (const byte of connect) {
        if (client.closed || performance.now() - opened > 4000) break;
        client.send(Buffer.from([byte]));
        await sleep(200);
      }
      assert.ok(await client.waitClosed(500), `still open ${Math.round(performance.now() - opened)} ms after the socket opened; ${client.describe()}`);
      const elapsed = (client.closedAt ?? 0) - opened;
      assert.ok(client.closedByPeer, client.describe());
      assert.ok(elapsed >= 1500 && elapsed < 3500, `closed after ${Math.round(elapsed)} ms; connect_timeout is 2 s`);
      assert.deepEqual(client.packets, [], client.describe());
    } finally {
      client.destroy();
    }
    await bystanders.assertHealthy(since, 'connect timeout (drip)');
  });

  test('a socket that sends nothing is closed by connect_timeout 2 s', async () => {
    const since = bystanders.received();
    const client = await RawClient.open({ host: broker.host, port: broker.port, version: 4 });
    const opened = performance.now();
    try {
      assert.ok(await client.waitClosed(3500), `still open after 3.5 s; ${client.describe()}`);
      const elapsed = (client.closedAt ?? 0) - opened;
      assert.ok(elapsed >= 1500, `closed after only ${Math.round(elapsed)} ms; connect_timeout is 2 s`);
      assert.deepEqual(client.packets, [], client.describe());
    } finally {
      client.destroy();
    }
    await bystanders.assertHealthy(since, 'connect timeout (silent)');
  });

  test('after every case the broker process is alive and accepts a fresh connection', async () => {
    assert.doesNotThrow(() => process.kill(broker.pid, 0), `broker process ${broker.pid} is gone`);
    const client = await mqtt.connectAsync(broker.url, { protocolVersion: 5, clientId: 'limit-fresh', reconnectPeriod: 0, connectTimeout: 3000 });
    try {
      assert.ok(client.connected);
    } finally {
      await client.endAsync();
    }
    assert.deepEqual(
      broker.logs.filter((l) => l.includes('"handler_error"')),
      [],
      'the broker logged internal handler errors',
    );
  });
});
