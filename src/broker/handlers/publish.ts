// PUBLISH from a client and the four acknowledgements, in both directions of the QoS 1/2 flows.
import { ProtocolError } from '../../codec/errors.js';
import { isError, ReasonCode } from '../../codec/reason-codes.js';
import type { AckPacket, PublishPacket } from '../../codec/types.js';
import { checkTopicDepth, checkTopicLength } from '../../topic/validate.js';
import type { Connection } from '../connection.js';
import { emit } from '../events.js';
import { forwardedProperties, type Message } from '../message.js';

export function handlePublish(connection: Connection, packet: PublishPacket): void {
  const broker = connection.broker;
  const options = broker.options;
  const session = connection.session;
  if (session === undefined) return;
  broker.counters.messagesReceived++;
  broker.counters.messagesReceivedByQos[packet.qos]++;
  broker.counters.publishBytesReceived += packet.payload.length;
  connection.messagesIn++;

  if (packet.qos > connection.maxQos) {
    // Mosquitto disconnects these too; a v5 client was told Maximum QoS in CONNACK [MQTT-3.2.2-11].
    throw new ProtocolError(ReasonCode.QoSNotSupported, `QoS ${packet.qos} is above this listener's max_qos ${connection.maxQos}`, 'publish');
  }
  const clientTopic = resolveTopic(connection, packet);
  if (options.maxTopicLength < 65535) {
    const tooLong = checkTopicLength(clientTopic, options.maxTopicLength, 'topic name');
    if (tooLong !== undefined) {
      refuseLongTopic(connection, packet, tooLong);
      return;
    }
  }
  const topic = connection.brokerTopic(clientTopic);
  const tooDeep = checkTopicDepth(topic, options.maxTopicLevels, 'topic name');
  if (tooDeep !== undefined) {
    // A v5 QoS 1/2 publisher can be told in its acknowledgement; anyone else only by closing, as Mosquitto does.
    broker.refuse({ limit: 'max_topic_levels', value: options.maxTopicLevels, listener: connection.info.listener, address: connection.remoteAddress, clientId: connection.clientId, answered: connection.protocolVersion === 5 });
    if (connection.protocolVersion !== 5 || packet.qos === 0) throw new ProtocolError(ReasonCode.TopicNameInvalid, tooDeep, 'publish');
    emit(broker, 'publishRefused', { clientId: connection.clientId, topic, reasonCode: ReasonCode.TopicNameInvalid, reason: tooDeep });
    acknowledge(connection, packet, packet.packetId ?? 0, ReasonCode.TopicNameInvalid);
    return;
  }
  if (packet.retain && !options.retainAvailable) {
    throw new ProtocolError(ReasonCode.RetainNotSupported, 'retained messages are not supported by this broker (retain_available false)', 'publish');
  }
  const packetId = packet.packetId ?? 0;

  if (packet.qos === 2) {
    if (session.isAwaitingPubrel(packetId)) {
      // A resent QoS 2 PUBLISH whose PUBREC was lost: acknowledge again, route once [MQTT-4.3.3-10].
      sendAfterCommit(connection, 'pubrec', packetId, ReasonCode.Success); // in order with the acknowledgements still waiting
      return;
    }
    if (session.awaitingPubrelCount >= options.maxInflightMessages) {
      throw new ProtocolError(ReasonCode.ReceiveMaximumExceeded, `more than Receive Maximum (${options.maxInflightMessages}) QoS 2 messages unacknowledged`, 'publish');
    }
  }

  // memory_limit (overload.ts samples it; this is a boolean read): a v5 QoS 1/2 publisher is told
  // 0x97 and may send again later; QoS 0 and MQTT 3.1.1 have no code for it, so the flow completes
  // and the message is dropped, counted (drops.ts).
  if (broker.overMemoryLimit) {
    if (connection.protocolVersion === 5 && packet.qos > 0) {
      broker.refuse({ limit: 'memory_limit', value: options.memoryLimit, listener: connection.info.listener, address: connection.remoteAddress, clientId: connection.clientId, answered: true });
      acknowledge(connection, packet, packetId, ReasonCode.QuotaExceeded, `the broker's memory is over its memory_limit (${options.memoryLimit} bytes); the message was not accepted, send it again later`);
    } else {
      session.recordDrop('memory_limit');
      acknowledge(connection, packet, packetId, ReasonCode.Success);
    }
    return;
  }

  // Mosquitto's message_size_limit: the QoS flow completes, the message goes nowhere.
  if (options.messageSizeLimit > 0 && packet.payload.length > options.messageSizeLimit) {
    session.recordDrop('size_limit');
    acknowledge(connection, packet, packetId, ReasonCode.ImplementationSpecificError);
    return;
  }

  // Clients may not inject broker statistics: v5 hears 0x87, 3.1.1 has no code for it, so its flow
  // completes and the message is dropped, as Mosquitto does. Counted, never silent.
  if (topic.startsWith('$SYS/') || topic === '$SYS') {
    session.recordDrop('sys_topic');
    acknowledge(connection, packet, packetId, ReasonCode.NotAuthorized);
    return;
  }

  // Not allowed by the ACL: v5 hears 0x87 in the acknowledgement; 3.1.1 has no way to say it, so the
  // flow completes and the message is dropped, as Mosquitto does.
  const access = session.access;
  if (access !== undefined && !access.control.allows(access.subject, 'write', topic)) {
    emit(broker, 'publishDenied', { clientId: connection.clientId, username: connection.username, topic });
    acknowledge(connection, packet, packetId, ReasonCode.NotAuthorized);
    return;
  }

  const expiryInterval = packet.properties?.messageExpiryInterval;
  const message: Message = {
    topic,
    payload: packet.payload,
    qos: packet.qos,
    retain: packet.retain,
    properties: forwardedProperties(packet.properties),
    expiresAt: expiryInterval === undefined ? 0 : Date.now() + expiryInterval * 1000,
    origin: connection.clientId,
    // Forwardable byte for byte when nothing in it changes on the way out.
    wire: packet.dup || packet.properties !== undefined || connection.mountPoint !== '' ? undefined : connection.receivedBytes,
    wireVersion: connection.protocolVersion,
    source: packet.retain ? access : undefined,
  };
  const deliveries = broker.publish(message);
  const matched = deliveries > 0 || broker.hasRemoteSubscribers(message.topic);
  acknowledge(connection, packet, packetId, matched ? ReasonCode.Success : ReasonCode.NoMatchingSubscribers);
  const congested = broker.router.takeCongested();
  if (congested !== undefined) connection.holdForSubscriber(congested);
}

/**
 * A topic name over max_topic_length: a v5 QoS 1/2 publisher hears PUBACK/PUBREC 0x90 Topic Name
 * invalid; a v5 QoS 0 one DISCONNECT 0x90 (it has no acknowledgement to carry the code); a 3.1.1
 * one is closed, as for any topic the broker cannot take.
 */
function refuseLongTopic(connection: Connection, packet: PublishPacket, reason: string): void {
  const broker = connection.broker;
  const v5 = connection.protocolVersion === 5;
  broker.refuse({ limit: 'max_topic_length', value: broker.options.maxTopicLength, listener: connection.info.listener, address: connection.remoteAddress, clientId: connection.clientId, answered: v5 });
  if (v5 && packet.qos > 0) acknowledge(connection, packet, packet.packetId ?? 0, ReasonCode.TopicNameInvalid, reason);
  else connection.close(ReasonCode.TopicNameInvalid, reason);
}

/** The topic of a PUBLISH after topic alias resolution [MQTT-3.3.2-12]. */
function resolveTopic(connection: Connection, packet: PublishPacket): string {
  const alias = packet.properties?.topicAlias;
  if (alias === undefined) return packet.topic;
  const max = connection.maxTopicAlias;
  if (alias === 0 || alias > max) {
    throw new ProtocolError(ReasonCode.TopicAliasInvalid, `topic alias ${alias} is outside 1..${max} (Topic Alias Maximum)`, 'publish');
  }
  if (packet.topic === '') {
    const topic = connection.inboundAliases?.get(alias);
    if (topic === undefined) throw new ProtocolError(ReasonCode.ProtocolError, `topic alias ${alias} was never set on this connection`, 'publish');
    return topic;
  }
  (connection.inboundAliases ??= new Map()).set(alias, packet.topic);
  return packet.topic;
}

/** PUBACK / PUBREC for a client's PUBLISH (sendAfterCommit: after the store's commit when it is durable). */
function acknowledge(connection: Connection, packet: PublishPacket, packetId: number, reasonCode: number, reasonString?: string): void {
  if (packet.qos === 0) return;
  // An error PUBREC ends the flow [MQTT-4.3.3]; otherwise wait for PUBREL.
  if (packet.qos === 2 && !isError(reasonCode)) connection.session?.addAwaitingPubrel(packetId);
  sendAfterCommit(connection, packet.qos === 1 ? 'puback' : 'pubrec', packetId, reasonCode, reasonString);
}

/** An acknowledgement, with a Reason String for a v5 client when there is one (shed first if it does not fit). */
function sendAck(connection: Connection, type: 'puback' | 'pubrec' | 'pubcomp', packetId: number, reasonCode: number, reasonString: string | undefined): void {
  if (reasonString === undefined || connection.protocolVersion !== 5) connection.sendAck(type, packetId, reasonCode);
  else connection.writePacket({ type, packetId, reasonCode, properties: { reasonString } });
}

/**
 * PUBACK, PUBREC or PUBCOMP to the client. With a durable store it waits for the store's flush, so
 * what a publisher was told is safe is on disk; every acknowledgement waits, so they stay in order
 * [MQTT-4.6.0-2].
 */
function sendAfterCommit(connection: Connection, type: 'puback' | 'pubrec' | 'pubcomp', packetId: number, reasonCode: number, reasonString?: string): void {
  const store = connection.broker.store;
  // Nothing uncommitted (no durable store, or this turn wrote nothing yet): at once, still in order.
  if (!store.durable || !store.pending) sendAck(connection, type, packetId, reasonCode, reasonString);
  else {
    store
      .flush()
      .then(
        () => sendAck(connection, type, packetId, reasonCode, reasonString),
        (error: unknown) => {
          // Not acknowledged, so the publisher sends it again after reconnecting: nothing is lost.
          emit(connection.broker, 'storeError', { clientId: connection.clientId, operation: 'commit', err: error instanceof Error ? error.message : String(error) });
          connection.close(ReasonCode.UnspecifiedError, 'the broker could not store the message');
        },
      )
      .catch((error: unknown) => {
        emit(connection.broker, 'handlerError', { clientId: connection.clientId, packet: type, err: error });
        connection.close(ReasonCode.ImplementationSpecificError, 'internal error');
      });
  }
}

// ---- acknowledgements of the broker's own deliveries ------------------------------------------

export function handlePuback(connection: Connection, packet: AckPacket): void {
  const session = connection.session;
  const inflight = session?.inflight.get(packet.packetId);
  // An unknown or mismatched id is ignored, as Mosquitto does: the client may be acking a resend.
  if (session === undefined || inflight === undefined || inflight.qos !== 1) return;
  session.releaseInflight(packet.packetId);
}

export function handlePubrec(connection: Connection, packet: AckPacket): void {
  const session = connection.session;
  const inflight = session?.inflight.get(packet.packetId);
  if (session === undefined || inflight === undefined || inflight.qos !== 2) {
    connection.sendAck('pubrel', packet.packetId, ReasonCode.PacketIdentifierNotFound);
    return;
  }
  if (isError(packet.reasonCode ?? ReasonCode.Success)) {
    // The client refused the message: the flow ends here [MQTT-4.3.3-4].
    session.releaseInflight(packet.packetId);
    return;
  }
  session.markPubrel(inflight);
  connection.sendAck('pubrel', packet.packetId, ReasonCode.Success);
}

export function handlePubcomp(connection: Connection, packet: AckPacket): void {
  const session = connection.session;
  const inflight = session?.inflight.get(packet.packetId);
  if (session === undefined || inflight === undefined || inflight.state !== 'pubrel') return;
  session.releaseInflight(packet.packetId);
}

/** PUBREL for a QoS 2 message the client sent us: release the id; an unknown id gets PUBCOMP 0x92 [MQTT-3.7.2]. */
export function handlePubrel(connection: Connection, packet: AckPacket): void {
  const known = connection.session?.releaseAwaitingPubrel(packet.packetId) ?? false;
  sendAfterCommit(connection, 'pubcomp', packet.packetId, known ? ReasonCode.Success : ReasonCode.PacketIdentifierNotFound);
}
