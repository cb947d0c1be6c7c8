// Reports of auth/ and the drop ledger as the broker's log would write them (event-log.ts), for
// unit tests that exercise those parts without a Broker.
import type { AuthReport } from '../../src/auth/auth-events.js';
import type { DropReport } from '../../src/broker/drops.js';
import { logRecord } from '../../src/broker/event-log.js';
import { authEventOf, type BrokerEvent, type BrokerEventFields, type BrokerEventPayload } from '../../src/broker/events.js';

export interface EventRecords {
  /** Log records in order, each with its `event`, fields (clipped as the log clips them), `level` and `msg`. */
  readonly records: Array<Record<string, unknown>>;
  /** The records whose `event` is `name` (the log's event name, e.g. 'auth_failed'). */
  events(name: string): Array<Record<string, unknown>>;
  readonly auth: AuthReport;
  readonly drops: DropReport;
}

export function recordEvents(): EventRecords {
  const records: Array<Record<string, unknown>> = [];
  const keep = <E extends BrokerEvent>(event: E, fields: BrokerEventFields[E]): void => {
    // The log never reads the broker of a record it formats; these reports have none.
    const { level, record, message } = logRecord(event, { ...fields, broker: undefined } as unknown as BrokerEventPayload<E>);
    records.push({ ...record, level, msg: message });
  };
  return {
    records,
    events: (name) => records.filter((r) => r['event'] === name),
    auth: (kind, fields) => {
      const { event, fields: payload } = authEventOf(kind, fields);
      keep(event, payload as never);
    },
    drops: (fields) => keep('publishDropped', fields),
  };
}
