// What `moat top` and `moat capacity check` know about a broker, built from its `$SYS` messages
// (Mosquitto's topic names, which moat publishes too, plus moat's own limit/capacity/refusal topics)
// and, for moat, from the admin API. Pure bookkeeping: no sockets, no timers, times passed in.
import type { ClientView, StatsView } from '../admin/shapes.js';

/** One counter's samples (time in ms, value), kept for RATE_WINDOW_MS so rates come from deltas. */
interface CounterHistory {
  samples: Array<{ at: number; value: number }>;
}

/** Rates are the counter's increase over this window, so one late $SYS update does not make them jump. */
export const RATE_WINDOW_MS = 15_000;

export interface Rates {
  messagesIn?: number;
  messagesOut?: number;
  bytesIn?: number;
  bytesOut?: number;
}

/** What the renderer draws: every field optional, because each broker publishes a different set. */
export interface BrokerState {
  readonly target: string;
  version?: string;
  uptimeSeconds?: number;
  connected?: number;
  /** The configured connection limit: --limit, else `$SYS/broker/clients/limit`, else the admin API. */
  limit?: number;
  /** Where `limit` came from, for the screen ("--limit", "$SYS", "admin API"). */
  limitSource?: string;
  peak?: number;
  sessions?: number;
  subscriptions?: number;
  retained?: number;
  messagesReceived?: number;
  messagesSent?: number;
  bytesReceived?: number;
  bytesSent?: number;
  heapBytes?: number;
  droppedTotal?: number;
  dropped: Record<string, number>;
  refusedTotal?: number;
  refused: Record<string, number>;
  /** `$SYS/broker/capacity/alert` as the broker says it (moat only). */
  capacityAlert?: boolean;
  rates: Rates;
  /** When the last `$SYS` message came (ms), for "updated N s ago". */
  lastUpdateAt?: number;
  /** Busiest clients by messages, from the admin API. */
  clients?: readonly ClientView[];
  clientsTotal?: number;
  /** Whether an admin API was given, and its last error in words. */
  admin: { configured: boolean; error?: string };
  /** Connection trouble after the first connect ("reconnecting: ..."). */
  status?: string;
}

const NUMBER_TOPICS: Readonly<Record<string, keyof BrokerState>> = {
  '$SYS/broker/clients/connected': 'connected',
  '$SYS/broker/clients/maximum': 'peak',
  '$SYS/broker/clients/total': 'sessions',
  '$SYS/broker/subscriptions/count': 'subscriptions',
  '$SYS/broker/retained messages/count': 'retained',
  '$SYS/broker/messages/received': 'messagesReceived',
  '$SYS/broker/messages/sent': 'messagesSent',
  '$SYS/broker/bytes/received': 'bytesReceived',
  '$SYS/broker/bytes/sent': 'bytesSent',
  '$SYS/broker/heap/current': 'heapBytes',
  '$SYS/broker/publish/messages/dropped': 'droppedTotal',
  '$SYS/broker/clients/refused/limit': 'refusedTotal',
};

/** Counters whose deltas give the rates. */
const RATE_TOPICS: Readonly<Record<string, keyof Rates>> = {
  '$SYS/broker/messages/received': 'messagesIn',
  '$SYS/broker/messages/sent': 'messagesOut',
  '$SYS/broker/bytes/received': 'bytesIn',
  '$SYS/broker/bytes/sent': 'bytesOut',
};

/** Mosquitto's load averages (per minute): the rate when a counter has not moved twice yet. */
const LOAD_TOPICS: Readonly<Record<string, keyof Rates>> = {
  '$SYS/broker/load/messages/received/1min': 'messagesIn',
  '$SYS/broker/load/messages/sent/1min': 'messagesOut',
  '$SYS/broker/load/bytes/received/1min': 'bytesIn',
  '$SYS/broker/load/bytes/sent/1min': 'bytesOut',
};

/** The figures /api/stats gives; from its first answer on, $SYS no longer overwrites them. */
const ADMIN_FIELDS: ReadonlySet<keyof BrokerState> = new Set(['connected', 'peak', 'sessions', 'subscriptions', 'retained', 'droppedTotal', 'refusedTotal']);

const DROPPED_PREFIX = '$SYS/broker/publish/messages/dropped/';
/**
 * Refusals by the configured limit that refused them (moat's $SYS/broker/clients/refused/limit/<limit>):
 * what an operator sizes. Refusals by the reason code a client was told are under clients/refused/<reason>.
 */
const REFUSED_PREFIX = '$SYS/broker/clients/refused/limit/';
const refusedReason = (topic: string): string | undefined => (topic.startsWith(REFUSED_PREFIX) ? topic.slice(REFUSED_PREFIX.length) : undefined);

/** A whole or decimal number at the start of a `$SYS` payload ("12 seconds", "3.50"); undefined otherwise. */
function leadingNumber(text: string): number | undefined {
  const match = /^\s*(-?\d+(?:\.\d+)?)/.exec(text);
  return match === null ? undefined : Number(match[1]);
}

export class BrokerView {
  readonly state: BrokerState;
  readonly #fixedLimit: boolean;
  readonly #history = new Map<keyof Rates, CounterHistory>();
  readonly #loadRates: Rates = {};
  #adminAnswered = false;

  /** `limit`: the --limit flag, which wins over anything the broker says. */
  constructor(target: string, limit?: number) {
    this.state = { target, dropped: {}, refused: {}, rates: {}, admin: { configured: false } };
    this.#fixedLimit = limit !== undefined;
    if (limit !== undefined) {
      this.state.limit = limit;
      this.state.limitSource = '--limit';
    }
  }

  /** Takes one `$SYS` message received at `at` (ms). Topics it does not know are ignored. */
  onSys(topic: string, payload: string, at: number): void {
    const state = this.state;
    state.lastUpdateAt = at;
    if (topic === '$SYS/broker/version') {
      state.version = payload.trim();
      return;
    }
    if (topic === '$SYS/broker/capacity/alert') {
      const value = payload.trim().toLowerCase();
      state.capacityAlert = value !== '' && value !== '0' && value !== 'false' && value !== 'off';
      return;
    }
    const n = leadingNumber(payload);
    if (n === undefined) return;
    if (topic === '$SYS/broker/uptime') state.uptimeSeconds = n;
    else if (topic === '$SYS/broker/clients/limit') {
      if (!this.#fixedLimit && !this.#adminAnswered) {
        // moat publishes -1 for "no limit"; keep that as unknown.
        if (n >= 0) {
          state.limit = n;
          state.limitSource = '$SYS';
        } else {
          delete state.limit;
          delete state.limitSource;
        }
      }
    } else if (this.#adminAnswered && (topic.startsWith(DROPPED_PREFIX) || refusedReason(topic) !== undefined)) {
      // the admin API's byReason counts stand
    } else if (topic.startsWith(DROPPED_PREFIX)) state.dropped[topic.slice(DROPPED_PREFIX.length)] = n;
    else if (refusedReason(topic) !== undefined) state.refused[refusedReason(topic) as string] = n;
    else {
      const field = NUMBER_TOPICS[topic];
      // Once moat's admin API answers, it is the one source of the figures it gives (no flip-flopping between two).
      if (field !== undefined && !(this.#adminAnswered && ADMIN_FIELDS.has(field))) (state as unknown as Record<string, number>)[field] = n;
      const rate = RATE_TOPICS[topic];
      if (rate !== undefined) this.#sample(rate, n, at);
      const load = LOAD_TOPICS[topic];
      if (load !== undefined) this.#loadRates[load] = n / 60;
    }
  }

  /** Takes the admin API's answers (moat only); they fill in what `$SYS` did not say. */
  onAdmin(stats: StatsView | undefined, clients: { total: number; clients: readonly ClientView[] } | undefined, error?: string): void {
    const state = this.state;
    state.admin = error === undefined ? { configured: true } : { configured: true, error };
    if (stats !== undefined) {
      this.#adminAnswered = true;
      state.version ??= `moat ${stats.version}`;
      state.uptimeSeconds = stats.uptimeSeconds;
      state.connected = stats.connections.connected;
      state.peak = stats.connections.peak;
      if (!this.#fixedLimit && stats.connections.limit >= 0) {
        state.limit = stats.connections.limit;
        state.limitSource = 'admin API';
      }
      state.capacityAlert = stats.connections.alert;
      state.sessions = stats.sessions;
      state.subscriptions = stats.subscriptions;
      state.retained = stats.retained;
      state.droppedTotal = stats.dropped.total;
      state.dropped = { ...stats.dropped.byReason };
      state.refusedTotal = stats.limitRefused.total;
      state.refused = { ...stats.limitRefused.byReason };
    }
    if (clients !== undefined) {
      state.clients = clients.clients;
      state.clientsTotal = clients.total;
    }
  }

  #sample(rate: keyof Rates, value: number, at: number): void {
    let history = this.#history.get(rate);
    if (history === undefined) this.#history.set(rate, (history = { samples: [] }));
    history.samples.push({ at, value });
  }

  /** Recomputes the rates for `now` (ms) and returns the state to draw. */
  snapshot(now: number): BrokerState {
    for (const key of ['messagesIn', 'messagesOut', 'bytesIn', 'bytesOut'] as const) {
      const rate = this.#rateOf(key, now);
      if (rate !== undefined) this.state.rates[key] = rate;
      else if (this.#loadRates[key] !== undefined) this.state.rates[key] = this.#loadRates[key];
    }
    return this.state;
  }

  /**
   * The counter's increase per second over the last RATE_WINDOW_MS. A counter is a step function of
   * its samples: Mosquitto republishes only values that changed, so no new sample means no increase.
   */
  #rateOf(key: keyof Rates, now: number): number | undefined {
    const samples = this.#history.get(key)?.samples;
    if (samples === undefined || samples.length < 2) return undefined;
    const windowStart = now - RATE_WINDOW_MS;
    // Keep one sample at or before the window's start: the counter's value there.
    while (samples.length > 2 && (samples[1] as { at: number }).at <= windowStart) samples.shift();
    const first = samples[0] as { at: number; value: number };
    const last = samples[samples.length - 1] as { at: number; value: number };
    const from = Math.max(first.at, windowStart);
    const seconds = (now - from) / 1000;
    if (seconds <= 0) return undefined;
    return Math.max(0, last.value - first.value) / seconds;
  }
}
