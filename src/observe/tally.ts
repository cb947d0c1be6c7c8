// What happens now and then, counted from the broker's events (broker/events.ts), for $SYS,
// Prometheus and the admin API: connection refusals by reason, limit refusals by limit, failed
// logins, TLS handshake failures and refused client certificates, expired sessions. Per-message
// numbers are not here: they are counters the engine keeps (broker.stats()). One tally per broker;
// every reader shares it (tallyOf), so the events are subscribed to once however many read them.
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import type { Broker } from '../broker/broker.js';
import { BROKER_EVENTS, type BrokerEvent, type BrokerEventPayload } from '../broker/events.js';
import { describeReason } from '../codec/reason-codes.js';

/** A count per key, keys in the order first seen. */
export type Counts = Record<string, number>;

/** Totals since the tally started. */
export interface TallySnapshot {
  /**
   * Refused CONNECTs by the reason the client was given: the v5 reason code's name in snake case
   * ("bad_user_name_or_password", "quota_exceeded", ...), "closed_without_connack" when none was sent.
   */
  readonly connectRefused: Readonly<Counts>;
  /** Clients refused by a configured limit, by the limit's option name ("max_connections", ...). */
  readonly limitRefused: Readonly<Counts>;
  readonly authFailures: number;
  /** TLS handshakes that failed, by reason ("timeout", or Node's message), refused client certificates included. */
  readonly tlsHandshakeFailures: Readonly<Counts>;
  readonly sessionsExpired: number;
}

/** The snake_case name of a CONNACK reason code, for metric labels and $SYS topics. */
export function refusalName(code: number | undefined): string {
  if (code === undefined) return 'closed_without_connack';
  return describeReason(code, { packet: 'connack' })
    .name.toLowerCase()
    .replace(/[^a-z0-9]+/g, '_')
    .replace(/^_|_$/g, '');
}

function bump(counts: Counts, key: string): void {
  counts[key] = (counts[key] ?? 0) + 1;
}

export class EventTally {
  readonly broker: Broker;
  readonly #connectRefused: Counts = {};
  readonly #limitRefused: Counts = {};
  readonly #tlsFailures: Counts = {};
  #authFailures = 0;
  #sessionsExpired = 0;
  readonly #handlers: Array<[BrokerEvent, (message: unknown) => void]> = [];

  constructor(broker: Broker) {
    this.broker = broker;
    this.#on('connectRefused', (e) => bump(this.#connectRefused, refusalName(e.reasonCode)));
    this.#on('limitRefused', (e) => bump(this.#limitRefused, e.limit));
    this.#on('authFailed', () => this.#authFailures++);
    this.#on('tlsHandshakeFailed', (e) => bump(this.#tlsFailures, e.reason === 'timeout' ? 'timeout' : 'error'));
    this.#on('tlsClientRefused', () => bump(this.#tlsFailures, 'client_certificate_refused'));
    this.#on('sessionExpired', () => this.#sessionsExpired++);
  }

  #on<E extends BrokerEvent>(event: E, count: (payload: BrokerEventPayload<E>) => void): void {
    const handler = (message: unknown): void => {
      const payload = message as BrokerEventPayload<E>;
      if (payload.broker === this.broker) count(payload);
    };
    subscribe(BROKER_EVENTS[event], handler);
    this.#handlers.push([event, handler]);
  }

  snapshot(): TallySnapshot {
    return {
      connectRefused: { ...this.#connectRefused },
      limitRefused: { ...this.#limitRefused },
      authFailures: this.#authFailures,
      tlsHandshakeFailures: { ...this.#tlsFailures },
      sessionsExpired: this.#sessionsExpired,
    };
  }

  /** Stops counting (the broker closed). */
  stop(): void {
    for (const [event, handler] of this.#handlers) unsubscribe(BROKER_EVENTS[event], handler);
    this.#handlers.length = 0;
    TALLIES.delete(this.broker);
  }
}

const TALLIES = new WeakMap<Broker, EventTally>();

/** The broker's tally, started on first use: start it before the broker serves clients, or early events are missed. */
export function tallyOf(broker: Broker): EventTally {
  let tally = TALLIES.get(broker);
  if (tally === undefined) {
    tally = new EventTally(broker);
    TALLIES.set(broker, tally);
  }
  return tally;
}
