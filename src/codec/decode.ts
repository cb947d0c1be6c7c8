// Packet body decoders. Each reads one packet from a Reader positioned after the fixed header and
// throws ProtocolError on the first violation; the Parser catches once per packet.
//
// Reason codes: 0x81 Malformed Packet where the bytes cannot be parsed (or the spec says
// "malformed"); where the bytes parse but carry data the protocol forbids, 5.0 calls it a Protocol
// Error (5.0 §1.2) so we use 0x82 under 5.0 and 0x81 under 3.1/3.1.1 (which have no reason codes
// on the wire and only say "close the connection").
import { decodeProperties } from './properties.js';
import { MALFORMED, PROTOCOL_ERROR, Reader } from './reader.js';
import type {
  AckPacket,
  AuthPacket,
  ConnackPacket,
  ConnectPacket,
  DisconnectPacket,
  Packet,
  ProtocolVersion,
  PublishPacket,
  QoS,
  SubackPacket,
  SubscribePacket,
  Subscription,
  UnsubackPacket,
  UnsubscribePacket,
  Will,
} from './types.js';

export const UNSUPPORTED_PROTOCOL_VERSION = 0x84;

/** 0x82 under 5.0, 0x81 before: see the file comment. */
function protocolError(version: ProtocolVersion): number {
  return version === 5 ? PROTOCOL_ERROR : MALFORMED;
}

export function decodeConnect(r: Reader): ConnectPacket {
  const protocolName = r.string('protocol name');
  const level = r.byte('protocol level');
  let version: ProtocolVersion;
  if (protocolName === 'MQTT' || protocolName === 'MQIsdp') {
    if (protocolName === 'MQTT' && (level === 4 || level === 5)) version = level;
    else if (protocolName === 'MQIsdp' && level === 3) version = 3;
    // [MQTT-3.1.2-2]: right name, unsupported level → CONNACK 0x84 / return code 0x01.
    else return r.fail(UNSUPPORTED_PROTOCOL_VERSION, `Protocol ${protocolName} level ${level} is not supported (use MQTT 4 or 5, or MQIsdp 3).`);
  } else {
    // [MQTT-3.1.2-1]
    return r.fail(MALFORMED, `Unknown protocol name ${JSON.stringify(protocolName)}; expected "MQTT" or "MQIsdp".`);
  }
  const flags = r.byte('connect flags');
  if ((flags & 0x01) !== 0) r.fail(MALFORMED, 'The reserved connect flag (bit 0) is set [MQTT-3.1.2-3].');
  const willFlag = (flags & 0x04) !== 0;
  const willQos = (flags >> 3) & 0x03;
  const willRetain = (flags & 0x20) !== 0;
  const hasPassword = (flags & 0x40) !== 0;
  const hasUsername = (flags & 0x80) !== 0;
  if (!willFlag && (willQos !== 0 || willRetain)) {
    r.fail(MALFORMED, 'Will QoS or Will Retain is set without the Will Flag [MQTT-3.1.2-13] [MQTT-3.1.2-15].');
  }
  if (willQos === 3) r.fail(MALFORMED, 'Will QoS is 3 [MQTT-3.1.2-14].');
  if (version < 5 && hasPassword && !hasUsername) {
    r.fail(MALFORMED, 'The Password Flag is set without the User Name Flag [MQTT-3.1.2-22].');
  }
  const keepalive = r.u16('keep alive');
  const properties = version === 5 ? decodeProperties(r, 'connect') : undefined;
  const clientId = r.string('client identifier');
  const packet: ConnectPacket = {
    type: 'connect',
    protocolName,
    protocolVersion: version,
    clean: (flags & 0x02) !== 0,
    keepalive,
    clientId,
  };
  if (willFlag) {
    const willProperties = version === 5 ? decodeProperties(r, 'will') : undefined;
    const will: Will = {
      topic: r.string('will topic'),
      payload: r.binary('will payload'),
      qos: willQos as QoS,
      retain: willRetain,
    };
    if (willProperties !== undefined) will.properties = willProperties;
    packet.will = will;
  }
  if (hasUsername) packet.username = r.string('user name');
  if (hasPassword) packet.password = r.binary('password');
  if (properties !== undefined) packet.properties = properties;
  r.done();
  return packet;
}

export function decodeConnack(r: Reader, version: ProtocolVersion): ConnackPacket {
  const flags = r.byte('connect acknowledge flags');
  // 3.1 has no Session Present flag: the whole byte is unused there.
  if (version > 3 && (flags & 0xfe) !== 0) r.fail(MALFORMED, 'Reserved CONNACK flag bits (7-1) are set.');
  const packet: ConnackPacket = {
    type: 'connack',
    sessionPresent: version > 3 && (flags & 0x01) !== 0,
    reasonCode: r.byte('reason code'),
  };
  // A 5.0 client may get a 2-byte 3.1.1 CONNACK (return code 1) from a server without 5.0 support,
  // so a missing property block is tolerated rather than called malformed.
  if (version === 5 && r.remaining() > 0) {
    const properties = decodeProperties(r, 'connack');
    if (properties !== undefined) packet.properties = properties;
  }
  r.done();
  return packet;
}

export function decodePublish(r: Reader, flags: number, version: ProtocolVersion): PublishPacket {
  const qos = ((flags >> 1) & 0x03) as QoS; // 3 and DUP-with-QoS-0 are rejected with the fixed header
  const topic = r.string('topic name');
  // [MQTT-3.3.2-2]: no wildcards in a Topic Name. The bytes parse, so 5.0 calls this a Protocol
  // Error (not 0x90 Topic Name Invalid, which 5.0 reserves for well-formed names a server refuses).
  if (topic.includes('+') || topic.includes('#')) {
    r.fail(protocolError(version), `Topic name ${JSON.stringify(topic)} contains a wildcard [MQTT-3.3.2-2].`);
  }
  const packet: PublishPacket = {
    type: 'publish',
    topic,
    payload: r.buf, // placeholder keeps the object shape stable; set below
    qos,
    retain: (flags & 0x01) !== 0,
    dup: (flags & 0x08) !== 0,
  };
  if (qos > 0) packet.packetId = r.packetId(protocolError(version));
  if (version === 5) {
    const properties = decodeProperties(r, 'publish');
    if (properties !== undefined) packet.properties = properties;
    // A Response Topic is a Topic Name: the responder publishes to it [MQTT-3.3.2-14].
    const responseTopic = properties?.responseTopic;
    if (responseTopic !== undefined && (responseTopic.includes('+') || responseTopic.includes('#'))) {
      r.fail(PROTOCOL_ERROR, `Response Topic ${JSON.stringify(responseTopic)} contains a wildcard [MQTT-3.3.2-14].`);
    }
  }
  if (topic.length === 0) {
    if (version < 5) r.fail(MALFORMED, 'The topic name is empty [MQTT-4.7.3-1].');
    // 5.0 §3.3.2.3.4: an empty Topic Name needs a Topic Alias; resolving it is the broker's job.
    if (packet.properties?.topicAlias === undefined) r.fail(PROTOCOL_ERROR, 'The topic name is empty and there is no Topic Alias (5.0 §3.3.2.3.4).');
  }
  packet.payload = r.rest();
  return packet;
}

export function decodeAck(r: Reader, type: AckPacket['type'], version: ProtocolVersion): AckPacket {
  const packet: AckPacket = { type, packetId: r.packetId(protocolError(version)) };
  // 5.0 §3.4.2.1: reason code and property length may be omitted.
  if (version === 5 && r.remaining() > 0) {
    packet.reasonCode = r.byte('reason code');
    if (r.remaining() > 0) {
      const properties = decodeProperties(r, type);
      if (properties !== undefined) packet.properties = properties;
    }
  }
  r.done();
  return packet;
}

export function decodeSubscribe(r: Reader, version: ProtocolVersion): SubscribePacket {
  const packetId = r.packetId(protocolError(version));
  const properties = version === 5 ? decodeProperties(r, 'subscribe') : undefined;
  const subscriptions: Subscription[] = [];
  while (r.remaining() > 0) {
    // Filter syntax (+, #, empty, $share) is the topic module's call; only UTF-8 is checked here.
    const filter = r.string('topic filter');
    const options = r.byte('subscription options');
    const qos = options & 0x03;
    if (version === 5) {
      if ((options & 0xc0) !== 0) r.fail(MALFORMED, 'Reserved subscription option bits are set [MQTT-3.8.3-5].');
      if (qos === 3) r.fail(PROTOCOL_ERROR, `Subscription to ${JSON.stringify(filter)} requests QoS 3 (5.0 §3.8.3.1).`);
      const retainHandling = (options >> 4) & 0x03;
      if (retainHandling === 3) r.fail(PROTOCOL_ERROR, `Subscription to ${JSON.stringify(filter)} has Retain Handling 3.`);
      subscriptions.push({
        filter,
        qos: qos as QoS,
        noLocal: (options & 0x04) !== 0,
        retainAsPublished: (options & 0x08) !== 0,
        retainHandling: retainHandling as 0 | 1 | 2,
      });
    } else {
      // [MQTT-3-8.3-4]: upper 6 bits reserved, QoS 0-2.
      if ((options & 0xfc) !== 0) r.fail(MALFORMED, 'Reserved bits of the requested QoS byte are set [MQTT-3-8.3-4].');
      if (qos === 3) r.fail(MALFORMED, `Subscription to ${JSON.stringify(filter)} requests QoS 3 [MQTT-3-8.3-4].`);
      subscriptions.push({ filter, qos: qos as QoS, noLocal: false, retainAsPublished: false, retainHandling: 0 });
    }
  }
  if (subscriptions.length === 0) r.fail(protocolError(version), 'SUBSCRIBE has no topic filters [MQTT-3.8.3-3].');
  const packet: SubscribePacket = { type: 'subscribe', packetId, subscriptions };
  if (properties !== undefined) packet.properties = properties;
  return packet;
}

export function decodeSuback(r: Reader, version: ProtocolVersion): SubackPacket {
  const packetId = r.packetId(protocolError(version));
  const properties = version === 5 ? decodeProperties(r, 'suback') : undefined;
  const reasonCodes = Array.from(r.rest());
  const packet: SubackPacket = { type: 'suback', packetId, reasonCodes };
  if (properties !== undefined) packet.properties = properties;
  return packet;
}

export function decodeUnsubscribe(r: Reader, version: ProtocolVersion): UnsubscribePacket {
  const packetId = r.packetId(protocolError(version));
  const properties = version === 5 ? decodeProperties(r, 'unsubscribe') : undefined;
  const filters: string[] = [];
  while (r.remaining() > 0) filters.push(r.string('topic filter'));
  if (filters.length === 0) r.fail(protocolError(version), 'UNSUBSCRIBE has no topic filters [MQTT-3.10.3-2].');
  const packet: UnsubscribePacket = { type: 'unsubscribe', packetId, filters };
  if (properties !== undefined) packet.properties = properties;
  return packet;
}

export function decodeUnsuback(r: Reader, version: ProtocolVersion): UnsubackPacket {
  const packetId = r.packetId(protocolError(version));
  const packet: UnsubackPacket = { type: 'unsuback', packetId, reasonCodes: [] };
  if (version === 5) {
    const properties = decodeProperties(r, 'unsuback');
    packet.reasonCodes = Array.from(r.rest());
    if (properties !== undefined) packet.properties = properties;
  }
  r.done();
  return packet;
}

export function decodeDisconnect(r: Reader, version: ProtocolVersion): DisconnectPacket {
  const packet: DisconnectPacket = { type: 'disconnect' };
  // 5.0 §3.14.2.1: remaining length 0 means 0x00 Normal disconnection.
  if (version === 5 && r.remaining() > 0) {
    packet.reasonCode = r.byte('reason code');
    if (r.remaining() > 0) {
      const properties = decodeProperties(r, 'disconnect');
      if (properties !== undefined) packet.properties = properties;
    }
  }
  r.done();
  return packet;
}

export function decodeAuth(r: Reader): AuthPacket {
  // 5.0 §3.15.2.1: remaining length 0 means 0x00 Success.
  const packet: AuthPacket = { type: 'auth', reasonCode: 0 };
  if (r.remaining() > 0) {
    packet.reasonCode = r.byte('reason code');
    if (r.remaining() > 0) {
      const properties = decodeProperties(r, 'auth');
      if (properties !== undefined) packet.properties = properties;
    }
  }
  r.done();
  return packet;
}

/** Decodes the body of a packet whose fixed header (type, flags) was already checked. */
export function decodeBody(r: Reader, type: number, flags: number, version: ProtocolVersion): Packet {
  switch (type) {
    case 3:
      return decodePublish(r, flags, version);
    case 4:
      return decodeAck(r, 'puback', version);
    case 5:
      return decodeAck(r, 'pubrec', version);
    case 6:
      return decodeAck(r, 'pubrel', version);
    case 7:
      return decodeAck(r, 'pubcomp', version);
    case 1:
      return decodeConnect(r);
    case 2:
      return decodeConnack(r, version);
    case 8:
      return decodeSubscribe(r, version);
    case 9:
      return decodeSuback(r, version);
    case 10:
      return decodeUnsubscribe(r, version);
    case 11:
      return decodeUnsuback(r, version);
    case 12:
      r.done();
      return { type: 'pingreq' };
    case 13:
      r.done();
      return { type: 'pingresp' };
    case 14:
      return decodeDisconnect(r, version);
    default:
      return decodeAuth(r);
  }
}
