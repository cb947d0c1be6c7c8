// The admin API's JSON, defined once: the routes build these (api.ts, views.ts), and moat top,
// moat capacity check and the tests read them (cli/admin-api.ts). Types only, so a reader imports
// nothing of the server. docs/MONITORING.md shows them with example values.

/** GET /api/stats. */
export interface StatsView {
  readonly version: string;
  readonly uptimeSeconds: number;
  /** `limit` −1 = none; `percent` null without a limit; `alert`: $SYS/broker/capacity/alert is set. */
  readonly connections: { readonly connected: number; readonly limit: number; readonly peak: number; readonly percent: number | null; readonly alert: boolean };
  readonly sessions: number;
  readonly subscriptions: number;
  readonly retained: number;
  readonly messages: { readonly received: number; readonly sent: number };
  readonly bytes: { readonly received: number; readonly sent: number };
  readonly dropped: Tally;
  /** Refused CONNECTs by the reason the client was told (the v5 reason code's name). */
  readonly refused: Tally;
  /** Refusals by a configured limit, by the limit's option name (every limit, from 0). */
  readonly limitRefused: Tally;
  readonly authFailures: number;
  readonly tlsHandshakeFailures: number;
}

export interface Tally {
  readonly total: number;
  readonly byReason: Readonly<Record<string, number>>;
}

/** One connected client, as GET /api/clients lists it. */
export interface ClientView {
  readonly id: string;
  /** null: anonymous. */
  readonly username: string | null;
  readonly address: string | null;
  /** The listener it came in on, e.g. "mqtt:1883". */
  readonly listener: string | null;
  readonly protocolVersion: number;
  /** ISO 8601: when its socket was accepted (for TLS: when the handshake finished). */
  readonly connectedSince: string;
  /** Keep Alive in force, seconds; 0 = none. */
  readonly keepalive: number;
  readonly subscriptions: number;
  readonly inflight: number;
  readonly queued: number;
  readonly dropped: number;
  readonly messagesIn: number;
  readonly messagesOut: number;
}

/** GET /api/clients/:id. */
export interface ClientDetail extends ClientView {
  readonly subscriptionFilters: ReadonlyArray<{ readonly filter: string; readonly qos: number }>;
}

export interface SubscriptionView {
  readonly clientId: string;
  readonly filter: string;
  readonly qos: number;
}

/** A page of GET /api/clients (`clients`) or GET /api/subscriptions (`subscriptions`). */
export type Page<K extends string, T> = { readonly total: number; readonly offset: number; readonly limit: number } & { readonly [key in K]: readonly T[] };
export type ClientPage = Page<'clients', ClientView>;
export type SubscriptionPage = Page<'subscriptions', SubscriptionView>;
