// Bad input from one client costs that client its connection, with the reason code the spec has
// for it, and nothing else: a bystander publisher/subscriber pair keeps exchanging messages on the
// same broker process throughout, and the process survives. Mosquitto's test/broker/13-malformed-*
// area, over a real socket to `moat broker`. Packet-size, Receive Maximum, retain and connect
// timeout limits need their own broker config: see limits.test.ts.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import mqtt from 'mqtt';
import { ProtocolError } from '../../src/codec/errors.js';
import { Parser } from '../../src/codec/parser.js';
import { startMoat, type RunningMoat } from '../kit/moat.js';
import { startBystanders, type Bystanders } from './bystanders.js';
import { CLOSE_TIMEOUT_MS, openClient, runCase, type FaultCase } from './cases.js';
import { hex, packet, props, RawClient, str, u16, validConnect } from './raw-client.js';

const utf8 = (s: string): Buffer => Buffer.from(s, 'utf8');
/** A CONNECT body up to and including the connect flags byte: name, level, flags, keep alive 60. */
const connectHead = (name: string, level: number, flags: number): Buffer => Buffer.concat([str(name), Buffer.from([level, flags]), u16(60)]);
const PINGREQ = Buffer.from([0xc0, 0x00]);

const CASES: FaultCase[] = [
  // ---- fixed header ------------------------------------------------------------------------
  {
    name: 'remaining length as a 5-byte varint (ff ff ff ff 7f) gets DISCONNECT 0x81 malformed (5.0 §1.5.5, §2.1.4)',
    version: 5,
    bytes: Buffer.from([0x30, 0xff, 0xff, 0xff, 0xff, 0x7f]),
    expect: { disconnect: 0x81 },
  },
  {
    name: 'remaining length as a 5-byte varint closes a 3.1.1 connection (3.1.1 §2.2.3)',
    version: 4,
    bytes: Buffer.from([0x30, 0xff, 0xff, 0xff, 0xff, 0x7f]),
    expect: { silentClose: true },
  },
  {
    name: 'reserved packet type 0 gets DISCONNECT 0x81 (5.0 §2.1.2)',
    version: 5,
    bytes: Buffer.from([0x00, 0x00]),
    expect: { disconnect: 0x81 },
  },
  {
    name: 'packet type 15 (AUTH) under 3.1.1, where it is reserved, closes the connection (3.1.1 §2.2.1)',
    version: 4,
    bytes: Buffer.from([0xf0, 0x00]),
    expect: { silentClose: true },
  },
  {
    name: 'AUTH under 5.0 without an authentication method in CONNECT gets DISCONNECT 0x82 (5.0 §3.1.2.11.9)',
    version: 5,
    bytes: Buffer.from([0xf0, 0x00]),
    expect: { disconnect: 0x82 },
  },
  {
    name: 'PUBACK with reserved flags 0001 (0x41) gets DISCONNECT 0x81 [MQTT-2.1.3-1]',
    version: 5,
    bytes: packet(0x41, u16(1)),
    expect: { disconnect: 0x81 },
  },
  {
    name: 'SUBSCRIBE with flags 0000 (0x80 instead of 0x82) gets DISCONNECT 0x81 [MQTT-3.8.1-1]',
    version: 5,
    bytes: packet(0x80, u16(1), props(), str('a/b'), [0x00]),
    expect: { disconnect: 0x81 },
  },
  {
    name: 'PUBREL with flags 0000 (0x60 instead of 0x62) closes a 3.1.1 connection [MQTT-3.6.1-1]',
    version: 4,
    bytes: packet(0x60, u16(1)),
    expect: { silentClose: true },
  },
  {
    name: 'PUBREL with flags 0000 (0x60 instead of 0x62) gets DISCONNECT 0x81 [MQTT-3.6.1-1]',
    version: 5,
    bytes: packet(0x60, u16(1)),
    expect: { disconnect: 0x81 },
  },
  {
    name: 'PINGREQ with a trailing byte (c0 01 00) gets DISCONNECT 0x81 (5.0 §3.12)',
    version: 5,
    bytes: Buffer.from([0xc0, 0x01, 0x00]),
    expect: { disconnect: 0x81 },
  },
  {
    name: 'CONNACK sent by a client gets DISCONNECT 0x82 (5.0 §3.2)',
    version: 5,
    bytes: packet(0x20, [0x00, 0x00, 0x00]),
    expect: { disconnect: 0x82 },
  },

  // ---- CONNECT -----------------------------------------------------------------------------
  {
    name: 'CONNECT with protocol name "MQTX" is closed without a CONNACK [MQTT-3.1.2-1]',
    version: 4,
    connectFirst: false,
    bytes: packet(0x10, connectHead('MQTX', 4, 0x02), str('bad-name')),
    expect: { silentClose: true },
  },
  {
    name: 'CONNECT with protocol level 7 gets CONNACK return code 1 (20 02 00 01) and the close [MQTT-3.1.2-2]',
    version: 4,
    connectFirst: false,
    bytes: packet(0x10, connectHead('MQTT', 7, 0x02), str('bad-level')),
    expect: { connack: 1 },
  },
  {
    name: 'CONNECT 3.1.1 with the reserved connect flag (bit 0) set is closed without a CONNACK [MQTT-3.1.2-3]',
    version: 4,
    connectFirst: false,
    bytes: packet(0x10, connectHead('MQTT', 4, 0x03), str('reserved-flag')),
    expect: { silentClose: true },
  },
  {
    name: 'CONNECT 5.0 with the reserved connect flag (bit 0) set is refused and closed, no DISCONNECT [MQTT-3.1.2-3]',
    version: 5,
    connectFirst: false,
    bytes: packet(0x10, connectHead('MQTT', 5, 0x03), props(), str('reserved-flag')),
    expect: { refused: true },
  },
  {
    name: 'CONNECT 5.0 with Will QoS 3 is refused and closed [MQTT-3.1.2-12]',
    version: 5,
    connectFirst: false,
    // flags: clean start, will flag, will QoS 3
    bytes: packet(0x10, connectHead('MQTT', 5, 0x1e), props(), str('will-qos3'), props(), str('will/t'), str('bye')),
    expect: { refused: true },
  },
  {
    name: 'CONNECT 3.1.1 with Will Retain but no Will Flag is closed without a CONNACK [MQTT-3.1.2-15]',
    version: 4,
    connectFirst: false,
    bytes: packet(0x10, connectHead('MQTT', 4, 0x22), str('will-retain')),
    expect: { silentClose: true },
  },
  {
    name: 'CONNECT with a client id that is not UTF-8 (61 c3 28) is closed without a CONNACK [MQTT-1.5.3-1]',
    version: 4,
    connectFirst: false,
    bytes: packet(0x10, connectHead('MQTT', 4, 0x02), str(Buffer.from([0x61, 0xc3, 0x28]))),
    expect: { silentClose: true },
  },
  {
    name: 'CONNECT 5.0 with a client id holding a UTF-16 surrogate (ed a0 80) is refused and closed [MQTT-1.5.4-1]',
    version: 5,
    connectFirst: false,
    bytes: packet(0x10, connectHead('MQTT', 5, 0x02), props(), str(Buffer.from([0x63, 0xed, 0xa0, 0x80]))),
    expect: { refused: true },
  },
  {
    name: 'second CONNECT on a 3.1.1 connection closes it [MQTT-3.1.0-2]',
    version: 4,
    bytes: validConnect(4, 'second-connect-v4'),
    expect: { silentClose: true },
  },
  {
    name: 'second CONNECT on a 5.0 connection gets DISCONNECT 0x82 [MQTT-3.1.0-2]',
    version: 5,
    bytes: validConnect(5, 'second-connect-v5'),
    expect: { disconnect: 0x82 },
  },
  {
    name: 'PUBLISH before CONNECT is closed with nothing sent [MQTT-3.1.0-1]',
    version: 4,
    connectFirst: false,
    bytes: packet(0x30, str('a/b'), utf8('early')),
    expect: { silentClose: true },
  },
  {
    name: 'PINGREQ before CONNECT is closed with nothing sent [MQTT-3.1.0-1]',
    version: 4,
    connectFirst: false,
    bytes: PINGREQ,
    expect: { silentClose: true },
  },
  {
    name: 'random bytes before CONNECT (first byte not 0x10) are closed with nothing sent [MQTT-3.1.0-1]',
    version: 4,
    connectFirst: false,
    bytes: Buffer.concat([Buffer.from([0x47, 0x45, 0x54, 0x20]), randomBytes(256)]), // "GET " then noise
    expect: { silentClose: true },
  },

  // ---- PUBLISH -----------------------------------------------------------------------------
  {
    name: 'PUBLISH with U+0000 in the topic name gets DISCONNECT 0x81 [MQTT-1.5.4-2]',
    version: 5,
    bytes: packet(0x30, str(Buffer.from('a\u0000b')), props(), utf8('x')),
    expect: { disconnect: 0x81 },
  },
  {
    name: 'PUBLISH 3.1.1 to topic "a/+" closes the connection [MQTT-3.3.2-2]',
    version: 4,
    bytes: packet(0x30, str('a/+'), utf8('x')),
    expect: { silentClose: true },
  },
  {
    name: 'PUBLISH 5.0 to topic "a/#" gets DISCONNECT 0x82 protocol error [MQTT-3.3.2-2]',
    version: 5,
    bytes: packet(0x30, str('a/#'), props(), utf8('x')),
    expect: { disconnect: 0x82 },
  },
  {
    name: 'PUBLISH with QoS 3 (0x36) gets DISCONNECT 0x81 [MQTT-3.3.1-4]',
    version: 5,
    bytes: packet(0x36, str('a'), u16(1), props(), utf8('x')),
    expect: { disconnect: 0x81 },
  },
  {
    name: 'PUBLISH QoS 0 with DUP set (0x38) gets DISCONNECT 0x81 [MQTT-3.3.1-2]',
    version: 5,
    bytes: packet(0x38, str('a'), props(), utf8('x')),
    expect: { disconnect: 0x81 },
  },
  {
    name: 'PUBLISH QoS 1 with packet identifier 0 gets DISCONNECT 0x82 [MQTT-2.2.1-3]',
    version: 5,
    bytes: packet(0x32, str('a'), u16(0), props(), utf8('x')),
    expect: { disconnect: 0x82 },
  },
  {
    name: 'PUBLISH QoS 1 with packet identifier 0 closes a 3.1.1 connection [MQTT-2.3.1-1]',
    version: 4,
    bytes: packet(0x32, str('a'), u16(0), utf8('x')),
    expect: { silentClose: true },
  },
  {
    name: 'PUBLISH with two Payload Format Indicators gets DISCONNECT 0x82 (5.0 §3.3.2.3.2)',
    version: 5,
    bytes: packet(0x30, str('a'), props([0x01, 0x00], [0x01, 0x01]), utf8('x')),
    expect: { disconnect: 0x82 },
  },
  {
    name: 'PUBLISH with two Message Expiry Intervals gets DISCONNECT 0x82 (5.0 §3.3.2.3.3)',
    version: 5,
    bytes: packet(0x30, str('a'), props([0x02, 0, 0, 0, 10], [0x02, 0, 0, 0, 20]), utf8('x')),
    expect: { disconnect: 0x82 },
  },
  {
    name: 'PUBLISH with unknown property identifier 0x7f gets DISCONNECT 0x81 (5.0 §2.2.2.2)',
    version: 5,
    bytes: packet(0x30, str('a'), props([0x7f, 0x00]), utf8('x')),
    expect: { disconnect: 0x81 },
  },
  {
    name: 'PUBLISH with Session Expiry Interval (a CONNECT property) gets DISCONNECT 0x81 (5.0 §2.2.2.2)',
    version: 5,
    bytes: packet(0x30, str('a'), props([0x11, 0, 0, 0, 5]), utf8('x')),
    expect: { disconnect: 0x81 },
  },
  {
    name: 'PUBLISH whose property length runs past the packet gets DISCONNECT 0x81 (5.0 §2.2.2.1)',
    version: 5,
    bytes: packet(0x30, str('a'), [0x20, 0x01, 0x00]),
    expect: { disconnect: 0x81 },
  },
  {
    name: 'PUBLISH 5.0 with a zero-length topic and no Topic Alias gets DISCONNECT 0x82 (5.0 §3.3.2.3.4)',
    version: 5,
    bytes: packet(0x30, str(''), props(), utf8('x')),
    expect: { disconnect: 0x82 },
  },
  {
    name: 'PUBLISH 3.1.1 with a zero-length topic closes the connection [MQTT-4.7.3-1]',
    version: 4,
    bytes: packet(0x30, str(''), utf8('x')),
    expect: { silentClose: true },
  },
  {
    name: 'PUBLISH with Topic Alias 0 gets DISCONNECT 0x94 topic alias invalid [MQTT-3.3.2-8]',
    version: 5,
    bytes: packet(0x30, str('a'), props([0x23, 0x00, 0x00]), utf8('x')),
    expect: { disconnect: 0x94 },
  },
  {
    name: 'PUBLISH with Topic Alias 11, above the Topic Alias Maximum 10 of the CONNACK, gets DISCONNECT 0x94 [MQTT-3.3.2-9]',
    version: 5,
    bytes: packet(0x30, str('a'), props([0x23, 0x00, 0x0b]), utf8('x')),
    expect: { disconnect: 0x94 },
  },
  {
    name: 'PUBLISH with an empty topic and a Topic Alias never set gets DISCONNECT 0x82 (5.0 §3.3.2.3.4)',
    version: 5,
    bytes: packet(0x30, str(''), props([0x23, 0x00, 0x01]), utf8('x')),
    expect: { disconnect: 0x82 },
  },

  // ---- SUBSCRIBE / UNSUBSCRIBE -------------------------------------------------------------
  {
    name: 'SUBSCRIBE with packet identifier 0 gets DISCONNECT 0x82 [MQTT-2.2.1-3]',
    version: 5,
    bytes: packet(0x82, u16(0), props(), str('a/b'), [0x00]),
    expect: { disconnect: 0x82 },
  },
  {
    name: 'SUBSCRIBE with an empty filter list gets DISCONNECT 0x82 (5.0 §3.8.3)',
    version: 5,
    bytes: packet(0x82, u16(1), props()),
    expect: { disconnect: 0x82 },
  },
  {
    name: 'SUBSCRIBE 3.1.1 with an empty filter list closes the connection [MQTT-3.8.3-3]',
    version: 4,
    bytes: packet(0x82, u16(1)),
    expect: { silentClose: true },
  },
  {
    name: 'SUBSCRIBE to "a/#/b" (# not last) gets DISCONNECT 0x81 [MQTT-4.7.1-1]',
    version: 5,
    bytes: packet(0x82, u16(1), props(), str('a/#/b'), [0x00]),
    expect: { disconnect: 0x81 },
  },
  {
    name: 'SUBSCRIBE to "sport+" (+ not a whole level) gets DISCONNECT 0x81 [MQTT-4.7.1-2]',
    version: 5,
    bytes: packet(0x82, u16(1), props(), str('sport+'), [0x00]),
    expect: { disconnect: 0x81 },
  },
  {
    name: 'SUBSCRIBE 3.1.1 to an empty filter "" closes the connection [MQTT-4.7.3-1]',
    version: 4,
    bytes: packet(0x82, u16(1), str(''), [0x00]),
    expect: { silentClose: true },
  },
  {
    name: 'SUBSCRIBE 5.0 to an empty filter "" gets DISCONNECT 0x81 [MQTT-4.7.3-1]',
    version: 5,
    bytes: packet(0x82, u16(1), props(), str(''), [0x00]),
    expect: { disconnect: 0x81 },
  },
  {
    name: 'SUBSCRIBE with No Local on a shared subscription gets DISCONNECT 0x82 [MQTT-3.8.3-4]',
    version: 5,
    bytes: packet(0x82, u16(1), props(), str('$share/g/t'), [0x04]),
    expect: { disconnect: 0x82 },
  },
  {
    name: 'SUBSCRIBE with reserved subscription option bits set gets DISCONNECT 0x81 [MQTT-3.8.3-5]',
    version: 5,
    bytes: packet(0x82, u16(1), props(), str('a'), [0xc0]),
    expect: { disconnect: 0x81 },
  },
  {
    name: 'UNSUBSCRIBE with an empty filter list gets DISCONNECT 0x82 [MQTT-3.10.3-2]',
    version: 5,
    bytes: packet(0xa2, u16(1), props()),
    expect: { disconnect: 0x82 },
  },
];

describe('faults: malformed and illegal packets close only the offending connection', () => {
  let broker: RunningMoat;
  let bystanders: Bystanders;

  before(async () => {
    broker = await startMoat();
    bystanders = await startBystanders(broker.url, 'malformed');
  });

  after(async () => {
    await bystanders?.stop();
    await broker?.stop();
  });

  let n = 0;
  for (const c of CASES) {
    const clientId = `fault-${++n}`;
    test(c.name, async () => {
      const since = bystanders.received();
      await runCase(broker, c, clientId);
      await bystanders.assertHealthy(since, c.name);
    });
  }

  test('PUBREL for an unknown packet id gets PUBCOMP 0x92 and the connection stays usable (5.0 §3.7.2.1)', async () => {
    const since = bystanders.received();
    const client = await openClient(broker, 5, 'fault-pubrel-v5');
    try {
      client.send(packet(0x62, u16(77)));
      const pubcomp = await client.waitFor('pubcomp', 1000);
      assert.ok(pubcomp, `no PUBCOMP for PUBREL 77; ${client.describe()}`);
      assert.equal(pubcomp.packetId, 77);
      assert.equal(pubcomp.reasonCode, 0x92, `PUBCOMP reason code; ${client.describe()}`);
      client.send(PINGREQ);
      assert.ok(await client.waitFor('pingresp', 1000), `no PINGRESP after the PUBCOMP; ${client.describe()}`);
      assert.equal(client.closed, false, `the broker closed the connection; ${client.describe()}`);
      assert.ok(!client.packets.some((p) => p.type === 'disconnect'), `unexpected DISCONNECT; ${client.describe()}`);
    } finally {
      client.destroy();
    }
    await bystanders.assertHealthy(since, 'PUBREL unknown id');
  });

  test('PUBREL 3.1.1 for an unknown packet id gets PUBCOMP and the connection stays open (3.1.1 §4.3.3)', async () => {
    const since = bystanders.received();
    const client = await openClient(broker, 4, 'fault-pubrel-v4');
    try {
      client.send(packet(0x62, u16(78)));
      const pubcomp = await client.waitFor('pubcomp', 1000);
      assert.ok(pubcomp, `no PUBCOMP for PUBREL 78; ${client.describe()}`);
      assert.equal(pubcomp.packetId, 78);
      client.send(PINGREQ);
      assert.ok(await client.waitFor('pingresp', 1000), `no PINGRESP after the PUBCOMP; ${client.describe()}`);
      assert.equal(client.closed, false, `the broker closed the connection; ${client.describe()}`);
    } finally {
      client.destroy();
    }
    await bystanders.assertHealthy(since, 'PUBREL 3.1.1 unknown id');
  });

  test('a valid CONNECT sent one byte every 100 ms still connects (CONNACK 0)', async () => {
    const since = bystanders.received();
    const client = await RawClient.open({ host: broker.host, port: broker.port, version: 4 });
    try {
      const bytes = validConnect(4, 'drip');
      for (const byte of bytes) {
        client.send(Buffer.from([byte]));
        await sleep(100);
        assert.equal(client.closed, false, `closed mid-CONNECT; ${client.describe()}`);
      }
      const connack = await client.waitFor('connack', 1000);
      assert.equal(connack?.reasonCode, 0, `no CONNACK 0 after a dripped CONNECT [${hex(bytes)}]; ${client.describe()}`);
      client.send(PINGREQ);
      assert.ok(await client.waitFor('pingresp', 1000), `no PINGRESP; ${client.describe()}`);
    } finally {
      client.destroy();
    }
    await bystanders.assertHealthy(since, 'slow-drip CONNECT');
  });

  test('4 KB of random bytes after CONNECT get DISCONNECT with the reason code of the first error', async () => {
    const since = bystanders.received();
    const { bytes, reasonCode } = garbageTheCodecRejects();
    const client = await openClient(broker, 5, 'fault-garbage');
    try {
      const before = client.packets.length;
      client.send(bytes);
      assert.ok(await client.waitClosed(CLOSE_TIMEOUT_MS), `not closed after garbage [${hex(bytes)}]; ${client.describe()}`);
      const afterConnack = client.packets.slice(before);
      const last = afterConnack.at(-1);
      assert.ok(last?.type === 'disconnect' && last.reasonCode === reasonCode, `expected DISCONNECT 0x${reasonCode.toString(16)} after garbage [${hex(bytes)}]; ${client.describe()}`);
    } finally {
      client.destroy();
    }
    await bystanders.assertHealthy(since, 'random garbage');
  });

  test('a truncated PUBLISH followed by the client closing its side leaves the broker running', async () => {
    const since = bystanders.received();
    const client = await openClient(broker, 5, 'fault-truncated');
    try {
      const whole = packet(0x30, str('t/truncated'), props(), utf8('hello world'));
      client.send(whole.subarray(0, 7));
      await sleep(50);
      client.socket.end();
      // The broker answers the half-close by closing its side too.
      assert.ok(await client.waitClosed(CLOSE_TIMEOUT_MS), `broker did not finish the connection; ${client.describe()}`);
    } finally {
      client.destroy();
    }
    assert.doesNotThrow(() => process.kill(broker.pid, 0), 'broker process died');
    await bystanders.assertHealthy(since, 'truncated PUBLISH + client close');
  });

  test('a truncated CONNECT followed by a reset (socket destroyed) leaves the broker running', async () => {
    const since = bystanders.received();
    const client = await RawClient.open({ host: broker.host, port: broker.port, version: 4 });
    client.send(validConnect(4, 'fault-truncated-connect').subarray(0, 9));
    await sleep(50);
    client.socket.resetAndDestroy();
    client.destroy();
    await sleep(100);
    assert.doesNotThrow(() => process.kill(broker.pid, 0), 'broker process died');
    await bystanders.assertHealthy(since, 'truncated CONNECT + reset');
  });

  test('after every case the broker process is alive and accepts a fresh connection', async () => {
    assert.doesNotThrow(() => process.kill(broker.pid, 0), `broker process ${broker.pid} is gone`);
    const client = await mqtt.connectAsync(broker.url, { protocolVersion: 5, clientId: 'fault-fresh', reconnectPeriod: 0, connectTimeout: 3000 });
    try {
      assert.ok(client.connected);
    } finally {
      await client.endAsync();
    }
    const warnings = broker.logs.filter((l) => l.includes('"handler_error"'));
    assert.deepEqual(warnings, [], 'the broker logged internal handler errors');
  });
});

/**
 * 4 KB of crypto.randomBytes that moat's codec rejects before decoding any packet from them (most
 * random buffers do: a reserved type, wrong flags or a bad body), so the test knows the reason code
 * to expect. Random bytes that happen to announce a large valid packet would just wait for more.
 */
function garbageTheCodecRejects(): { bytes: Buffer; reasonCode: number } {
  for (let attempt = 0; attempt < 1000; attempt++) {
    const bytes = randomBytes(4096);
    let first: 'packet' | ProtocolError | undefined;
    const parser = new Parser(
      {
        onPacket: () => {
          first ??= 'packet';
        },
        onError: (error) => {
          first ??= error;
        },
      },
      { side: 'server', protocolVersion: 5 },
    );
    parser.push(bytes);
    const outcome = first as 'packet' | ProtocolError | undefined;
    if (outcome instanceof ProtocolError) return { bytes, reasonCode: outcome.reasonCode ?? 0x82 };
  }
  throw new Error('no rejected garbage in 1000 tries');
}
