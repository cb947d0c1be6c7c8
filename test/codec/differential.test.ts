// Differential tests against mqtt-packet (the codec MQTT.js and aedes use): our bytes parse there
// to the equivalent object, and its bytes parse here to the equivalent object.
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import mqttPacket from 'mqtt-packet';
import { encode } from '../../src/codec/encode.js';
import type { Packet, Properties, ProtocolVersion } from '../../src/codec/types.js';
import { normalForm, packet, type PacketArbitraryOptions } from './arbitraries.js';
import { FIXTURES } from './fixtures.js';
import { parseChunks } from './helpers.js';
import { canonical, fromTheirs, toTheirs } from './mqtt-packet-map.js';

/** Parses `bytes` with mqtt-packet; throws on its errors. */
function theirParse(bytes: Buffer, version: ProtocolVersion): Packet[] {
  const parser = mqttPacket.parser({ protocolVersion: version });
  const out: Packet[] = [];
  let error: unknown;
  parser.on('packet', (p) => out.push(fromTheirs(p as unknown as Record<string, unknown>, version)));
  parser.on('error', (e) => {
    error ??= e;
  });
  parser.parse(bytes);
  if (error !== undefined) throw error;
  return out;
}

function theirGenerate(p: Packet, version: ProtocolVersion): Buffer {
  return mqttPacket.generate(toTheirs(p, version) as unknown as mqttPacket.Packet, { protocolVersion: version });
}

function ourParse(bytes: Buffer, version: ProtocolVersion): Packet[] {
  const c = parseChunks([bytes], { protocolVersion: version });
  assert.deepEqual(c.errors, []);
  return c.packets;
}

// mqtt-packet validates reason codes against its own per-packet tables; generate only those.
const constants = createRequire(import.meta.url)('mqtt-packet/constants.js') as Record<string, Record<string, string>>;
const keys = (table: string): number[] => Object.keys(constants[table] ?? {}).map(Number);
const CODES: Record<4 | 5, NonNullable<PacketArbitraryOptions['codes']>> = {
  4: { connack: [0, 1, 2, 3, 4, 5], suback: [0, 1, 2, 0x80] },
  5: {
    connack: [0x00, 0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8a, 0x8c, 0x90, 0x95, 0x97, 0x99, 0x9a, 0x9b, 0x9c, 0x9d, 0x9f],
    puback: keys('MQTT5_PUBACK_PUBREC_CODES'),
    pubrec: keys('MQTT5_PUBACK_PUBREC_CODES'),
    pubrel: keys('MQTT5_PUBREL_PUBCOMP_CODES'),
    pubcomp: keys('MQTT5_PUBREL_PUBCOMP_CODES'),
    suback: keys('MQTT5_SUBACK_CODES'),
    unsuback: keys('MQTT5_UNSUBACK_CODES'),
    disconnect: keys('MQTT5_DISCONNECT_CODES'),
    auth: keys('MQTT5_AUTH_CODES'),
  },
};

/**
 * mqtt-packet refuses to generate a password without a user name (even under 5.0) and an empty
 * client identifier with clean false (a server policy, [MQTT-3.1.3-7], not an encoding rule).
 */
function theyGenerate(p: Packet): boolean {
  if (p.type !== 'connect') return true;
  return !(p.password !== undefined && p.username === undefined) && !(p.clientId === '' && !p.clean);
}

/**
 * mqtt-packet cannot parse the 5.0 short AUTH (remaining length 0, 5.0 §3.15.2.1): it reads a
 * reason code past the end. Everything else we emit, it parses.
 */
function theyParse(bytes: Buffer, p: Packet): boolean {
  if (bytes[0] === 0xf0 && bytes[1] === 0) return false;
  return !(p.type !== 'pingreq' && p.type !== 'pingresp' && (hitsEmptyUserPropertyBug(p.properties) || (p.type === 'connect' && hitsEmptyUserPropertyBug(p.will?.properties))));
}

/**
 * mqtt-packet's parser drops a user property whose name repeats when the first value was '' (it
 * tests the stored value for truthiness), so such packets cannot be compared through it.
 */
function hitsEmptyUserPropertyBug(props: Properties | undefined): boolean {
  const first = new Map<string, string>();
  for (const [name, value] of props?.userProperties ?? []) {
    if (first.has(name) && first.get(name) === '') return true;
    if (!first.has(name)) first.set(name, value);
  }
  return false;
}

function assertSame(ours: Packet[], theirs: Packet[]): void {
  assert.deepEqual(ours.map(canonical), theirs.map(canonical));
}

function checkBothWays(p: Packet, version: ProtocolVersion): void {
  const expected = normalForm(p, version);
  // ours → theirs
  const ours = encode(p, version);
  if (theyParse(ours, p)) assertSame(theirParse(ours, version), [expected]);
  // theirs → ours
  if (theyGenerate(p)) assertSame(ourParse(theirGenerate(p, version), version), [expected]);
}

describe('differential against mqtt-packet', () => {
  for (const f of FIXTURES.filter((x) => x.version !== 3 || x.packet.type === 'connect')) {
    test(`${f.name}: both codecs agree both ways`, () => {
      checkBothWays(f.packet, f.version);
    });
  }

  for (const v of [4, 5] as const) {
    test(`generated ${v === 4 ? '3.1.1' : '5.0'} packets: both codecs agree both ways`, () => {
      fc.assert(
        fc.property(packet(v, { codes: CODES[v] }), (p) => {
          checkBothWays(p, v);
        }),
        { numRuns: 300 },
      );
    });
  }
});
