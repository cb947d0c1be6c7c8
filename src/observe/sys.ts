// $SYS topics, Mosquitto's names, republished (retained) every sys_interval seconds. Counts the
// engine keeps per message come from broker.stats(); what happens now and then (a session expiring)
// is counted here from the broker's events (broker/events.ts).
// `$SYS/broker/clients/maximum` is the PEAK number of connected clients, as in Mosquitto; the
// configured limit is `$SYS/broker/clients/limit` (moat's own topic) so capacity alerts divide by the right number.
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import type { Broker } from '../broker/broker.js';
import { DROP_REASONS, type DropReason } from '../broker/drops.js';
import { BROKER_EVENTS, type BrokerEventPayload } from '../broker/events.js';
import { REFUSAL_REASONS, type RefusalReason } from '../broker/refusals.js';

/**
 * Mosquitto's $SYS/broker/load/... values: the per-minute rate of a counter, smoothed exponentially
 * over 1, 5 and 15 minutes (sys_tree.c calc_load), updated once per sys_interval.
 */
export class LoadAverage {
  readonly #windows = [60, 300, 900] as const;
  readonly values = [0, 0, 0];
  #lastCount: number | undefined;
  #lastAt = 0;

  /** Feeds the counter's current value at `nowSeconds`; the first call only sets the baseline. */
  update(count: number, nowSeconds: number): void {
    if (this.#lastCount !== undefined && nowSeconds > this.#lastAt) {
      const elapsed = nowSeconds - this.#lastAt;
      const perMinute = ((count - this.#lastCount) * 60) / elapsed;
      this.#windows.forEach((window, i) => {
        const exponent = Math.exp(-elapsed / window);
        this.values[i] = perMinute + exponent * ((this.values[i] as number) - perMinute);
      });
    }
    this.#lastCount = count;
    this.#lastAt = nowSeconds;
  }

  /** Topic suffix → value as Mosquitto prints it (two decimals). */
  entries(): Array<[string, string]> {
    return [
      ['1min', (this.values[0] as number).toFixed(2)],
      ['5min', (this.values[1] as number).toFixed(2)],
      ['15min', (this.values[2] as number).toFixed(2)],
    ];
  }
}

export interface SysPublisherOptions {
  /** Seconds between updates; 0 disables $SYS. */
  intervalSeconds: number;
  version: string;
  /** Configured max_connections (-1 = unlimited). */
  connectionLimit: number;
  /** Insecure settings the broker started with anyway; published retained at $SYS/broker/security/warnings. */
  securityWarnings?: readonly string[];
}

export class SysPublisher {
  readonly #broker: Broker;
  readonly #options: SysPublisherOptions;
  #timer: NodeJS.Timeout | undefined;
  readonly #droppedLoad = new LoadAverage();
  /** Sessions removed because their expiry elapsed, since start ($SYS/broker/clients/expired). */
  #expired = 0;
  readonly #onExpired = (message: unknown): void => {
    if ((message as BrokerEventPayload<'sessionExpired'>).broker === this.#broker) this.#expired++;
  };

  constructor(broker: Broker, options: SysPublisherOptions) {
    this.#broker = broker;
    this.#options = options;
    subscribe(BROKER_EVENTS.sessionExpired, this.#onExpired);
  }

  start(): void {
    if (this.#options.intervalSeconds <= 0) return;
    this.#broker.publishSimple('$SYS/broker/version', `moat ${this.#options.version}`, 0, true);
    const warnings = this.#options.securityWarnings ?? [];
    if (warnings.length > 0) this.#broker.publishSimple('$SYS/broker/security/warnings', warnings.join('\n'), 0, true);
    this.publishNow();
    this.#timer = setInterval(() => this.publishNow(), this.#options.intervalSeconds * 1000);
    this.#timer.unref();
  }

  /** Stops publishing and listening; a stopped publisher is not started again. */
  stop(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
    unsubscribe(BROKER_EVENTS.sessionExpired, this.#onExpired);
  }

  /** The current values; exposed for tests and the dashboard. */
  snapshot(): Record<string, string> {
    const stats = this.#broker.stats();
    const connected = stats.connected;
    const total = stats.sessions;
    const values: Record<string, string> = {
      '$SYS/broker/uptime': `${stats.uptimeSeconds} seconds`,
      '$SYS/broker/clients/connected': String(connected),
      '$SYS/broker/clients/active': String(connected),
      '$SYS/broker/clients/disconnected': String(total - connected),
      '$SYS/broker/clients/inactive': String(total - connected),
      '$SYS/broker/clients/total': String(total),
      '$SYS/broker/clients/expired': String(this.#expired),
      '$SYS/broker/clients/maximum': String(stats.peakConnections),
      '$SYS/broker/messages/received': String(stats.messagesReceived),
      '$SYS/broker/messages/sent': String(stats.messagesSent),
      '$SYS/broker/publish/messages/received': String(stats.messagesReceived),
      '$SYS/broker/publish/messages/sent': String(stats.messagesSent),
      '$SYS/broker/publish/messages/dropped': String(stats.dropped),
      '$SYS/broker/retained messages/count': String(stats.retained),
      '$SYS/broker/subscriptions/count': String(stats.subscriptions),
    };
    if (this.#options.connectionLimit >= 0) values['$SYS/broker/clients/limit'] = String(this.#options.connectionLimit);
    // moat's own: the drops by reason (drops.ts), so an alert can say why.
    for (const reason of Object.keys(DROP_REASONS) as DropReason[]) values[`$SYS/broker/publish/messages/dropped/${reason}`] = String(stats.droppedByReason[reason]);
    for (const [window, value] of this.#droppedLoad.entries()) values[`$SYS/broker/load/publish/dropped/${window}`] = value;
    // moat's own: refusals by the configured limits, in all and by reason (broker/refusals.ts).
    values['$SYS/broker/refused'] = String(stats.refused);
    for (const reason of Object.keys(REFUSAL_REASONS) as RefusalReason[]) values[`$SYS/broker/refused/${reason}`] = String(stats.refusedByReason[reason]);
    return values;
  }

  publishNow(): void {
    this.#droppedLoad.update(this.#broker.drops.total, Date.now() / 1000);
    for (const [topic, value] of Object.entries(this.snapshot())) this.#broker.publishSimple(topic, value, 0, true);
  }
}
