// Every message the broker accepts and then does not deliver is counted here, per reason and per
// client, and reported (moat:publish:dropped, and so the log) at most once per client per interval:
// the first drop after a quiet spell at once, then one summary per interval while drops go on. $SYS and the broker's stats
// read the totals. Nothing is dropped silently (docs/ARCHITECTURE.md, "Fair under load").
import type { BrokerEventFields } from './events.js';

/** Where the ledger's reports go: the broker publishes them as moat:publish:dropped. */
export type DropReport = (fields: BrokerEventFields['publishDropped']) => void;

/** Why a message was dropped, with the sentence a log line gives for it. */
export const DROP_REASONS = {
  queue_full: "the client's queue was full (max_queued_messages / max_queued_bytes)",
  slow_consumer: 'a QoS 0 message for a client that reads slower than it is sent to (its socket buffer is full)',
  expired: 'the message expired (Message Expiry Interval) before it could be sent',
  too_large: "the message is larger than the client's Maximum Packet Size",
  acl_denied: 'the ACL no longer lets the client read the topic',
  size_limit: 'the payload is over message_size_limit (the publisher was acknowledged)',
  sys_topic: 'a client published to $SYS, which only the broker writes (a v5 publisher was told 0x87)',
  memory_limit: "the broker's memory was over memory_limit (a QoS 0 or MQTT 3.1.1 PUBLISH, which has no code to be told)",
} as const;

export type DropReason = keyof typeof DROP_REASONS;

export type DropCounts = Record<DropReason, number>;

export function emptyDropCounts(): DropCounts {
  return { queue_full: 0, slow_consumer: 0, expired: 0, too_large: 0, acl_denied: 0, size_limit: 0, sys_topic: 0, memory_limit: 0 };
}

/** Drops of one client since its last log line. */
interface Report {
  /** When the last line for this client was logged (ms). */
  loggedAt: number;
  /** Drops since then, by reason; all zero when nothing happened since. */
  readonly counts: DropCounts;
  unreported: number;
}

export class DropLedger {
  /** Every drop since the broker started. */
  total = 0;
  readonly byReason: DropCounts = emptyDropCounts();
  readonly #report: DropReport;
  readonly #intervalMs: number;
  readonly #reports = new Map<string, Report>();

  /** `intervalMs`: at most one report per client per this many ms. */
  constructor(report: DropReport, intervalMs: number) {
    this.#report = report;
    this.#intervalMs = intervalMs;
  }

  record(clientId: string, reason: DropReason, now = Date.now()): void {
    this.total++;
    this.byReason[reason]++;
    const report = this.#reports.get(clientId);
    if (report === undefined) {
      // The first drop after a quiet spell is reported at once: that is when an operator wants to know.
      this.#reports.set(clientId, { loggedAt: now, counts: emptyDropCounts(), unreported: 0 });
      this.#report({ clientId, reason, count: 1, detail: DROP_REASONS[reason] });
      return;
    }
    report.counts[reason]++;
    report.unreported++;
  }

  /** Logs one summary per client whose interval is over and that dropped more meanwhile; forgets quiet ones. */
  flush(now = Date.now()): void {
    for (const [clientId, report] of this.#reports) {
      if (now - report.loggedAt < this.#intervalMs) continue;
      if (report.unreported === 0) {
        this.#reports.delete(clientId);
        continue;
      }
      const byReason: Partial<DropCounts> = {};
      let top: DropReason = 'queue_full';
      for (const reason of Object.keys(report.counts) as DropReason[]) {
        const count = report.counts[reason];
        if (count === 0) continue;
        byReason[reason] = count;
        if (count > (byReason[top] ?? 0)) top = reason;
        report.counts[reason] = 0;
      }
      const seconds = Math.round((now - report.loggedAt) / 1000);
      this.#report({ clientId, count: report.unreported, byReason, seconds, top });
      report.unreported = 0;
      report.loggedAt = now;
    }
  }

  /** Clients with a report open (recent drops): bounded by the clients that dropped in the last interval. */
  get reporting(): number {
    return this.#reports.size;
  }
}
