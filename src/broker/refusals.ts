// Every refusal by a configured limit is counted here, by reason, and becomes one moat:limit:refused
// event (never rate-limited: $SYS and metrics count them from it). The log is rate-limited per
// reason, as drops.ts does per client: the first refusal of a reason after a quiet spell is logged
// (`logged` in its event), the ones after it within the interval are counted and go out as one
// moat:limit:summary per interval, with counts by reason. A refusal is what the client is told
// (a CONNACK, PUBACK/PUBREC or SUBACK code, a DISCONNECT) or, for a connection past the refusals
// that may wait, an immediate close; a message dropped without telling the client is a drop
// (drops.ts), not a refusal.
import type { BrokerEventFields } from './events.js';

/** Why a client was refused, with the sentence a log line gives for it. */
export const REFUSAL_REASONS = {
  max_connections: "the listener's max_connections is reached",
  global_max_connections: "the broker's global_max_connections is reached",
  max_connection_rate: "new connections came faster than the broker's max_connection_rate",
  max_connection_rate_per_address: 'new connections from one address came faster than max_connection_rate_per_address',
  memory_limit: "the broker's memory is over memory_limit (PUBLISH refused with 0x97)",
  max_subscriptions_per_client: 'the client holds max_subscriptions_per_client subscriptions (SUBACK 0x97 / 0x80)',
  max_topic_length: 'a topic name or filter is longer than max_topic_length',
  max_topic_levels: 'a topic name or filter has more levels than max_topic_levels',
} as const;

export type RefusalReason = keyof typeof REFUSAL_REASONS;

/** The refusals that happen when a connection arrives (answered at CONNECT). */
export type ConnectionLimit = 'max_connections' | 'global_max_connections' | 'max_connection_rate' | 'max_connection_rate_per_address';

export type RefusalCounts = Record<RefusalReason, number>;

export function emptyRefusalCounts(): RefusalCounts {
  return {
    max_connections: 0,
    global_max_connections: 0,
    max_connection_rate: 0,
    max_connection_rate_per_address: 0,
    memory_limit: 0,
    max_subscriptions_per_client: 0,
    max_topic_length: 0,
    max_topic_levels: 0,
  };
}

type Refusal = Omit<BrokerEventFields['limitRefused'], 'logged'>;

/** Where the ledger's events go: the broker emits them. */
export interface RefusalReports {
  refused(fields: BrokerEventFields['limitRefused']): void;
  summary(fields: BrokerEventFields['limitSummary']): void;
}

export class RefusalLedger {
  /** Every refusal since the broker started. */
  total = 0;
  readonly byReason: RefusalCounts = emptyRefusalCounts();
  readonly #reports: RefusalReports;
  readonly #intervalMs: number;
  /** Per reason: when its last log line was written (ms), undefined while quiet. */
  readonly #loggedAt: Partial<Record<RefusalReason, number>> = {};
  /** Refusals since the last line, by reason (not yet in a summary). */
  readonly #unreported: RefusalCounts = emptyRefusalCounts();

  constructor(reports: RefusalReports, intervalMs: number) {
    this.#reports = reports;
    this.#intervalMs = intervalMs;
  }

  record(refusal: Refusal, now = Date.now()): void {
    const reason = refusal.limit;
    this.total++;
    this.byReason[reason]++;
    const logged = this.#loggedAt[reason] === undefined;
    if (logged) this.#loggedAt[reason] = now;
    else this.#unreported[reason]++;
    this.#reports.refused({ ...refusal, logged });
  }

  /** One summary of the refusals not logged one by one, once per interval; forgets quiet reasons. */
  flush(now = Date.now()): void {
    let count = 0;
    let since = now;
    const byReason: Partial<RefusalCounts> = {};
    for (const reason of Object.keys(this.#loggedAt) as RefusalReason[]) {
      const at = this.#loggedAt[reason] as number;
      if (now - at < this.#intervalMs) continue;
      const unreported = this.#unreported[reason];
      if (unreported === 0) {
        delete this.#loggedAt[reason];
        continue;
      }
      byReason[reason] = unreported;
      count += unreported;
      if (at < since) since = at;
      this.#unreported[reason] = 0;
      this.#loggedAt[reason] = now;
    }
    if (count > 0) this.#reports.summary({ count, byReason, seconds: Math.round((now - since) / 1000) });
  }
}
