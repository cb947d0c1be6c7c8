// $SYS topics with Mosquitto 2.0's names, formats and update rule (src/sys_tree.c): every
// sys_interval seconds the uptime is published, and every other value only when it changed since
// the last update (loads: when they moved by 0.01 or more), all retained. Per-message numbers are
// the engine's counters (broker.stats()); what happens now and then (refusals, failed logins, TLS
// failures, expired sessions) comes from the broker's events through the tally (tally.ts).
// `$SYS/broker/clients/maximum` is the PEAK of connected clients (Mosquitto's man page); the
// configured limit is moat's `$SYS/broker/clients/limit`, so capacity alerts divide by the right
// number. In a cluster every value is the node's own (they do not cross the bus), and
// $SYS/broker/cluster/node and cluster/nodes say which node and how many. Every topic, and where
// moat differs from Mosquitto on purpose: docs/MONITORING.md.
import type { Broker, BrokerStats } from '../broker/broker.js';
import { DROP_REASONS, type DropReason } from '../broker/drops.js';
import { REFUSAL_REASONS, type RefusalReason } from '../broker/refusals.js';
import { CapacityWatch, capacityPercent } from './capacity.js';
import { tallyOf, type EventTally, type TallySnapshot } from './tally.js';

const LOAD_WINDOWS = [
  ['1min', 60],
  ['5min', 300],
  ['15min', 900],
] as const;

/**
 * Mosquitto's $SYS/broker/load/... values: the per-minute rate of a counter, smoothed exponentially
 * over 1, 5 and 15 minutes (sys_tree.c calc_load), updated once per sys_interval.
 */
export class LoadAverage {
  readonly values = [0, 0, 0];
  /** Per window: whether the last update moved it by 0.01 or more (Mosquitto publishes only then). */
  readonly changed = [true, true, true];
  #lastCount: number | undefined;
  #lastAt = 0;

  /** Feeds the counter's current value at `nowSeconds`; the first call only sets the baseline (all 0.00, published). */
  update(count: number, nowSeconds: number): void {
    if (this.#lastCount === undefined) {
      this.changed.fill(true);
    } else if (nowSeconds > this.#lastAt) {
      const elapsed = nowSeconds - this.#lastAt;
      const perMinute = ((count - this.#lastCount) * 60) / elapsed;
      LOAD_WINDOWS.forEach(([, window], i) => {
        const current = this.values[i] as number;
        const next = perMinute + Math.exp(-elapsed / window) * (current - perMinute);
        this.changed[i] = Math.abs(next - current) >= 0.01;
        this.values[i] = next;
      });
    } else {
      this.changed.fill(false);
    }
    this.#lastCount = count;
    this.#lastAt = nowSeconds;
  }

  /** Topic suffix → value as Mosquitto prints it (two decimals). */
  entries(): Array<[string, string]> {
    return LOAD_WINDOWS.map(([name], i) => [name, (this.values[i] as number).toFixed(2)]);
  }
}

/** The load series, in Mosquitto's order: topic under $SYS/broker/load/ and the counter it follows. */
const LOADS: ReadonlyArray<readonly [string, (s: BrokerStats) => number]> = [
  ['messages/received', (s) => s.packetsReceived],
  ['messages/sent', (s) => s.packetsSent],
  ['publish/dropped', (s) => s.dropped],
  ['publish/received', (s) => s.messagesReceived],
  ['publish/sent', (s) => s.messagesSent],
  ['bytes/received', (s) => s.bytesReceived],
  ['bytes/sent', (s) => s.bytesSent],
  ['sockets', (s) => s.socketsOpened],
  ['connections', (s) => s.connectsReceived],
];

/** TLS handshake failure reasons the tally counts, published at 0 before the first one. */
const TLS_FAILURE_REASONS = ['timeout', 'error', 'client_certificate_refused'] as const;

export interface SysPublisherOptions {
  /** Seconds between updates; 0 disables $SYS (the capacity alert is still watched and logged). */
  intervalSeconds: number;
  version: string;
  /** The configured connection limit (-1 = unlimited): clients/limit, capacity/percent and the alert divide by it. */
  connectionLimit: number;
  /** capacity_alert_threshold, percent (default 80). */
  capacityAlertThreshold?: number;
  /** Insecure settings the broker started with anyway; published retained at $SYS/broker/security/warnings. */
  securityWarnings?: readonly string[];
  /** The bus of a cluster node: $SYS/broker/cluster/node (its id) and cluster/nodes (live nodes) are published. */
  cluster?: { readonly nodeId: string; readonly liveNodes: number };
}

/** The heap as $SYS/broker/heap/current reports it: V8's heap in use plus Buffer memory outside it. */
export function heapInUse(): number {
  const usage = process.memoryUsage();
  return usage.heapUsed + usage.external;
}

export class SysPublisher {
  readonly #broker: Broker;
  readonly #options: SysPublisherOptions;
  readonly #tally: EventTally;
  readonly #capacity: CapacityWatch;
  #timer: NodeJS.Timeout | undefined;
  readonly #loads = LOADS.map(() => new LoadAverage());
  /** The last value published per topic: unchanged values are not published again. */
  readonly #published = new Map<string, string>();
  #heapMaximum = 0;
  /** Totals at the previous update, for the per-interval topics. */
  #previous: { authFailures: number; tlsFailures: number } | undefined;
  #started = false;

  constructor(broker: Broker, options: SysPublisherOptions) {
    this.#broker = broker;
    this.#options = options;
    this.#tally = tallyOf(broker);
    this.#capacity = new CapacityWatch(broker, options.connectionLimit, options.capacityAlertThreshold ?? 80, (text) => this.#alertChanged(text));
  }

  start(): void {
    this.#capacity.check();
    if (this.#options.intervalSeconds <= 0) return;
    this.#started = true;
    this.#broker.publishSimple('$SYS/broker/version', `moat version ${this.#options.version}`, 0, true);
    const warnings = this.#options.securityWarnings ?? [];
    if (warnings.length > 0) this.#broker.publishSimple('$SYS/broker/security/warnings', warnings.join('\n'), 0, true);
    const alert = this.#capacity.alert;
    if (alert !== undefined) this.#broker.publishSimple('$SYS/broker/capacity/alert', alert, 0, true);
    this.publishNow();
    this.#timer = setInterval(() => this.publishNow(), this.#options.intervalSeconds * 1000);
    this.#timer.unref();
  }

  /** Stops publishing and listening; a stopped publisher is not started again. */
  stop(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
    this.#started = false;
    this.#capacity.stop();
  }

  /** The capacity alert's text while it is set. */
  get capacityAlert(): string | undefined {
    return this.#capacity.alert;
  }

  /** Set: the text, retained. Cleared: an empty retained message, which removes it (a late subscriber sees no alert). */
  #alertChanged(text: string | undefined): void {
    if (this.#started) this.#broker.publishSimple('$SYS/broker/capacity/alert', text ?? '', 0, true);
  }

  /**
   * Every value an update would publish now, in Mosquitto's order then moat's own, whether changed
   * or not; for tests and the dashboard. Does not advance the loads.
   */
  snapshot(): Record<string, string> {
    return Object.fromEntries(this.#values(this.#broker.stats(), this.#tally.snapshot(), heapInUse()));
  }

  #values(stats: BrokerStats, tally: TallySnapshot, heap: number): Array<[string, string]> {
    const values: Array<[string, string]> = [];
    const put = (topic: string, value: number | string): void => void values.push([`$SYS/broker/${topic}`, String(value)]);
    put('uptime', `${stats.uptimeSeconds} seconds`);
    const disconnected = stats.sessions - stats.connected;
    put('clients/total', stats.sessions);
    put('clients/maximum', stats.peakConnections);
    put('clients/inactive', disconnected);
    put('clients/disconnected', disconnected);
    put('clients/active', stats.connected);
    put('clients/connected', stats.connected);
    put('clients/expired', tally.sessionsExpired);
    for (const [window, index] of LOAD_WINDOWS.map(([name], i) => [name, i] as const)) {
      LOADS.forEach(([topic], series) => put(`load/${topic}/${window}`, (this.#loads[series] as LoadAverage).entries()[index]?.[1] ?? '0.00'));
    }
    const stored = stats.retained + stats.queued + stats.inflight;
    put('messages/stored', stored);
    put('store/messages/count', stored);
    put('store/messages/bytes', stats.retainedBytes + stats.queuedBytes + stats.inflightBytes);
    put('subscriptions/count', stats.subscriptions - stats.sharedSubscriptions);
    put('shared_subscriptions/count', stats.sharedSubscriptions);
    put('retained messages/count', stats.retained);
    put('heap/current', heap);
    put('heap/maximum', Math.max(this.#heapMaximum, heap));
    put('messages/received', stats.packetsReceived);
    put('messages/sent', stats.packetsSent);
    put('publish/messages/dropped', stats.dropped);
    put('publish/messages/received', stats.messagesReceived);
    put('publish/messages/sent', stats.messagesSent);
    put('bytes/received', stats.bytesReceived);
    put('bytes/sent', stats.bytesSent);
    put('publish/bytes/received', stats.publishBytesReceived);
    put('publish/bytes/sent', stats.publishBytesSent);

    // moat's own. messages/inflight is in mosquitto(8) but Mosquitto 2.0.11 does not publish it.
    put('messages/inflight', stats.inflight);
    const limit = this.#options.connectionLimit;
    if (limit > 0) {
      put('clients/limit', limit);
      put('capacity/percent', capacityPercent(stats.connected, limit));
    }
    for (const [reason, count] of Object.entries(tally.connectRefused)) put(`clients/refused/${reason}`, count);
    // Refusals by a configured limit: the engine's ledger (broker/refusals.ts), every limit shown from 0.
    put('clients/refused/limit', stats.refused);
    for (const reason of Object.keys(REFUSAL_REASONS) as RefusalReason[]) put(`clients/refused/limit/${reason}`, stats.refusedByReason[reason]);
    for (const reason of Object.keys(DROP_REASONS) as DropReason[]) put(`publish/messages/dropped/${reason}`, stats.droppedByReason[reason]);
    const tlsFailures = sum(tally.tlsHandshakeFailures);
    const previous = this.#previous ?? { authFailures: 0, tlsFailures: 0 };
    put('auth/failures/total', tally.authFailures);
    put('auth/failures/interval', tally.authFailures - previous.authFailures);
    put('tls/handshake_failures/total', tlsFailures);
    put('tls/handshake_failures/interval', tlsFailures - previous.tlsFailures);
    for (const reason of new Set([...TLS_FAILURE_REASONS, ...Object.keys(tally.tlsHandshakeFailures)])) put(`tls/handshake_failures/${reason}`, tally.tlsHandshakeFailures[reason] ?? 0);
    // Every other value here is this node's own: $SYS is per node, never sent across the bus.
    const cluster = this.#options.cluster;
    if (cluster !== undefined) {
      put('cluster/node', cluster.nodeId);
      put('cluster/nodes', cluster.liveNodes);
    }
    return values;
  }

  /** One update: the uptime always, every other value when it changed (loads: by 0.01 or more). */
  publishNow(): void {
    const stats = this.#broker.stats();
    const tally = this.#tally.snapshot();
    const heap = heapInUse();
    const now = Date.now() / 1000;
    // Mosquitto publishes a load when it moved by 0.01 or more, whatever its printed value did.
    const loadMoved = new Map<string, boolean>();
    LOADS.forEach(([topic, count], series) => {
      const load = this.#loads[series] as LoadAverage;
      load.update(count(stats), now);
      LOAD_WINDOWS.forEach(([window], i) => loadMoved.set(`$SYS/broker/load/${topic}/${window}`, load.changed[i] as boolean));
    });
    const values = this.#values(stats, tally, heap);
    this.#heapMaximum = Math.max(this.#heapMaximum, heap);
    this.#previous = { authFailures: tally.authFailures, tlsFailures: sum(tally.tlsHandshakeFailures) };
    for (const [topic, value] of values) {
      const changed = loadMoved.get(topic) ?? this.#published.get(topic) !== value;
      if (!changed && topic !== '$SYS/broker/uptime') continue;
      this.#published.set(topic, value);
      this.#broker.publishSimple(topic, value, 0, true);
    }
  }
}

function sum(counts: Readonly<Record<string, number>>): number {
  let total = 0;
  for (const count of Object.values(counts)) total += count;
  return total;
}
