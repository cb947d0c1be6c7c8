// The router: which sessions of this node get a message. It is protocol-version blind; each
// session's connection encodes, and subscribers taking the same wire shape share one Buffer
// through the WireCache. Broker.publish is the one way in: it stores the retained message
// (retained.ts), hands the message to the bus and then routes it here.
import type { QoS } from '../codec/types.js';
import { SubscriptionTrie, type MatchResult } from '../topic/trie.js';
import type { Message } from './message.js';
import type { Session, SubscriptionEntry } from './session.js';
import { publishPacketIdOffset, WireCache } from './wire-cache.js';

export class Router {
  readonly #trie = new SubscriptionTrie<SubscriptionEntry>();
  /** Sessions reached by the message being routed, in match order (reused: no allocation per message). */
  readonly #targets: (Session | undefined)[] = [];
  #stamp = 0;
  readonly #wire = new WireCache();
  /** True while routing: a message routed from inside a delivery (a will, say) gets its own cache. */
  #routing = false;
  readonly #upgradeOutgoingQos: boolean;
  /** The first subscriber of the last routed message that is falling behind (flow-control.ts), for the publisher's handler. */
  #congested: Session | undefined;

  constructor(upgradeOutgoingQos = false) {
    this.#upgradeOutgoingQos = upgradeOutgoingQos;
  }

  /** The QoS a subscription receives a message at: the lower of the two [MQTT-3.8.4-8], unless upgrade_outgoing_qos. */
  deliveryQos(subscriptionQos: QoS, messageQos: QoS): QoS {
    return this.#upgradeOutgoingQos || subscriptionQos < messageQos ? subscriptionQos : messageQos;
  }

  get subscriptionCount(): number {
    return this.#trie.size;
  }

  /** Shared subscriptions (members of `$share/` groups), part of subscriptionCount. */
  get sharedSubscriptionCount(): number {
    return this.#trie.sharedSize;
  }

  subscribe(entry: SubscriptionEntry): boolean {
    return this.#trie.add(entry.filter, entry.session.clientId, entry);
  }

  unsubscribe(session: Session, filter: string): boolean {
    return this.#trie.remove(filter, session.clientId);
  }

  removeSession(session: Session): void {
    this.#trie.removeClient(session.clientId, session.subscriptions.keys());
  }

  /** The slow subscriber the last publish() ran into, once; undefined when none. */
  takeCongested(): Session | undefined {
    const session = this.#congested;
    this.#congested = undefined;
    return session;
  }

  /**
   * Delivers `message` to this node's matching sessions; the number it went to. `sharedFilters`:
   * the `$share/` groups this node delivers to as the bus chose (Bus.publish, BusMessage); undefined
   * = every matching group, as on a node alone.
   */
  route(message: Message, sharedFilters?: readonly string[]): number {
    if (!this.#routing) this.#congested = undefined;
    const match = this.#trie.match(message.topic);
    const entries = match.entries;
    const groups = match.groups;
    if (entries.length === 0 && groups.length === 0) return 0;
    const nested = this.#routing;
    const wire = nested ? new WireCache() : this.#wire;
    this.#routing = true;
    try {
      seed(wire, message);
      return this.#deliver(message, entries, groups, sharedFilters, wire, nested ? [] : this.#targets);
    } finally {
      wire.clear();
      this.#routing = nested;
    }
  }

  #deliver(
    message: Message,
    entries: MatchResult<SubscriptionEntry>['entries'],
    groups: MatchResult<SubscriptionEntry>['groups'],
    sharedFilters: readonly string[] | undefined,
    wire: WireCache,
    targets: (Session | undefined)[],
  ): number {
    let delivered = 0;

    // Overlapping subscriptions of one session merge into one delivery with the highest QoS and
    // every subscription identifier [MQTT-3.3.4-2, MQTT-3.3.4-3].
    const stamp = ++this.#stamp;
    let count = 0;
    for (let i = 0; i < entries.length; i++) {
      const entry = (entries[i] as { value: SubscriptionEntry }).value;
      const session = entry.session;
      if (entry.noLocal && session.clientId === message.origin) continue; // [MQTT-3.8.3-3]
      const qos = this.deliveryQos(entry.qos, message.qos);
      if (session.routeStamp !== stamp) {
        session.routeStamp = stamp;
        session.routeQos = qos;
        session.routeRetain = entry.retainAsPublished && message.retain;
        session.routeSubIds = entry.subscriptionIdentifier === undefined ? undefined : [entry.subscriptionIdentifier];
        targets[count++] = session;
        continue;
      }
      if (qos > session.routeQos) session.routeQos = qos;
      if (entry.retainAsPublished && message.retain) session.routeRetain = true;
      if (entry.subscriptionIdentifier !== undefined) (session.routeSubIds ??= []).push(entry.subscriptionIdentifier);
    }
    for (let i = 0; i < count; i++) {
      const session = targets[i] as Session;
      targets[i] = undefined; // no stale reference keeps an ended session alive
      // The ACL is asked at delivery too: a subscription made before a reload tightened it reads no more.
      if (session.mayRead(message.topic)) {
        if (session.deliver(message, session.routeQos, session.routeRetain, session.routeSubIds, wire)) this.#congested ??= session;
        delivered++;
      } else {
        session.recordDrop('acl_denied');
      }
      session.routeSubIds = undefined;
    }

    // Each shared group gives the message to one member, preferring connected ones [MQTT-4.8.2];
    // in a cluster, only on the node the bus chose for that group.
    for (let i = 0; i < groups.length; i++) {
      const group = groups[i];
      if (group === undefined) continue;
      if (sharedFilters !== undefined && !sharedFilters.includes(group.members[0]?.filter ?? '')) continue;
      const member = group.next(isConnected) ?? group.next();
      if (member === undefined) continue;
      const entry = member.value;
      if (!entry.session.mayRead(message.topic)) {
        entry.session.recordDrop('acl_denied');
        continue;
      }
      const qos = this.deliveryQos(entry.qos, message.qos);
      const subIds = entry.subscriptionIdentifier === undefined ? undefined : [entry.subscriptionIdentifier];
      if (entry.session.deliver(message, qos, entry.retainAsPublished && message.retain, subIds, wire)) this.#congested ??= entry.session;
      delivered++;
    }
    return delivered;
  }
}

/** Puts the bytes the message arrived in into the cache, for subscribers of the same wire shape. */
function seed(wire: WireCache, message: Message): void {
  const bytes = message.wire;
  const version = message.wireVersion;
  if (bytes === undefined || version === undefined) return;
  const offset = message.qos === 0 ? 0 : publishPacketIdOffset(bytes, message.topic);
  wire.set(WireCache.key(version, message.qos, message.retain), bytes, offset);
  // 3.1 and 3.1.1 encode PUBLISH identically.
  if (version === 4) wire.set(WireCache.key(3, message.qos, message.retain), bytes, offset);
  else if (version === 3) wire.set(WireCache.key(4, message.qos, message.retain), bytes, offset);
}

function isConnected(member: { value: SubscriptionEntry }): boolean {
  return member.value.session.connection !== undefined;
}
