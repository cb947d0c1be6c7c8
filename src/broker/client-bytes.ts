// The bytes one connection is sent: a packet cut to the client's Maximum Packet Size, and a
// PUBLISH taken from the router's shared encodings when nothing in it is this subscriber's own.
// connection.ts writes them; this module only decides what they are.
import { encode } from '../codec/encode.js';
import type { Packet, QoS } from '../codec/types.js';
import type { Connection } from './connection.js';
import { remainingExpiry, type Message } from './message.js';
import { publishPacketFor } from './publish-packet.js';
import { publishPacketIdOffset, WireCache } from './wire-cache.js';

/**
 * The packet's bytes within the client's Maximum Packet Size [MQTT-3.1.2-24]: the Reason String
 * and User Properties go first, as the specification says for every packet that carries them
 * [MQTT-3.2.2-19, MQTT-3.2.2-20]; undefined when even the packet without them does not fit.
 */
export function bytesToFit(connection: Connection, packet: Packet): Buffer | undefined {
  const bytes = encode(packet, connection.protocolVersion);
  if (bytes.length <= connection.clientMaxPacketSize) return bytes;
  const properties = 'properties' in packet ? packet.properties : undefined;
  if (properties === undefined || (properties.reasonString === undefined && properties.userProperties === undefined)) return undefined;
  const { reasonString: _reason, userProperties: _user, ...required } = properties;
  const bare = encode({ ...packet, properties: required } as Packet, connection.protocolVersion);
  return bare.length <= connection.clientMaxPacketSize ? bare : undefined;
}

/**
 * One PUBLISH's bytes for `connection`; undefined when there are none, counted as a drop of its
 * session: expired (a first send past the message's expiry) or too large (over the client's
 * Maximum Packet Size [MQTT-3.1.2-25]). One return type: this runs per delivery.
 */
export function publishBytesFor(connection: Connection, message: Message, qos: QoS, retain: boolean, subscriptionIdentifiers: number[] | undefined, packetId: number, dup: boolean, wire: WireCache | undefined): Buffer | undefined {
  let expiry = message.expiresAt === 0 ? undefined : remainingExpiry(message, Date.now());
  if (expiry !== undefined && expiry <= 0) {
    // A resend finishes a delivery already begun; only a first send may be dropped for expiry.
    if (!dup) {
      connection.session?.recordDrop('expired');
      return undefined;
    }
    expiry = 1;
  }
  const version = connection.protocolVersion;
  let buffer: Buffer;
  // Shared encodings only when nothing in the bytes is specific to this subscriber.
  if (wire !== undefined && !dup && subscriptionIdentifiers === undefined && connection.outboundAliases === undefined && connection.mountPoint === '') {
    const key = WireCache.key(version, qos, retain);
    let template = wire.buffer(key);
    if (template === undefined) {
      template = encode(publishPacketFor(connection, message, qos, retain, undefined, qos === 0 ? undefined : 1, false, expiry), version);
      wire.set(key, template, qos === 0 ? 0 : publishPacketIdOffset(template, message.topic));
    }
    if (qos === 0) {
      buffer = template;
    } else {
      buffer = Buffer.allocUnsafe(template.length);
      template.copy(buffer);
      buffer.writeUInt16BE(packetId, wire.packetIdOffset(key));
    }
  } else {
    buffer = encode(publishPacketFor(connection, message, qos, retain, subscriptionIdentifiers, qos === 0 ? undefined : packetId, dup, expiry), version);
  }
  if (buffer.length <= connection.clientMaxPacketSize) return buffer;
  connection.session?.recordDrop('too_large');
  return undefined;
}
