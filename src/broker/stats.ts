// The engine's numbers: the counters it bumps per message (plain increments, no events) and the
// snapshot $SYS, /metrics, `moat top` and the admin API read, with queue and in-flight totals
// summed over the sessions per call rather than kept per delivery.
import type { Broker } from './broker.js';
import type { DropCounts } from './drops.js';
import type { RefusalCounts } from './refusals.js';

/** The per-message counters the engine bumps as it works: plain numbers, no events. */
export interface BrokerCounters {
  /** PUBLISH packets received from clients, in all and by QoS. */
  messagesReceived: number;
  readonly messagesReceivedByQos: [number, number, number];
  /** PUBLISH packets sent to clients, in all and by QoS. */
  messagesSent: number;
  readonly messagesSentByQos: [number, number, number];
  /** Payload bytes of those PUBLISH packets (Mosquitto's $SYS/broker/publish/bytes/...). */
  publishBytesReceived: number;
  publishBytesSent: number;
  /** Control packets of every type, in each direction (Mosquitto's $SYS/broker/messages/...). */
  packetsReceived: number;
  packetsSent: number;
  /** MQTT bytes read from and handed to client streams (WebSocket framing and TLS not included). */
  bytesReceived: number;
  bytesSent: number;
  /** Streams the broker has served (accepted sockets; $SYS/broker/load/sockets). */
  socketsOpened: number;
  /** CONNECT packets received ($SYS/broker/load/connections). */
  connectsReceived: number;
  /** Most clients connected at once since start ($SYS/broker/clients/maximum is this peak, not a limit). */
  peakConnections: number;
}

/** A snapshot of the broker's numbers, for $SYS, metrics and the dashboard. */
export interface BrokerStats extends Readonly<BrokerCounters> {
  readonly uptimeSeconds: number;
  readonly connected: number;
  /** Sessions, connected or not. */
  readonly sessions: number;
  /** Subscriptions of every session, connected or not; shared ones included (and counted in sharedSubscriptions too). */
  readonly subscriptions: number;
  readonly sharedSubscriptions: number;
  readonly retained: number;
  readonly retainedBytes: number;
  /** Messages waiting in sessions' queues, and QoS 1/2 messages sent and not yet acknowledged, with their payload bytes. */
  readonly queued: number;
  readonly queuedBytes: number;
  /** Messages in the deepest single session queue: the one stuck consumer among thousands. */
  readonly deepestQueue: number;
  readonly inflight: number;
  readonly inflightBytes: number;
  /** Messages accepted and then not delivered, in all and by reason. */
  readonly dropped: number;
  readonly droppedByReason: Readonly<DropCounts>;
  /** Clients, connections and packets refused by a configured limit, in all and by reason (refusals.ts). */
  readonly refused: number;
  readonly refusedByReason: Readonly<RefusalCounts>;
}

export function brokerStats(broker: Broker): BrokerStats {
  // Summed per call (once per sys_interval or scrape), so delivering costs no extra bookkeeping.
  let queued = 0;
  let queuedBytes = 0;
  let deepestQueue = 0;
  let inflight = 0;
  let inflightBytes = 0;
  for (const session of broker.sessions()) {
    const length = session.queueLength;
    queued += length;
    if (length > deepestQueue) deepestQueue = length;
    queuedBytes += session.queuedBytes;
    inflight += session.inflight.size;
    inflightBytes += session.inflightBytes;
  }
  return {
    ...broker.counters,
    messagesReceivedByQos: [...broker.counters.messagesReceivedByQos],
    messagesSentByQos: [...broker.counters.messagesSentByQos],
    uptimeSeconds: Math.floor((Date.now() - broker.startedAt) / 1000),
    connected: broker.connectedCount,
    sessions: broker.sessionCount,
    subscriptions: broker.router.subscriptionCount,
    sharedSubscriptions: broker.router.sharedSubscriptionCount,
    retained: broker.retained.count,
    retainedBytes: broker.retained.bytes,
    queued,
    queuedBytes,
    deepestQueue,
    inflight,
    inflightBytes,
    dropped: broker.drops.total,
    droppedByReason: { ...broker.drops.byReason },
    refused: broker.refusals.total,
    refusedByReason: { ...broker.refusals.byReason },
  };
}
