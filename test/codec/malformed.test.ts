// One test per parser validation rule, each asserting the reason code it reports.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { MoatError } from '../../src/codec/errors.js';
import { encode } from '../../src/codec/encode.js';
import type { ParserOptions } from '../../src/codec/parser.js';
import type { Packet, ProtocolVersion } from '../../src/codec/types.js';
import { hex, parse, parseChunks } from './helpers.js';

const MALFORMED = 0x81;
const PROTOCOL_ERROR = 0x82;
const UNSUPPORTED_VERSION = 0x84;
const TOO_LARGE = 0x95;

/** A whole packet from its first byte and body hex (remaining length computed, < 128). */
function pkt(first: number, body: string): Buffer {
  const b = hex(body);
  assert.ok(b.length < 128);
  return Buffer.concat([Buffer.from([first, b.length]), b]);
}

/** Hex of an MQTT string: two-byte length + UTF-8 bytes. */
function str(s: string | Buffer): string {
  const b = typeof s === 'string' ? Buffer.from(s) : s;
  return b.length.toString(16).padStart(4, '0') + b.toString('hex');
}

/** Hex of a property block: varint length (< 128) + properties. */
function props(p: string): string {
  const b = hex(p);
  return b.length.toString(16).padStart(2, '0') + b.toString('hex');
}

/** Asserts that parsing yields no packet and exactly one error with `code`. */
function rejects(bytes: Buffer | Buffer[], code: number, options: ParserOptions = {}): void {
  const { packets, errors, parser } = parseChunks(Array.isArray(bytes) ? bytes : [bytes], options);
  assert.equal(errors.length, 1, `expected one error, got ${errors.length} (packets: ${JSON.stringify(packets)})`);
  const [err] = errors;
  assert.ok(err);
  assert.equal(err.reasonCode, code, err.message);
  assert.equal(err.name, 'ProtocolError');
  assert.ok(err.message.length > 0);
  assert.equal(parser.failed, true);
  assert.deepEqual(packets, []);
}

function accepts(bytes: Buffer, options: ParserOptions = {}): Packet {
  const { packets, errors } = parse(bytes, options);
  assert.deepEqual(errors, []);
  assert.equal(packets.length, 1);
  return packets[0] as Packet;
}

const v = (protocolVersion: ProtocolVersion): ParserOptions => ({ protocolVersion });
const V4 = v(4);
const V5 = v(5);

/** CONNECT body with given name, level, flags, then the rest (hex). */
function connect(name: string, level: number, flags: number, rest: string): Buffer {
  return pkt(0x10, str(name) + level.toString(16).padStart(2, '0') + flags.toString(16).padStart(2, '0') + '003c' + rest);
}

describe('fixed header', () => {
  test('remaining length longer than 4 bytes is malformed', () => {
    rejects(hex('30 ff ff ff ff 01'), MALFORMED);
  });

  test('remaining length longer than 4 bytes is malformed when fed byte by byte', () => {
    rejects([hex('30'), hex('ff'), hex('ff'), hex('ff'), hex('ff')], MALFORMED);
  });

  test('non-minimal remaining length encodings are accepted', () => {
    assert.deepEqual(accepts(hex('c0 80 80 00'), V4), { type: 'pingreq' });
    assert.deepEqual(accepts(hex('40 82 00 00 07'), V4), { type: 'puback', packetId: 7 });
  });

  test('a 1 MB remaining length against a 100-byte maximum fails after 5 bytes, before any body', () => {
    // 0x80 0x80 0x40 = 1048576
    const { errors, packets, parser } = parseChunks([hex('30 80 80 40 00')], { maxPacketSize: 100 });
    assert.equal(errors.length, 1);
    assert.equal(errors[0]?.reasonCode, TOO_LARGE);
    assert.deepEqual(packets, []);
    assert.equal(parser.failed, true);
  });

  test('a packet of exactly maxPacketSize bytes is accepted, one more byte is not', () => {
    const p = encode({ type: 'publish', topic: 't', payload: Buffer.alloc(10), qos: 0, retain: false, dup: false }, 4);
    accepts(p, { maxPacketSize: p.length });
    rejects(p, TOO_LARGE, { maxPacketSize: p.length - 1 });
  });

  test('maxPacketSize may be lowered after construction', () => {
    const c = parse(Buffer.alloc(0), V4);
    c.parser.maxPacketSize = 3;
    c.parser.push(hex('40 02 00 01'));
    assert.equal(c.errors[0]?.reasonCode, TOO_LARGE);
  });

  test('reserved packet type 0 is malformed', () => {
    rejects(hex('00 00'), MALFORMED);
  });

  test('AUTH under 3.1.1 is malformed', () => {
    rejects(hex('f0 00'), MALFORMED, V4);
  });

  test('AUTH before CONNECT (version unknown, decoded as 3.1.1) is malformed', () => {
    rejects(hex('f0 00'), MALFORMED, { side: 'server' });
  });

  test('a server must not receive CONNACK, SUBACK, UNSUBACK or PINGRESP', () => {
    for (const b of ['20 02 00 00', '90 03 00 01 00', 'b0 02 00 01', 'd0 00']) rejects(hex(b), PROTOCOL_ERROR, { side: 'server', protocolVersion: 4 });
  });

  test('a client must not receive CONNECT, SUBSCRIBE, UNSUBSCRIBE or PINGREQ', () => {
    for (const b of ['10 00', '82 00', 'a2 00', 'c0 00']) rejects(hex(b), PROTOCOL_ERROR, { side: 'client', protocolVersion: 4 });
  });

  test('PUBREL, SUBSCRIBE and UNSUBSCRIBE need flags 0010 [MQTT-2.2.2-2]', () => {
    for (const first of [0x60, 0x63, 0x80, 0x8a, 0xa0, 0xa3]) rejects(pkt(first, '0001'), MALFORMED, V4);
    for (const first of [0x6a, 0x8a, 0xaa]) rejects(pkt(first, '0001'), MALFORMED, V5);
  });

  test('MQTT 3.1 may set DUP on PUBREL, SUBSCRIBE and UNSUBSCRIBE resends (its QoS 1 header), nothing else', () => {
    const v3 = v(3);
    assert.deepEqual(accepts(pkt(0x6a, '0001'), v3), { type: 'pubrel', packetId: 1 });
    assert.deepEqual(accepts(pkt(0x62, '0001'), v3), { type: 'pubrel', packetId: 1 });
    assert.equal(accepts(pkt(0x8a, '0001' + str('a/b') + '01'), v3).type, 'subscribe');
    assert.equal(accepts(pkt(0xaa, '0001' + str('a/b')), v3).type, 'unsubscribe');
    for (const first of [0x60, 0x63, 0x66, 0x6b]) rejects(pkt(first, '0001'), MALFORMED, v3);
  });

  test('other packets need flags 0000 [MQTT-2.2.2-2]', () => {
    for (const first of [0x11, 0x22, 0x41, 0x58, 0x72, 0x92, 0xb2, 0xc1, 0xd4, 0xe8]) rejects(pkt(first, ''), MALFORMED, V4);
    rejects(hex('f1 00'), MALFORMED, V5);
  });
});

describe('PUBLISH', () => {
  test('QoS 3 is malformed [MQTT-3.3.1-4]', () => {
    rejects(pkt(0x36, str('t') + '0001'), MALFORMED, V4);
  });

  test('DUP with QoS 0 is malformed [MQTT-3.3.1-2]', () => {
    rejects(pkt(0x38, str('t')), MALFORMED, V4);
  });

  test('a wildcard in the topic name is a protocol error under 5.0 [MQTT-3.3.2-2]', () => {
    rejects(pkt(0x30, str('a/+') + '00'), PROTOCOL_ERROR, V5);
    rejects(pkt(0x30, str('a/#') + '00'), PROTOCOL_ERROR, V5);
  });

  test('a wildcard in the topic name is malformed under 3.1.1 [MQTT-3.3.2-2]', () => {
    rejects(pkt(0x30, str('+')), MALFORMED, V4);
    rejects(pkt(0x30, str('#')), MALFORMED, V4);
  });

  test('an empty topic name is malformed under 3.1.1 [MQTT-4.7.3-1]', () => {
    rejects(pkt(0x30, str('') + '6869'), MALFORMED, V4);
  });

  test('an empty topic name without a Topic Alias is a protocol error under 5.0', () => {
    rejects(pkt(0x30, str('') + '00' + '6869'), PROTOCOL_ERROR, V5);
  });

  test('an empty topic name with a Topic Alias is accepted under 5.0', () => {
    const p = accepts(pkt(0x30, str('') + props('230005') + '6869'), V5);
    assert.deepEqual(p, { type: 'publish', topic: '', payload: Buffer.from('hi'), qos: 0, retain: false, dup: false, properties: { topicAlias: 5 } });
  });

  test('packet identifier 0 with QoS 1 is rejected', () => {
    rejects(pkt(0x32, str('t') + '0000'), MALFORMED, V4);
    rejects(pkt(0x32, str('t') + '0000' + '00'), PROTOCOL_ERROR, V5);
  });

  test('a topic length running past the end is malformed', () => {
    rejects(pkt(0x30, '0005 6162'), MALFORMED, V4);
  });

  test('a payload may be empty or hold any bytes, including NUL and invalid UTF-8', () => {
    const p = accepts(pkt(0x30, str('t') + '00ff'), V4);
    assert.deepEqual(p, { type: 'publish', topic: 't', payload: hex('00ff'), qos: 0, retain: false, dup: false });
  });
});

describe('packet identifiers', () => {
  for (const [name, first] of [['PUBACK', 0x40], ['PUBREC', 0x50], ['PUBREL', 0x62], ['PUBCOMP', 0x70], ['SUBACK', 0x90], ['UNSUBACK', 0xb0]] as const) {
    test(`${name} with packet identifier 0 is rejected (0x81 under 3.1.1, 0x82 under 5.0)`, () => {
      rejects(pkt(first, first === 0x90 ? '000000' : '0000'), MALFORMED, V4);
      rejects(pkt(first, first === 0x90 || first === 0xb0 ? '00000000' : '0000'), PROTOCOL_ERROR, V5);
    });
  }

  test('SUBSCRIBE with packet identifier 0 is rejected', () => {
    rejects(pkt(0x82, '0000' + str('a') + '00'), MALFORMED, V4);
    rejects(pkt(0x82, '0000' + '00' + str('a') + '00'), PROTOCOL_ERROR, V5);
  });

  test('UNSUBSCRIBE with packet identifier 0 is rejected', () => {
    rejects(pkt(0xa2, '0000' + str('a')), MALFORMED, V4);
    rejects(pkt(0xa2, '0000' + '00' + str('a')), PROTOCOL_ERROR, V5);
  });
});

describe('strings', () => {
  const bad: Array<[string, string]> = [
    ['invalid byte 0xff', 'ff'],
    ['overlong NUL (c0 80)', 'c080'],
    ['overlong slash (e0 80 af)', 'e080af'],
    ['UTF-16 surrogate (ed a0 80)', 'eda080'],
    ['code point above U+10FFFF', 'f4908080'],
    ['truncated sequence', '61e298'],
    ['U+0000', '610062'],
  ];
  for (const [what, bytes] of bad) {
    test(`a topic with ${what} is malformed [MQTT-1.5.3-1] [MQTT-1.5.3-2]`, () => {
      rejects(pkt(0x30, str(hex(bytes))), MALFORMED, V4);
    });
    test(`a long (> 32 bytes) topic with ${what} is malformed`, () => {
      rejects(pkt(0x30, str(Buffer.concat([Buffer.alloc(40, 0x61), hex(bytes)]))), MALFORMED, V4);
    });
  }

  test('a client identifier with U+0000 is malformed', () => {
    rejects(connect('MQTT', 4, 0x02, str(hex('6100'))), MALFORMED);
  });

  test('a subscription filter with invalid UTF-8 is malformed', () => {
    rejects(pkt(0x82, '0001' + str(hex('ff')) + '00'), MALFORMED, V4);
  });

  test('a user property with invalid UTF-8 is malformed', () => {
    rejects(pkt(0x40, '0001 00' + props('26' + str(hex('c0')) + str('v'))), MALFORMED, V5);
  });

  test('valid multi-byte and long strings are accepted', () => {
    const topic = 'ü/€/𝄞/' + 'x'.repeat(100);
    const p = accepts(encode({ type: 'publish', topic, payload: Buffer.alloc(0), qos: 0, retain: false, dup: false }, 4), V4);
    assert.equal((p as { topic: string }).topic, topic);
  });
});

describe('trailing bytes', () => {
  test('PUBACK with an extra byte under 3.1.1 is malformed', () => {
    rejects(pkt(0x40, '000100'), MALFORMED, V4);
  });
  test('PINGREQ with a body is malformed', () => {
    rejects(pkt(0xc0, '00'), MALFORMED, V4);
  });
  test('DISCONNECT with a body under 3.1.1 is malformed', () => {
    rejects(pkt(0xe0, '00'), MALFORMED, V4);
  });
  test('UNSUBACK with a body under 3.1.1 is malformed', () => {
    rejects(pkt(0xb0, '000100'), MALFORMED, V4);
  });
  test('CONNECT with bytes after the last field is malformed', () => {
    rejects(connect('MQTT', 4, 0x02, str('c') + 'ff'), MALFORMED);
  });
  test('5.0 PUBACK with bytes after its properties is malformed', () => {
    rejects(pkt(0x40, '0001 10 00 ff'), MALFORMED, V5);
  });
  test('CONNACK with bytes after the return code under 3.1.1 is malformed', () => {
    rejects(pkt(0x20, '000000'), MALFORMED, V4);
  });
});

describe('CONNECT', () => {
  test('an unknown protocol name is malformed [MQTT-3.1.2-1]', () => {
    rejects(connect('MQTX', 4, 0x02, str('c')), MALFORMED);
    rejects(connect('mqtt', 4, 0x02, str('c')), MALFORMED);
  });

  test('a known name with an unknown level is unsupported protocol version 0x84 [MQTT-3.1.2-2]', () => {
    rejects(connect('MQTT', 3, 0x02, str('c')), UNSUPPORTED_VERSION);
    rejects(connect('MQTT', 6, 0x02, str('c')), UNSUPPORTED_VERSION);
    rejects(connect('MQTT', 0x84, 0x02, str('c')), UNSUPPORTED_VERSION);
    rejects(connect('MQIsdp', 4, 0x02, str('c')), UNSUPPORTED_VERSION);
  });

  test('the reserved connect flag is malformed [MQTT-3.1.2-3]', () => {
    rejects(connect('MQTT', 4, 0x03, str('c')), MALFORMED);
    rejects(connect('MQTT', 5, 0x03, '00' + str('c')), MALFORMED);
  });

  test('Will QoS without the Will Flag is malformed [MQTT-3.1.2-13]', () => {
    rejects(connect('MQTT', 4, 0x02 | 0x08, str('c')), MALFORMED);
  });

  test('Will Retain without the Will Flag is malformed [MQTT-3.1.2-15]', () => {
    rejects(connect('MQTT', 4, 0x02 | 0x20, str('c')), MALFORMED);
  });

  test('Will QoS 3 is malformed [MQTT-3.1.2-14]', () => {
    rejects(connect('MQTT', 4, 0x02 | 0x04 | 0x18, str('c') + str('w') + str('p')), MALFORMED);
  });

  test('a password without a user name is malformed under 3.1.1 [MQTT-3.1.2-22]', () => {
    rejects(connect('MQTT', 4, 0x02 | 0x40, str('c') + str('pw')), MALFORMED);
    rejects(connect('MQIsdp', 3, 0x02 | 0x40, str('c') + str('pw')), MALFORMED);
  });

  test('a password without a user name is accepted under 5.0', () => {
    const p = accepts(connect('MQTT', 5, 0x02 | 0x40, '00' + str('c') + str('pw')));
    assert.deepEqual((p as { password?: Buffer }).password, Buffer.from('pw'));
  });

  test('a missing will payload is malformed', () => {
    rejects(connect('MQTT', 4, 0x02 | 0x04, str('c') + str('w')), MALFORMED);
  });

  test('a user name flag with no user name is malformed', () => {
    rejects(connect('MQTT', 4, 0x82, str('c')), MALFORMED);
  });

  test('the parser learns the version from the first CONNECT, and not from a bad one', () => {
    const ok = parse(connect('MQTT', 5, 0x02, '00' + str('c')), { side: 'server' });
    assert.equal(ok.parser.protocolVersion, 5);
    const bad = parse(connect('MQTT', 7, 0x02, '00' + str('c')), { side: 'server' });
    assert.equal(bad.parser.protocolVersion, undefined);
  });

  test('a known protocolVersion is not overwritten by a later CONNECT', () => {
    const c = parse(connect('MQTT', 5, 0x02, '00' + str('c')), V4);
    assert.equal(c.parser.protocolVersion, 4);
  });
});

describe('SUBSCRIBE', () => {
  test('no subscriptions: malformed under 3.1.1, protocol error under 5.0 [MQTT-3.8.3-3]', () => {
    rejects(pkt(0x82, '0001'), MALFORMED, V4);
    rejects(pkt(0x82, '0001 00'), PROTOCOL_ERROR, V5);
  });

  test('requested QoS 3: malformed under 3.1.1 [MQTT-3-8.3-4], protocol error under 5.0', () => {
    rejects(pkt(0x82, '0001' + str('a') + '03'), MALFORMED, V4);
    rejects(pkt(0x82, '0001 00' + str('a') + '03'), PROTOCOL_ERROR, V5);
  });

  test('3.1.1: the upper 6 bits of the requested QoS byte must be 0 [MQTT-3-8.3-4]', () => {
    for (const o of ['04', '08', '10', '80']) rejects(pkt(0x82, '0001' + str('a') + o), MALFORMED, V4);
  });

  test('5.0: reserved subscription option bits 6-7 are malformed [MQTT-3.8.3-5]', () => {
    rejects(pkt(0x82, '0001 00' + str('a') + '40'), MALFORMED, V5);
    rejects(pkt(0x82, '0001 00' + str('a') + '80'), MALFORMED, V5);
  });

  test('5.0: Retain Handling 3 is a protocol error', () => {
    rejects(pkt(0x82, '0001 00' + str('a') + '30'), PROTOCOL_ERROR, V5);
  });

  test('a filter without its options byte is malformed', () => {
    rejects(pkt(0x82, '0001' + str('a')), MALFORMED, V4);
  });

  test('filter syntax is left to the topic module: empty and odd filters are accepted', () => {
    const p = accepts(pkt(0x82, '0001' + str('') + '00' + str('a/#/b') + '01'), V4);
    assert.deepEqual(
      (p as { subscriptions: Array<{ filter: string }> }).subscriptions.map((s) => s.filter),
      ['', 'a/#/b'],
    );
  });

  test('5.0: two Subscription Identifiers in SUBSCRIBE is a protocol error', () => {
    rejects(pkt(0x82, '0001' + props('0b01 0b02') + str('a') + '00'), PROTOCOL_ERROR, V5);
  });
});

describe('UNSUBSCRIBE', () => {
  test('no filters: malformed under 3.1.1, protocol error under 5.0 [MQTT-3.10.3-2]', () => {
    rejects(pkt(0xa2, '0001'), MALFORMED, V4);
    rejects(pkt(0xa2, '0001 00'), PROTOCOL_ERROR, V5);
  });
});

describe('properties', () => {
  /** 5.0 PUBACK (reason 0x10) carrying the property bytes `p`. */
  const puback = (p: string) => pkt(0x40, '0001 10' + props(p));
  /** 5.0 PUBLISH QoS 0 to 't' carrying `p`. */
  const publish = (p: string) => pkt(0x30, str('t') + props(p) + '78');
  /** 5.0 CONNACK carrying `p`. */
  const connack = (p: string) => pkt(0x20, '0000' + props(p));

  test('an unknown property identifier is malformed', () => {
    rejects(puback('7f00'), MALFORMED, V5);
    rejects(puback('0400'), MALFORMED, V5);
    rejects(puback('8001'), MALFORMED, V5);
  });

  test('a property not allowed in the packet is malformed (5.0 §2.2.2.2)', () => {
    rejects(puback('230001'), MALFORMED, V5); // topicAlias in PUBACK
    rejects(publish('1100000001'), MALFORMED, V5); // sessionExpiryInterval in PUBLISH
    rejects(connect('MQTT', 5, 0x02, props('230001') + str('c')), MALFORMED); // topicAlias in CONNECT
  });

  test('a property not allowed in Will Properties is malformed', () => {
    rejects(connect('MQTT', 5, 0x06, '00' + str('c') + props('1100000001') + str('w') + str('p')), MALFORMED);
  });

  test('willDelayInterval outside Will Properties is malformed', () => {
    rejects(connect('MQTT', 5, 0x02, props('1800000001') + str('c')), MALFORMED);
  });

  test('a repeated non-repeatable property is a protocol error', () => {
    rejects(puback('1f' + str('a') + '1f' + str('b')), PROTOCOL_ERROR, V5);
    rejects(publish('0101 0100'), PROTOCOL_ERROR, V5);
    rejects(connack('2400 2401'), PROTOCOL_ERROR, V5);
  });

  test('repeated user properties and PUBLISH subscription identifiers are kept in order', () => {
    const p = accepts(publish('0b05 26' + str('k') + str('1') + '0b06 26' + str('k') + str('2')), V5);
    assert.deepEqual((p as { properties?: unknown }).properties, {
      subscriptionIdentifiers: [5, 6],
      userProperties: [
        ['k', '1'],
        ['k', '2'],
      ],
    });
  });

  test('byte properties other than 0 or 1 are a protocol error', () => {
    rejects(publish('0102'), PROTOCOL_ERROR, V5); // payloadFormatIndicator 2
    rejects(connack('2402'), PROTOCOL_ERROR, V5); // maximumQoS 2
    rejects(connack('2502'), PROTOCOL_ERROR, V5); // retainAvailable 2
    rejects(connack('28ff'), PROTOCOL_ERROR, V5); // wildcardSubscriptionAvailable
    rejects(connack('2902'), PROTOCOL_ERROR, V5); // subscriptionIdentifiersAvailable
    rejects(connack('2a02'), PROTOCOL_ERROR, V5); // sharedSubscriptionAvailable
    rejects(connect('MQTT', 5, 0x02, props('1702') + str('c')), PROTOCOL_ERROR); // requestProblemInformation
    rejects(connect('MQTT', 5, 0x02, props('1902') + str('c')), PROTOCOL_ERROR); // requestResponseInformation
  });

  test('receiveMaximum 0 is a protocol error', () => {
    rejects(connack('210000'), PROTOCOL_ERROR, V5);
  });

  test('maximumPacketSize 0 is a protocol error', () => {
    rejects(connack('2700000000'), PROTOCOL_ERROR, V5);
  });

  test('topicAlias 0 is decoded and left to the receiver, which answers 0x94 [MQTT-3.3.2-8]', () => {
    const packet = accepts(publish('230000'), V5);
    assert.equal(packet.type === 'publish' ? packet.properties?.topicAlias : undefined, 0);
  });

  test('subscriptionIdentifier 0 is a protocol error', () => {
    rejects(publish('0b00'), PROTOCOL_ERROR, V5);
    rejects(pkt(0x82, '0001' + props('0b00') + str('a') + '00'), PROTOCOL_ERROR, V5);
  });

  test('a property length running past the packet is malformed', () => {
    rejects(pkt(0x40, '0001 10 05 1f00'), MALFORMED, V5);
  });

  test('a property value running past its property block is malformed', () => {
    // block says 3 bytes, the string inside says 4
    rejects(pkt(0x40, '0001 10 03 1f0004 61626364'), MALFORMED, V5);
  });

  test('a property length longer than 4 bytes is malformed', () => {
    rejects(pkt(0x40, '0001 10 ffffffff01'), MALFORMED, V5);
  });
});

describe('after an error', () => {
  test('the parser ignores all further input and emits nothing more', () => {
    const c = parse(hex('00 00'), V4);
    assert.equal(c.errors.length, 1);
    c.parser.push(hex('c0 00'));
    c.parser.push(hex('40 02 00 01'));
    assert.deepEqual(c.packets, []);
    assert.equal(c.errors.length, 1);
  });

  test('packets before the bad one in the same chunk are emitted, nothing after', () => {
    const c = parse(hex('c0 00 40 02 00 01 00 00 c0 00'), V4);
    assert.deepEqual(c.packets, [{ type: 'pingreq' }, { type: 'puback', packetId: 1 }]);
    assert.equal(c.errors.length, 1);
  });

  test('a handler exception propagates and leaves the parser failed', () => {
    let n = 0;
    const { Parser } = { Parser: parse(Buffer.alloc(0)).parser.constructor as typeof import('../../src/codec/parser.js').Parser };
    const p = new Parser({
      onPacket: () => {
        n++;
        throw new Error('boom');
      },
      onError: () => assert.fail('no protocol error expected'),
    });
    assert.throws(() => p.push(hex('c0 00 c0 00')), /boom/);
    assert.equal(p.failed, true);
    p.push(hex('c0 00'));
    assert.equal(n, 1);
  });
});

describe('parser options', () => {
  test('invalid options throw a MoatError naming the option', () => {
    const P = parse(Buffer.alloc(0)).parser.constructor as typeof import('../../src/codec/parser.js').Parser;
    const h = { onPacket: () => {}, onError: () => {} };
    assert.throws(() => new P(h, { maxPacketSize: 0 }), (e: unknown) => e instanceof MoatError && /maxPacketSize/.test(e.message));
    assert.throws(() => new P(h, { protocolVersion: 6 as ProtocolVersion }), /protocolVersion/);
    assert.throws(() => new P(h, { side: 'both' as 'any' }), /side/);
  });
});

describe('encoder rejects what cannot be encoded', () => {
  const isEncodeError = (e: unknown) => e instanceof MoatError && e.code === 'MOAT_ERR_ENCODE';
  const pub = (over: object): Packet => ({ type: 'publish', topic: 't', payload: Buffer.alloc(0), qos: 0, retain: false, dup: false, ...over }) as Packet;

  test('QoS > 0 without a packet identifier', () => {
    assert.throws(() => encode(pub({ qos: 1 }), 4), isEncodeError);
    assert.throws(() => encode(pub({ qos: 2, packetId: 0 }), 4), isEncodeError);
    assert.throws(() => encode({ type: 'puback', packetId: 65536 }, 4), isEncodeError);
  });
  test('QoS 3 and DUP with QoS 0', () => {
    assert.throws(() => encode(pub({ qos: 3, packetId: 1 }), 4), isEncodeError);
    assert.throws(() => encode(pub({ dup: true }), 4), isEncodeError);
  });
  test('a string longer than 65535 bytes', () => {
    assert.throws(() => encode(pub({ topic: 'x'.repeat(65536) }), 4), isEncodeError);
    assert.doesNotThrow(() => encode(pub({ topic: 'x'.repeat(65535) }), 4));
  });
  test('a string with U+0000 or a lone surrogate', () => {
    assert.throws(() => encode(pub({ topic: 'a\0b' }), 4), isEncodeError);
    assert.throws(() => encode(pub({ topic: 'a\ud800' }), 4), isEncodeError);
  });
  test('AUTH under 3.1.1', () => {
    assert.throws(() => encode({ type: 'auth', reasonCode: 0 }, 4), isEncodeError);
  });
  test('empty SUBSCRIBE and UNSUBSCRIBE', () => {
    assert.throws(() => encode({ type: 'subscribe', packetId: 1, subscriptions: [] }, 4), isEncodeError);
    assert.throws(() => encode({ type: 'unsubscribe', packetId: 1, filters: [] }, 4), isEncodeError);
  });
  test('property values out of range, or not allowed in the packet', () => {
    assert.throws(() => encode({ type: 'connack', sessionPresent: false, reasonCode: 0, properties: { maximumQoS: 2 } }, 5), isEncodeError);
    assert.throws(() => encode({ type: 'connack', sessionPresent: false, reasonCode: 0, properties: { receiveMaximum: 0 } }, 5), isEncodeError);
    assert.throws(() => encode({ type: 'puback', packetId: 1, properties: { topicAlias: 1 } }, 5), isEncodeError);
    assert.throws(() => encode({ type: 'subscribe', packetId: 1, properties: { subscriptionIdentifiers: [1, 2] }, subscriptions: [{ filter: 'a', qos: 0, noLocal: false, retainAsPublished: false, retainHandling: 0 }] }, 5), isEncodeError);
    assert.throws(() => encode(pub({ properties: { messageExpiryInterval: -1 } }), 5), isEncodeError);
  });
  test('properties are not written under 3.1.1', () => {
    const b = encode(pub({ properties: { topicAlias: 1 } }), 4);
    assert.equal(b.toString('hex'), '30030001' + '74');
  });
});
