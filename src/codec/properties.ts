// MQTT 5 properties (5.0 §2.2.2.2) as one table: identifier, field name, wire type, where each may
// appear and whether it may repeat. Decoding and encoding are both driven by it.
import { MoatError } from './errors.js';
import { MALFORMED, PROTOCOL_ERROR, Reader } from './reader.js';
import { PacketType, type PacketTypeName, type Properties } from './types.js';
import { isValidMqttString } from './utf8.js';

export type PropertyKind = 'byte' | 'twoByteInt' | 'fourByteInt' | 'varint' | 'string' | 'binary' | 'stringPair';
/** Where a property block sits: a packet, or the Will Properties inside CONNECT. */
export type PropertyContext = PacketTypeName | 'will';

const ACKS = ['puback', 'pubrec', 'pubrel', 'pubcomp'] as const;
const WILL_AND_PUBLISH = ['publish', 'will'] as const;

/**
 * Every MQTT 5 property. `repeat`: may appear more than once; `max`: largest legal value of a byte
 * property (all are booleans on the wire); `nonZero`: 0 is a Protocol Error.
 */
export const PROPERTIES = [
  { id: 0x01, name: 'payloadFormatIndicator', kind: 'byte', max: 1, in: WILL_AND_PUBLISH },
  { id: 0x02, name: 'messageExpiryInterval', kind: 'fourByteInt', in: WILL_AND_PUBLISH },
  { id: 0x03, name: 'contentType', kind: 'string', in: WILL_AND_PUBLISH },
  { id: 0x08, name: 'responseTopic', kind: 'string', in: WILL_AND_PUBLISH },
  { id: 0x09, name: 'correlationData', kind: 'binary', in: WILL_AND_PUBLISH },
  // Repeats in PUBLISH (one per matching subscription); at most one in SUBSCRIBE [MQTT-3.8.2.1.2].
  { id: 0x0b, name: 'subscriptionIdentifiers', kind: 'varint', nonZero: true, repeat: ['publish'], in: ['publish', 'subscribe'] },
  { id: 0x11, name: 'sessionExpiryInterval', kind: 'fourByteInt', in: ['connect', 'connack', 'disconnect'] },
  { id: 0x12, name: 'assignedClientIdentifier', kind: 'string', in: ['connack'] },
  { id: 0x13, name: 'serverKeepAlive', kind: 'twoByteInt', in: ['connack'] },
  { id: 0x15, name: 'authenticationMethod', kind: 'string', in: ['connect', 'connack', 'auth'] },
  { id: 0x16, name: 'authenticationData', kind: 'binary', in: ['connect', 'connack', 'auth'] },
  { id: 0x17, name: 'requestProblemInformation', kind: 'byte', max: 1, in: ['connect'] },
  { id: 0x18, name: 'willDelayInterval', kind: 'fourByteInt', in: ['will'] },
  { id: 0x19, name: 'requestResponseInformation', kind: 'byte', max: 1, in: ['connect'] },
  { id: 0x1a, name: 'responseInformation', kind: 'string', in: ['connack'] },
  { id: 0x1c, name: 'serverReference', kind: 'string', in: ['connack', 'disconnect'] },
  {
    id: 0x1f,
    name: 'reasonString',
    kind: 'string',
    in: ['connack', ...ACKS, 'suback', 'unsuback', 'disconnect', 'auth'],
  },
  { id: 0x21, name: 'receiveMaximum', kind: 'twoByteInt', nonZero: true, in: ['connect', 'connack'] },
  { id: 0x22, name: 'topicAliasMaximum', kind: 'twoByteInt', in: ['connect', 'connack'] },
  // Alias 0 is refused by the receiver with 0x94 Topic Alias invalid [MQTT-3.3.2-8], not by the codec.
  { id: 0x23, name: 'topicAlias', kind: 'twoByteInt', in: ['publish'] },
  { id: 0x24, name: 'maximumQoS', kind: 'byte', max: 1, in: ['connack'] },
  { id: 0x25, name: 'retainAvailable', kind: 'byte', max: 1, in: ['connack'] },
  {
    id: 0x26,
    name: 'userProperties',
    kind: 'stringPair',
    repeat: 'all',
    in: ['connect', 'connack', 'publish', 'will', ...ACKS, 'subscribe', 'suback', 'unsubscribe', 'unsuback', 'disconnect', 'auth'],
  },
  { id: 0x27, name: 'maximumPacketSize', kind: 'fourByteInt', nonZero: true, in: ['connect', 'connack'] },
  { id: 0x28, name: 'wildcardSubscriptionAvailable', kind: 'byte', max: 1, in: ['connack'] },
  { id: 0x29, name: 'subscriptionIdentifiersAvailable', kind: 'byte', max: 1, in: ['connack'] },
  { id: 0x2a, name: 'sharedSubscriptionAvailable', kind: 'byte', max: 1, in: ['connack'] },
] as const satisfies ReadonlyArray<{
  id: number;
  name: keyof Properties;
  kind: PropertyKind;
  max?: number;
  nonZero?: boolean;
  repeat?: 'all' | readonly PropertyContext[];
  in: readonly PropertyContext[];
}>;

export type PropertySpec = (typeof PROPERTIES)[number];

interface CompiledSpec {
  id: number;
  name: keyof Properties;
  kind: PropertyKind;
  max: number;
  nonZero: boolean;
  /** Bit per context (1 << packet type; bit 0 = will) where it is allowed / may repeat. */
  allowed: number;
  repeatable: number;
}

/** Context → bit. Packet type 0 is reserved, so bit 0 stands for the Will Properties. */
export function contextBit(context: PropertyContext): number {
  return context === 'will' ? 1 : 1 << PacketType[context];
}

function maskOf(contexts: readonly PropertyContext[]): number {
  let m = 0;
  for (const c of contexts) m |= contextBit(c);
  return m;
}

const COMPILED: CompiledSpec[] = PROPERTIES.map((p) => {
  const allowed = maskOf(p.in);
  const repeat = 'repeat' in p ? p.repeat : undefined;
  return {
    id: p.id,
    name: p.name,
    kind: p.kind,
    max: 'max' in p ? p.max : 0,
    nonZero: 'nonZero' in p ? p.nonZero : false,
    allowed,
    repeatable: repeat === 'all' ? allowed : repeat === undefined ? 0 : maskOf(repeat),
  };
});

/** Identifier → spec; identifiers are all below 0x80, so one byte indexes it. */
const BY_ID: Array<CompiledSpec | undefined> = new Array<CompiledSpec | undefined>(128).fill(undefined);
for (const p of COMPILED) BY_ID[p.id] = p;

function contextLabel(context: PropertyContext): string {
  return context === 'will' ? 'Will Properties' : context.toUpperCase();
}

/**
 * Decodes a property block (length varint + properties) at r.pos, in `context`. Returns undefined
 * for an empty block so packets without properties carry no `properties` field.
 */
export function decodeProperties(r: Reader, context: PropertyContext): Properties | undefined {
  const len = r.varint('property length');
  if (len === 0) return undefined;
  if (len > r.remaining()) r.fail(MALFORMED, `The property length (${len}) runs past the end of the ${contextLabel(context)}.`);
  const outerEnd = r.end;
  r.end = r.pos + len; // reads past the block now fail as "malformed" [MQTT-2.2.2]
  const bit = contextBit(context);
  const props: Record<string, unknown> = {};
  while (r.pos < r.end) {
    const id = r.byte('property identifier');
    const spec = BY_ID[id];
    if (spec === undefined) r.fail(MALFORMED, `Unknown property identifier 0x${id.toString(16).padStart(2, '0')}.`);
    // 5.0 §2.2.2.2: an identifier not valid for its packet type is a Malformed Packet.
    if ((spec.allowed & bit) === 0) r.fail(MALFORMED, `Property ${spec.name} is not allowed in ${contextLabel(context)}.`);
    const existing = props[spec.name];
    if (existing !== undefined && (spec.repeatable & bit) === 0) {
      r.fail(PROTOCOL_ERROR, `Property ${spec.name} appears more than once in ${contextLabel(context)}.`);
    }
    switch (spec.kind) {
      case 'byte': {
        const v = r.byte(spec.name);
        if (v > spec.max) r.fail(PROTOCOL_ERROR, `Property ${spec.name} has value ${v}; only 0 or 1 is allowed.`);
        props[spec.name] = v;
        break;
      }
      case 'twoByteInt': {
        const v = r.u16(spec.name);
        if (v === 0 && spec.nonZero) r.fail(PROTOCOL_ERROR, `Property ${spec.name} is 0, which is not allowed.`);
        props[spec.name] = v;
        break;
      }
      case 'fourByteInt': {
        const v = r.u32(spec.name);
        if (v === 0 && spec.nonZero) r.fail(PROTOCOL_ERROR, `Property ${spec.name} is 0, which is not allowed.`);
        props[spec.name] = v;
        break;
      }
      case 'varint': {
        // Only subscriptionIdentifiers is a varint; it is always stored as an array.
        const v = r.varint(spec.name);
        if (v === 0) r.fail(PROTOCOL_ERROR, `Property ${spec.name} is 0, which is not allowed.`);
        if (existing === undefined) props[spec.name] = [v];
        else (existing as number[]).push(v);
        break;
      }
      case 'string':
        props[spec.name] = r.string(spec.name);
        break;
      case 'binary':
        props[spec.name] = r.binary(spec.name);
        break;
      case 'stringPair': {
        const pair: [string, string] = [r.string('user property name'), r.string('user property value')];
        if (existing === undefined) props[spec.name] = [pair];
        else (existing as Array<[string, string]>).push(pair);
        break;
      }
    }
  }
  r.end = outerEnd;
  return props as Properties;
}

function encodeError(message: string): never {
  throw new MoatError('MOAT_ERR_ENCODE', message);
}

export function varintLength(n: number): number {
  return n < 0x80 ? 1 : n < 0x4000 ? 2 : n < 0x200000 ? 3 : 4;
}

/** Writes a Variable Byte Integer (n ≤ 268435455) and returns the new offset. */
export function writeVarint(buf: Buffer, pos: number, n: number): number {
  do {
    let b = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) b |= 0x80;
    buf[pos++] = b;
  } while (n > 0);
  return pos;
}

/** UTF-8 byte length of an MQTT string field; rejects what cannot be sent. */
export function stringLength(s: string, what: string): number {
  if (typeof s !== 'string') encodeError(`${what} must be a string.`);
  const n = Buffer.byteLength(s, 'utf8');
  if (n > 0xffff) encodeError(`${what} is ${n} bytes; MQTT strings are at most 65535 bytes.`);
  if (!isValidMqttString(s)) encodeError(`${what} contains U+0000 or a lone surrogate.`);
  return n;
}

export function binaryLength(b: Uint8Array, what: string): number {
  if (!(b instanceof Uint8Array)) encodeError(`${what} must be a Buffer.`);
  if (b.length > 0xffff) encodeError(`${what} is ${b.length} bytes; MQTT binary data is at most 65535 bytes.`);
  return b.length;
}

function checkInt(v: unknown, min: number, max: number, name: string): void {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    encodeError(`Property ${name} must be an integer from ${min} to ${max}, got ${String(v)}.`);
  }
}

/**
 * Byte length of the property block's contents (without its own length varint), validating every
 * value. Throws MoatError MOAT_ERR_ENCODE for properties that cannot be encoded in `context`.
 */
export function propertiesLength(props: Properties | undefined, context: PropertyContext): number {
  if (props === undefined) return 0;
  const bit = contextBit(context);
  const record = props as Record<string, unknown>;
  let len = 0;
  for (const spec of COMPILED) {
    const v = record[spec.name];
    if (v === undefined) continue;
    if (spec.kind === 'varint' || spec.kind === 'stringPair') {
      if (!Array.isArray(v)) encodeError(`Property ${spec.name} must be an array.`);
      if (v.length === 0) continue;
      if (v.length > 1 && (spec.repeatable & bit) === 0) encodeError(`Property ${spec.name} may appear only once in ${contextLabel(context)}.`);
    }
    if ((spec.allowed & bit) === 0) encodeError(`Property ${spec.name} is not allowed in ${contextLabel(context)}.`);
    switch (spec.kind) {
      case 'byte':
        checkInt(v, 0, spec.max, spec.name);
        len += 2;
        break;
      case 'twoByteInt':
        checkInt(v, spec.nonZero ? 1 : 0, 0xffff, spec.name);
        len += 3;
        break;
      case 'fourByteInt':
        checkInt(v, spec.nonZero ? 1 : 0, 0xffffffff, spec.name);
        len += 5;
        break;
      case 'varint':
        for (const n of v as unknown[]) {
          checkInt(n, 1, 268435455, spec.name);
          len += 1 + varintLength(n as number);
        }
        break;
      case 'string':
        len += 3 + stringLength(v as string, `Property ${spec.name}`);
        break;
      case 'binary':
        len += 3 + binaryLength(v as Uint8Array, `Property ${spec.name}`);
        break;
      case 'stringPair':
        for (const pair of v as unknown[]) {
          if (!Array.isArray(pair) || pair.length !== 2) encodeError('A user property must be a [name, value] pair.');
          len += 5 + stringLength(pair[0] as string, 'User property name') + stringLength(pair[1] as string, 'User property value');
        }
        break;
    }
  }
  return len;
}

function writeString(buf: Buffer, pos: number, s: string): number {
  const n = buf.write(s, pos + 2, 'utf8');
  buf.writeUInt16BE(n, pos);
  return pos + 2 + n;
}

/**
 * Writes the property block (length varint, then properties in table order) at `pos`; `length` is
 * what propertiesLength returned (the values were validated there). Returns the new offset.
 */
export function writeProperties(buf: Buffer, pos: number, props: Properties | undefined, length: number): number {
  pos = writeVarint(buf, pos, length);
  if (props === undefined || length === 0) return pos;
  const record = props as Record<string, unknown>;
  for (const spec of COMPILED) {
    const v = record[spec.name];
    if (v === undefined) continue;
    switch (spec.kind) {
      case 'byte':
        buf[pos++] = spec.id;
        buf[pos++] = v as number;
        break;
      case 'twoByteInt':
        buf[pos++] = spec.id;
        buf.writeUInt16BE(v as number, pos);
        pos += 2;
        break;
      case 'fourByteInt':
        buf[pos++] = spec.id;
        buf.writeUInt32BE(v as number, pos);
        pos += 4;
        break;
      case 'varint':
        for (const n of v as number[]) {
          buf[pos++] = spec.id;
          pos = writeVarint(buf, pos, n);
        }
        break;
      case 'string':
        buf[pos++] = spec.id;
        pos = writeString(buf, pos, v as string);
        break;
      case 'binary': {
        const b = v as Uint8Array;
        buf[pos++] = spec.id;
        buf.writeUInt16BE(b.length, pos);
        buf.set(b, pos + 2);
        pos += 2 + b.length;
        break;
      }
      case 'stringPair':
        for (const [name, value] of v as Array<[string, string]>) {
          buf[pos++] = spec.id;
          pos = writeString(buf, pos, name);
          pos = writeString(buf, pos, value);
        }
        break;
    }
  }
  return pos;
}

/** Standalone encoding of a property block (length varint included), e.g. for tests and tools. */
export function encodeProperties(props: Properties | undefined, context: PropertyContext): Buffer {
  const len = propertiesLength(props, context);
  const buf = Buffer.allocUnsafe(varintLength(len) + len);
  writeProperties(buf, 0, props, len);
  return buf;
}

/** Standalone decoding of a whole property block (length varint included). Throws ProtocolError. */
export function decodePropertiesBuffer(buf: Buffer, context: PropertyContext): Properties | undefined {
  const r = new Reader();
  r.reset(buf, 0, buf.length, context === 'will' ? 'connect' : context);
  const props = decodeProperties(r, context);
  r.done();
  return props;
}
