// SUBSCRIBE: validate every filter, store the subscriptions, SUBACK, then the retained messages
// each subscription asked for (Retain Handling) [MQTT-3.8.4].
import { ProtocolError } from '../../codec/errors.js';
import { ReasonCode, SubackReturnCode } from '../../codec/reason-codes.js';
import type { SubscribePacket } from '../../codec/types.js';
import { checkTopicDepth, checkTopicLength, parseSharedFilter, validateTopicFilter } from '../../topic/validate.js';
import type { Connection } from '../connection.js';
import { emit } from '../events.js';
import { retainedSourceAllowed } from '../message.js';
import type { SubscriptionEntry } from '../session.js';

export function handleSubscribe(connection: Connection, packet: SubscribePacket): void {
  const session = connection.session;
  if (session === undefined) return;
  const router = connection.broker.router;
  const subscriptionIdentifier = packet.properties?.subscriptionIdentifiers?.[0];

  // Validate all first: a malformed filter closes the connection without applying any of them, as Mosquitto does.
  for (const subscription of packet.subscriptions) {
    const problem = validateTopicFilter(subscription.filter);
    if (problem !== undefined) throw new ProtocolError(ReasonCode.MalformedPacket, `invalid topic filter "${subscription.filter}": ${problem}`, 'subscribe');
    if (subscription.noLocal && parseSharedFilter(subscription.filter) !== undefined) {
      throw new ProtocolError(ReasonCode.ProtocolError, `No Local on shared subscription "${subscription.filter}" [MQTT-3.8.3-4]`, 'subscribe');
    }
  }

  const reasonCodes: number[] = [];
  const retainedToSend: SubscriptionEntry[] = [];
  const access = session.access;
  const broker = connection.broker;
  const { maxTopicLength, maxSubscriptionsPerClient } = broker.options;
  const v5 = connection.protocolVersion === 5;
  /** The first refusal's sentence, for a v5 client's SUBACK Reason String. */
  let refusal: string | undefined;
  for (const subscription of packet.subscriptions) {
    // Stored, routed and judged with the listener's mount point in front (Mosquitto's mount_point).
    const stored = connection.brokerFilter(subscription.filter);
    // The ACL judges the filter itself; for a shared subscription that is the part after $share/group/.
    const filter = parseSharedFilter(stored)?.filter ?? stored;
    // Too deep: refused per filter, before it costs a trie node per level (Mosquitto disconnects instead).
    const tooDeep = checkTopicDepth(filter, connection.broker.options.maxTopicLevels, 'topic filter');
    if (tooDeep !== undefined) {
      broker.refuse({ limit: 'max_topic_levels', value: broker.options.maxTopicLevels, listener: connection.info.listener, address: connection.remoteAddress, clientId: connection.clientId, answered: true });
      emit(connection.broker, 'subscribeRefused', { clientId: connection.clientId, filter: subscription.filter, reasonCode: ReasonCode.TopicFilterInvalid, reason: tooDeep });
      reasonCodes.push(connection.protocolVersion === 5 ? ReasonCode.TopicFilterInvalid : SubackReturnCode.Failure);
      refusal ??= tooDeep;
      continue;
    }
    const tooLong = maxTopicLength < 65535 ? checkTopicLength(subscription.filter, maxTopicLength, 'topic filter') : undefined;
    if (tooLong !== undefined) {
      broker.refuse({ limit: 'max_topic_length', value: maxTopicLength, listener: connection.info.listener, address: connection.remoteAddress, clientId: connection.clientId, answered: true });
      reasonCodes.push(v5 ? ReasonCode.TopicFilterInvalid : SubackReturnCode.Failure);
      refusal ??= tooLong;
      continue;
    }
    // grantDeniedSubscriptions (acl_denied_subscribe mosquitto): granted, and the read check at delivery lets nothing through.
    if (access !== undefined && !access.control.allows(access.subject, 'subscribe', filter) && !connection.broker.options.grantDeniedSubscriptions) {
      emit(connection.broker, 'subscribeDenied', { clientId: connection.clientId, username: connection.username, filter: subscription.filter });
      reasonCodes.push(connection.protocolVersion === 5 ? ReasonCode.NotAuthorized : SubackReturnCode.Failure);
      continue;
    }
    // max_qos: granted at most the listener's, as Mosquitto does for 3.1.1 and 5.0 alike.
    const qos = subscription.qos > connection.maxQos ? connection.maxQos : subscription.qos;
    const entry: SubscriptionEntry = {
      session,
      filter: stored,
      qos,
      noLocal: subscription.noLocal,
      retainAsPublished: subscription.retainAsPublished,
      retainHandling: subscription.retainHandling,
      subscriptionIdentifier,
    };
    // max_subscriptions_per_client: a filter the session holds already is replaced, not counted twice.
    if (maxSubscriptionsPerClient > 0 && session.subscriptions.size >= maxSubscriptionsPerClient && !session.subscriptions.has(stored)) {
      broker.refuse({ limit: 'max_subscriptions_per_client', value: maxSubscriptionsPerClient, listener: connection.info.listener, address: connection.remoteAddress, clientId: connection.clientId, answered: true });
      reasonCodes.push(v5 ? ReasonCode.QuotaExceeded : SubackReturnCode.Failure);
      refusal ??= `this client holds ${maxSubscriptionsPerClient} subscriptions (max_subscriptions_per_client); unsubscribe from one first`;
      continue;
    }
    const isNew = connection.broker.subscribe(session, entry);
    reasonCodes.push(qos);
    if (entry.retainHandling === 0 || (entry.retainHandling === 1 && isNew)) retainedToSend.push(entry);
  }
  connection.writePacket(
    refusal !== undefined && connection.protocolVersion === 5
      ? { type: 'suback', packetId: packet.packetId, reasonCodes, properties: { reasonString: refusal } }
      : { type: 'suback', packetId: packet.packetId, reasonCodes },
  );
  emit(connection.broker, 'subscribed', { clientId: connection.clientId, filters: packet.subscriptions.map((s) => s.filter) });

  const checkSource = connection.broker.options.checkRetainSource;
  for (const entry of retainedToSend) {
    for (const message of connection.broker.retained.matching(entry.filter)) {
      if (!session.mayRead(message.topic) || (checkSource && !retainedSourceAllowed(message))) continue;
      const qos = router.deliveryQos(entry.qos, message.qos);
      const subscriptionIdentifiers = entry.subscriptionIdentifier === undefined ? undefined : [entry.subscriptionIdentifier];
      session.deliverRetained(message, qos, subscriptionIdentifiers);
    }
  }
}
