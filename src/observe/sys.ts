// $SYS topics, Mosquitto's names, republished (retained) every sys_interval seconds.
// `$SYS/broker/clients/maximum` is the PEAK number of connected clients, as in Mosquitto; the
// configured limit is `$SYS/broker/clients/limit` (moat's own topic) so capacity alerts divide by the right number.
import type { Broker } from '../broker/broker.js';

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

  constructor(broker: Broker, options: SysPublisherOptions) {
    this.#broker = broker;
    this.#options = options;
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

  stop(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** The current values; exposed for tests and the dashboard. */
  snapshot(): Record<string, string> {
    const broker = this.#broker;
    const connected = broker.connectedCount;
    const total = broker.sessionCount;
    const values: Record<string, string> = {
      '$SYS/broker/uptime': `${Math.floor((Date.now() - broker.startedAt) / 1000)} seconds`,
      '$SYS/broker/clients/connected': String(connected),
      '$SYS/broker/clients/active': String(connected),
      '$SYS/broker/clients/disconnected': String(total - connected),
      '$SYS/broker/clients/inactive': String(total - connected),
      '$SYS/broker/clients/total': String(total),
      '$SYS/broker/clients/maximum': String(broker.stats.peakConnections),
      '$SYS/broker/messages/received': String(broker.stats.messagesReceived),
      '$SYS/broker/messages/sent': String(broker.stats.messagesSent),
      '$SYS/broker/publish/messages/received': String(broker.stats.messagesReceived),
      '$SYS/broker/publish/messages/sent': String(broker.stats.messagesSent),
      '$SYS/broker/retained messages/count': String(broker.router.retainedCount),
      '$SYS/broker/subscriptions/count': String(broker.router.subscriptionCount),
    };
    if (this.#options.connectionLimit >= 0) values['$SYS/broker/clients/limit'] = String(this.#options.connectionLimit);
    return values;
  }

  publishNow(): void {
    for (const [topic, value] of Object.entries(this.snapshot())) this.#broker.publishSimple(topic, value, 0, true);
  }
}
