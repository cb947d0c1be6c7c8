// The PUBLISH packet one connection is sent for a message: the topic without the listener's mount
// point, and for MQTT 5 the message's properties plus what is this subscriber's own (remaining
// expiry, subscription identifiers, an outgoing topic alias).
import type { Properties, PublishPacket, QoS } from '../codec/types.js';
import type { Connection } from './connection.js';
import type { Message } from './message.js';

export function publishPacketFor(
  connection: Connection,
  message: Message,
  qos: QoS,
  retain: boolean,
  subscriptionIdentifiers: number[] | undefined,
  packetId: number | undefined,
  dup: boolean,
  expiry: number | undefined,
): PublishPacket {
  const packet: PublishPacket = { type: 'publish', topic: connection.clientTopic(message.topic), payload: message.payload, qos, retain, dup };
  if (packetId !== undefined) packet.packetId = packetId;
  if (connection.protocolVersion === 5) {
    let properties: Properties | undefined = message.properties === undefined ? undefined : { ...message.properties };
    if (expiry !== undefined) (properties ??= {}).messageExpiryInterval = expiry;
    if (subscriptionIdentifiers !== undefined) (properties ??= {}).subscriptionIdentifiers = subscriptionIdentifiers;
    const aliases = connection.outboundAliases;
    if (aliases !== undefined) {
      const alias = aliases.get(message.topic);
      if (alias !== undefined) {
        (properties ??= {}).topicAlias = alias;
        packet.topic = '';
      } else if (aliases.size < connection.clientTopicAliasMaximum) {
        const fresh = aliases.size + 1;
        aliases.set(message.topic, fresh);
        (properties ??= {}).topicAlias = fresh;
      }
    }
    if (properties !== undefined) packet.properties = properties;
  }
  return packet;
}
