// Packet encoders. Each computes the exact size first (validating as it goes), allocates once and
// writes in place: a routed PUBLISH is encoded once and the same Buffer goes to many sockets.
import { MoatError } from './errors.js';
import { binaryLength, propertiesLength, stringLength, varintLength, writeProperties, writeVarint } from './properties.js';
import type {
  AckPacket,
  AuthPacket,
  ConnackPacket,
  ConnectPacket,
  DisconnectPacket,
  Packet,
  Properties,
  ProtocolVersion,
  PublishPacket,
  SubscribePacket,
  UnsubscribePacket,
} from './types.js';

/** Largest Remaining Length a Variable Byte Integer can carry. */
export const MAX_REMAINING_LENGTH = 268435455;

function fail(message: string): never {
  throw new MoatError('MOAT_ERR_ENCODE', message);
}

function checkPacketId(id: number | undefined, type: string): number {
  if (typeof id !== 'number' || !Number.isInteger(id) || id < 1 || id > 0xffff) {
    fail(`${type.toUpperCase()} needs a packet identifier from 1 to 65535, got ${String(id)}.`);
  }
  return id;
}

function checkByte(v: unknown, what: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 0xff) fail(`${what} must be an integer from 0 to 255, got ${String(v)}.`);
  return v;
}

function checkPayload(b: unknown, what: string): Uint8Array {
  if (!(b instanceof Uint8Array)) fail(`${what} must be a Buffer.`);
  return b;
}

/** Allocates the whole packet and writes the fixed header; the body starts at buf.length - rl. */
function start(first: number, rl: number, type: string): Buffer {
  if (rl > MAX_REMAINING_LENGTH) fail(`${type.toUpperCase()} body of ${rl} bytes exceeds the MQTT maximum of ${MAX_REMAINING_LENGTH}.`);
  const buf = Buffer.allocUnsafe(1 + varintLength(rl) + rl);
  buf[0] = first;
  writeVarint(buf, 1, rl);
  return buf;
}

/** Writes a string whose UTF-8 length `n` is already known. */
function writeString(buf: Buffer, pos: number, s: string, n: number): number {
  buf.writeUInt16BE(n, pos);
  buf.write(s, pos + 2, n, 'utf8');
  return pos + 2 + n;
}

function writeBinary(buf: Buffer, pos: number, b: Uint8Array): number {
  buf.writeUInt16BE(b.length, pos);
  buf.set(b, pos + 2);
  return pos + 2 + b.length;
}

/** Size of a property block including its length varint. */
function blockLength(propsLen: number): number {
  return varintLength(propsLen) + propsLen;
}

export function encodePublish(packet: PublishPacket, version: ProtocolVersion): Buffer {
  const { qos, topic, payload } = packet;
  if (qos !== 0 && qos !== 1 && qos !== 2) fail(`PUBLISH QoS must be 0, 1 or 2, got ${String(qos)}.`);
  if (qos === 0 && packet.dup) fail('PUBLISH with QoS 0 must not set DUP [MQTT-3.3.1-2].');
  checkPayload(payload, 'PUBLISH payload');
  const topicLen = stringLength(topic, 'Topic name');
  let rl = 2 + topicLen + payload.length;
  if (qos > 0) {
    checkPacketId(packet.packetId, 'publish');
    rl += 2;
  }
  let propsLen = 0;
  if (version === 5) {
    propsLen = propertiesLength(packet.properties, 'publish');
    rl += blockLength(propsLen);
  }
  const buf = start(0x30 | (packet.dup ? 0x08 : 0) | (qos << 1) | (packet.retain ? 0x01 : 0), rl, 'publish');
  let pos = writeString(buf, buf.length - rl, topic, topicLen);
  if (qos > 0) pos = buf.writeUInt16BE(packet.packetId as number, pos);
  if (version === 5) pos = writeProperties(buf, pos, packet.properties, propsLen);
  buf.set(payload, pos);
  return buf;
}

export function encodeConnect(packet: ConnectPacket, version: ProtocolVersion): Buffer {
  const nameLen = stringLength(packet.protocolName, 'Protocol name');
  const level = checkByte(packet.protocolVersion, 'Protocol level');
  const keepalive = packet.keepalive;
  if (!Number.isInteger(keepalive) || keepalive < 0 || keepalive > 0xffff) fail(`Keep alive must be 0-65535, got ${String(keepalive)}.`);
  const clientIdLen = stringLength(packet.clientId, 'Client identifier');
  let rl = 2 + nameLen + 1 + 1 + 2 + 2 + clientIdLen;
  let flags = packet.clean ? 0x02 : 0;
  let propsLen = 0;
  if (version === 5) {
    propsLen = propertiesLength(packet.properties, 'connect');
    rl += blockLength(propsLen);
  }
  const will = packet.will;
  let willTopicLen = 0;
  let willPropsLen = 0;
  if (will !== undefined) {
    if (will.qos !== 0 && will.qos !== 1 && will.qos !== 2) fail(`Will QoS must be 0, 1 or 2, got ${String(will.qos)}.`);
    willTopicLen = stringLength(will.topic, 'Will topic');
    rl += 2 + willTopicLen + 2 + binaryLength(checkPayload(will.payload, 'Will payload'), 'Will payload');
    if (version === 5) {
      willPropsLen = propertiesLength(will.properties, 'will');
      rl += blockLength(willPropsLen);
    }
    flags |= 0x04 | (will.qos << 3) | (will.retain ? 0x20 : 0);
  }
  let usernameLen = 0;
  if (packet.username !== undefined) {
    usernameLen = stringLength(packet.username, 'User name');
    rl += 2 + usernameLen;
    flags |= 0x80;
  }
  if (packet.password !== undefined) {
    rl += 2 + binaryLength(checkPayload(packet.password, 'Password'), 'Password');
    flags |= 0x40;
  }
  const buf = start(0x10, rl, 'connect');
  let pos = writeString(buf, buf.length - rl, packet.protocolName, nameLen);
  buf[pos++] = level;
  buf[pos++] = flags;
  pos = buf.writeUInt16BE(keepalive, pos);
  if (version === 5) pos = writeProperties(buf, pos, packet.properties, propsLen);
  pos = writeString(buf, pos, packet.clientId, clientIdLen);
  if (will !== undefined) {
    if (version === 5) pos = writeProperties(buf, pos, will.properties, willPropsLen);
    pos = writeString(buf, pos, will.topic, willTopicLen);
    pos = writeBinary(buf, pos, will.payload);
  }
  if (packet.username !== undefined) pos = writeString(buf, pos, packet.username, usernameLen);
  if (packet.password !== undefined) writeBinary(buf, pos, packet.password);
  return buf;
}

export function encodeConnack(packet: ConnackPacket, version: ProtocolVersion): Buffer {
  const reasonCode = checkByte(packet.reasonCode, 'CONNACK reason code');
  // 3.1 has no Session Present flag.
  const flags = version > 3 && packet.sessionPresent ? 0x01 : 0;
  if (version < 5) {
    const buf = start(0x20, 2, 'connack');
    buf[2] = flags;
    buf[3] = reasonCode;
    return buf;
  }
  const propsLen = propertiesLength(packet.properties, 'connack');
  const rl = 2 + blockLength(propsLen);
  const buf = start(0x20, rl, 'connack');
  let pos = buf.length - rl;
  buf[pos++] = flags;
  buf[pos++] = reasonCode;
  writeProperties(buf, pos, packet.properties, propsLen);
  return buf;
}

/**
 * The 5.0 "reason code + optional properties" tail shared by acks, DISCONNECT and AUTH: both are
 * omitted for Success with no properties, the property length alone when there are none
 * (5.0 §3.4.2.1, §3.14.2.1, §3.15.2.1).
 */
function tailLength(reasonCode: number | undefined, propsLen: number): number {
  if (propsLen > 0) return 1 + blockLength(propsLen);
  return reasonCode === undefined || reasonCode === 0 ? 0 : 1;
}

function writeTail(buf: Buffer, pos: number, reasonCode: number | undefined, props: Properties | undefined, propsLen: number): void {
  if (pos === buf.length) return;
  buf[pos++] = reasonCode ?? 0;
  if (propsLen > 0) writeProperties(buf, pos, props, propsLen);
}

const ACK_HEADERS = { puback: 0x40, pubrec: 0x50, pubrel: 0x62, pubcomp: 0x70 } as const;

export function encodeAck(packet: AckPacket, version: ProtocolVersion): Buffer {
  const first = ACK_HEADERS[packet.type];
  checkPacketId(packet.packetId, packet.type);
  if (version < 5) {
    const buf = start(first, 2, packet.type);
    buf.writeUInt16BE(packet.packetId, 2);
    return buf;
  }
  if (packet.reasonCode !== undefined) checkByte(packet.reasonCode, `${packet.type.toUpperCase()} reason code`);
  const propsLen = propertiesLength(packet.properties, packet.type);
  const rl = 2 + tailLength(packet.reasonCode, propsLen);
  const buf = start(first, rl, packet.type);
  const pos = buf.writeUInt16BE(packet.packetId, buf.length - rl);
  writeTail(buf, pos, packet.reasonCode, packet.properties, propsLen);
  return buf;
}

export function encodeSubscribe(packet: SubscribePacket, version: ProtocolVersion): Buffer {
  checkPacketId(packet.packetId, 'subscribe');
  const subs = packet.subscriptions;
  if (!Array.isArray(subs) || subs.length === 0) fail('SUBSCRIBE needs at least one subscription [MQTT-3.8.3-3].');
  let rl = 2;
  let propsLen = 0;
  if (version === 5) {
    propsLen = propertiesLength(packet.properties, 'subscribe');
    rl += blockLength(propsLen);
  }
  const lens = new Array<number>(subs.length);
  for (let i = 0; i < subs.length; i++) {
    const s = subs[i] as SubscribePacket['subscriptions'][number];
    if (s.qos !== 0 && s.qos !== 1 && s.qos !== 2) fail(`Subscription QoS must be 0, 1 or 2, got ${String(s.qos)}.`);
    if (version === 5 && s.retainHandling !== 0 && s.retainHandling !== 1 && s.retainHandling !== 2) {
      fail(`Retain Handling must be 0, 1 or 2, got ${String(s.retainHandling)}.`);
    }
    const n = stringLength(s.filter, 'Topic filter');
    lens[i] = n;
    rl += 3 + n;
  }
  const buf = start(0x82, rl, 'subscribe');
  let pos = buf.writeUInt16BE(packet.packetId, buf.length - rl);
  if (version === 5) pos = writeProperties(buf, pos, packet.properties, propsLen);
  for (let i = 0; i < subs.length; i++) {
    const s = subs[i] as SubscribePacket['subscriptions'][number];
    pos = writeString(buf, pos, s.filter, lens[i] as number);
    buf[pos++] =
      version === 5 ? s.qos | (s.noLocal ? 0x04 : 0) | (s.retainAsPublished ? 0x08 : 0) | (s.retainHandling << 4) : s.qos;
  }
  return buf;
}

function encodeCodes(first: number, type: 'suback' | 'unsuback', packetId: number, codes: number[], props: Properties | undefined, version: ProtocolVersion): Buffer {
  checkPacketId(packetId, type);
  if (!Array.isArray(codes)) fail(`${type.toUpperCase()} reasonCodes must be an array.`);
  // 3.1.1 UNSUBACK carries only the packet identifier.
  const writeCodes = type === 'suback' || version === 5;
  let rl = 2 + (writeCodes ? codes.length : 0);
  let propsLen = 0;
  if (version === 5) {
    propsLen = propertiesLength(props, type);
    rl += blockLength(propsLen);
  }
  const buf = start(first, rl, type);
  let pos = buf.writeUInt16BE(packetId, buf.length - rl);
  if (version === 5) pos = writeProperties(buf, pos, props, propsLen);
  if (writeCodes) for (const c of codes) buf[pos++] = checkByte(c, `${type.toUpperCase()} reason code`);
  return buf;
}

export function encodeUnsubscribe(packet: UnsubscribePacket, version: ProtocolVersion): Buffer {
  checkPacketId(packet.packetId, 'unsubscribe');
  const filters = packet.filters;
  if (!Array.isArray(filters) || filters.length === 0) fail('UNSUBSCRIBE needs at least one topic filter [MQTT-3.10.3-2].');
  let rl = 2;
  let propsLen = 0;
  if (version === 5) {
    propsLen = propertiesLength(packet.properties, 'unsubscribe');
    rl += blockLength(propsLen);
  }
  const lens = new Array<number>(filters.length);
  for (let i = 0; i < filters.length; i++) {
    const n = stringLength(filters[i] as string, 'Topic filter');
    lens[i] = n;
    rl += 2 + n;
  }
  const buf = start(0xa2, rl, 'unsubscribe');
  let pos = buf.writeUInt16BE(packet.packetId, buf.length - rl);
  if (version === 5) pos = writeProperties(buf, pos, packet.properties, propsLen);
  for (let i = 0; i < filters.length; i++) pos = writeString(buf, pos, filters[i] as string, lens[i] as number);
  return buf;
}

function encodeReasonOnly(first: number, type: 'disconnect' | 'auth', reasonCode: number | undefined, props: Properties | undefined, version: ProtocolVersion): Buffer {
  if (version < 5) {
    if (type === 'auth') fail('AUTH exists only in MQTT 5.0.');
    return start(first, 0, type);
  }
  if (reasonCode !== undefined) checkByte(reasonCode, `${type.toUpperCase()} reason code`);
  const propsLen = propertiesLength(props, type);
  const rl = tailLength(reasonCode, propsLen);
  const buf = start(first, rl, type);
  writeTail(buf, buf.length - rl, reasonCode, props, propsLen);
  return buf;
}

/**
 * Encodes a packet for a peer speaking `version`. For CONNECT, the packet's own protocolName and
 * protocolVersion are written; `version` decides whether properties and reason codes are.
 * Throws MoatError MOAT_ERR_ENCODE for packets that cannot be encoded.
 */
export function encode(packet: Packet, version: ProtocolVersion): Buffer {
  switch (packet.type) {
    case 'publish':
      return encodePublish(packet, version);
    case 'puback':
    case 'pubrec':
    case 'pubrel':
    case 'pubcomp':
      return encodeAck(packet, version);
    case 'connect':
      return encodeConnect(packet, version);
    case 'connack':
      return encodeConnack(packet, version);
    case 'subscribe':
      return encodeSubscribe(packet, version);
    case 'suback':
      return encodeCodes(0x90, 'suback', packet.packetId, packet.reasonCodes, packet.properties, version);
    case 'unsubscribe':
      return encodeUnsubscribe(packet, version);
    case 'unsuback':
      return encodeCodes(0xb0, 'unsuback', packet.packetId, packet.reasonCodes, packet.properties, version);
    case 'pingreq':
      return start(0xc0, 0, 'pingreq');
    case 'pingresp':
      return start(0xd0, 0, 'pingresp');
    case 'disconnect':
      return encodeReasonOnly(0xe0, 'disconnect', (packet as DisconnectPacket).reasonCode, packet.properties, version);
    case 'auth':
      return encodeReasonOnly(0xf0, 'auth', (packet as AuthPacket).reasonCode, packet.properties, version);
    default:
      return fail(`Unknown packet type ${JSON.stringify((packet as { type?: unknown }).type)}.`);
  }
}
