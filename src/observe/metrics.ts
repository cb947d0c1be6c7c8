// /metrics: the broker's numbers in Prometheus's text format, with prom-client on a registry of
// this server's own (never the global one, so several brokers in one process do not mix). Nothing
// is counted per message here: every gauge and counter reads broker.stats() and the event tally
// (observe/tally.ts) in its collect() callback, at scrape time. The one thing observed as it
// happens is each TLS handshake's duration (moat:tls:handshake-completed), once per connection.
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Broker, BrokerStats } from '../broker/broker.js';
import { DROP_REASONS } from '../broker/drops.js';
import { BROKER_EVENTS, type BrokerEventPayload } from '../broker/events.js';
import type { EventTally, TallySnapshot } from './tally.js';
import { queueTotals, type QueueTotals } from '../admin/views.js';

interface Scrape {
  readonly stats: BrokerStats;
  readonly tally: TallySnapshot;
  readonly queues: QueueTotals;
}

export interface MetricsOptions {
  readonly broker: Broker;
  readonly tally: EventTally;
  readonly version: string;
  /** The configured connection limit; -1 = none. */
  readonly connectionLimit: number;
}

/** TLS handshake durations, seconds: ESP8266-class devices take 2-6 s, a LAN client a few ms. */
const HANDSHAKE_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

export class BrokerMetrics {
  readonly registry = new Registry();
  readonly #broker: Broker;
  readonly #handshakes: Histogram;
  readonly #onHandshake = (message: unknown): void => {
    const event = message as BrokerEventPayload<'tlsHandshakeCompleted'>;
    if (event.broker === this.#broker) this.#handshakes.observe(event.durationMs / 1000);
  };
  /** One snapshot per scrape, shared by every collect() of that scrape. */
  #scrape: Scrape | undefined;

  constructor(options: MetricsOptions) {
    const { broker, tally } = options;
    this.#broker = broker;
    const registers = [this.registry];
    // nodejs_eventloop_lag_*, nodejs_heap_*, process_* (the default names dashboards expect).
    collectDefaultMetrics({ register: this.registry });

    const snapshot = (): Scrape => (this.#scrape ??= { stats: broker.stats(), tally: tally.snapshot(), queues: queueTotals(broker) });
    const gauge = (name: string, help: string, read: (s: BrokerStats) => number): void => {
      new Gauge({ name, help, registers, collect() { this.set(read(snapshot().stats)); } });
    };
    const counter = (name: string, help: string, read: (s: BrokerStats) => number): void => {
      new Counter({ name, help, registers, collect() { this.reset(); this.inc(read(snapshot().stats)); } });
    };
    /** A counter with one label, from a count per key; `known` keys are shown at 0 before they happen. */
    const labelled = (name: string, help: string, label: string, read: () => Readonly<Record<string, number>>, known: readonly string[] = []): void => {
      new Counter({
        name,
        help,
        labelNames: [label],
        registers,
        collect() {
          this.reset();
          const counts = read();
          for (const key of known) this.labels(key).inc(counts[key] ?? 0);
          for (const [key, value] of Object.entries(counts)) if (!known.includes(key)) this.labels(key).inc(value);
        },
      });
    };

    new Gauge({ name: 'moat_info', help: 'moat version (always 1).', labelNames: ['version'], registers, collect() { this.set({ version: options.version }, 1); } });
    gauge('moat_connections', 'Clients connected now.', (s) => s.connected);
    new Gauge({ name: 'moat_connections_limit', help: 'Configured connection limit (max_connections); -1 = none.', registers, collect() { this.set(options.connectionLimit); } });
    gauge('moat_connections_peak', 'Most clients connected at once since start.', (s) => s.peakConnections);
    gauge('moat_sessions', 'Sessions, connected or not.', (s) => s.sessions);
    gauge('moat_subscriptions', 'Subscriptions of all sessions.', (s) => s.subscriptions);
    gauge('moat_retained_messages', 'Retained messages stored.', (s) => s.retained);
    counter('moat_sockets_opened_total', 'Client streams accepted.', (s) => s.socketsOpened);
    counter('moat_connects_received_total', 'CONNECT packets received.', (s) => s.connectsReceived);
    labelled('moat_messages_received_total', 'PUBLISH packets received from clients, by QoS.', 'qos', () => byQos(snapshot().stats.messagesReceivedByQos), ['0', '1', '2']);
    labelled('moat_messages_sent_total', 'PUBLISH packets sent to clients, by QoS.', 'qos', () => byQos(snapshot().stats.messagesSentByQos), ['0', '1', '2']);
    counter('moat_packets_received_total', 'MQTT control packets received.', (s) => s.packetsReceived);
    counter('moat_packets_sent_total', 'MQTT control packets sent.', (s) => s.packetsSent);
    counter('moat_received_bytes_total', 'MQTT bytes read from clients (without TLS and WebSocket framing).', (s) => s.bytesReceived);
    counter('moat_sent_bytes_total', 'MQTT bytes written to clients (without TLS and WebSocket framing).', (s) => s.bytesSent);
    labelled('moat_messages_dropped_total', 'Messages accepted and then not delivered, by reason.', 'reason', () => snapshot().stats.droppedByReason, Object.keys(DROP_REASONS));
    labelled('moat_connections_refused_total', 'CONNECTs refused, by the reason the client was told (closed_without_connack: none).', 'reason', () => snapshot().tally.connectRefused);
    labelled('moat_limit_refusals_total', 'Clients refused by a configured limit, by the limit.', 'limit', () => snapshot().tally.limitRefused, ['max_connections']);
    new Counter({ name: 'moat_auth_failures_total', help: 'Logins refused for their credentials or a ban.', registers, collect() { this.reset(); this.inc(snapshot().tally.authFailures); } });
    labelled('moat_tls_handshake_failures_total', 'TLS handshakes that failed, by reason (timeout, error, client_certificate_refused).', 'reason', () => snapshot().tally.tlsHandshakeFailures, ['timeout', 'error', 'client_certificate_refused']);
    new Counter({ name: 'moat_sessions_expired_total', help: 'Offline sessions removed when their expiry elapsed.', registers, collect() { this.reset(); this.inc(snapshot().tally.sessionsExpired); } });
    // Queue depths: summed over sessions at scrape time (no per-message work), with the deepest
    // single queue, which is what finds the one stuck consumer among thousands.
    const queue = (name: string, help: string, read: (q: QueueTotals) => number): void => {
      new Gauge({ name, help, registers, collect() { this.set(read(snapshot().queues)); } });
    };
    queue('moat_queued_messages', 'Messages waiting in session queues (offline sessions and full in-flight windows).', (q) => q.queued);
    queue('moat_queued_bytes', 'Payload bytes waiting in session queues.', (q) => q.queuedBytes);
    queue('moat_queued_messages_max', 'Messages waiting in the deepest single session queue.', (q) => q.deepest);
    queue('moat_inflight_messages', 'Outgoing QoS 1/2 messages sent and not yet acknowledged.', (q) => q.inflight);
    this.#handshakes = new Histogram({ name: 'moat_tls_handshake_duration_seconds', help: 'TLS handshake duration, from the TCP accept to the finished handshake.', buckets: HANDSHAKE_BUCKETS, registers });
    subscribe(BROKER_EVENTS.tlsHandshakeCompleted, this.#onHandshake);
  }

  /** The text a scrape gets. */
  async render(): Promise<string> {
    this.#scrape = undefined;
    try {
      return await this.registry.metrics();
    } finally {
      this.#scrape = undefined;
    }
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  close(): void {
    unsubscribe(BROKER_EVENTS.tlsHandshakeCompleted, this.#onHandshake);
    this.registry.clear();
  }
}

function byQos(counts: readonly [number, number, number]): Record<string, number> {
  return { '0': counts[0], '1': counts[1], '2': counts[2] };
}
