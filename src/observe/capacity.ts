// The capacity alert: connections against the configured limit, set when usage reaches
// capacity_alert_threshold percent and cleared only once it has fallen clearly below it, so one
// client coming and going at the threshold does not make it flap. Watched on every connect and
// disconnect (an operator hears at once, not up to sys_interval later); the log hears it through
// the capacityAlert event, $SYS through the retained $SYS/broker/capacity/alert (sys.ts).
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import type { Broker } from '../broker/broker.js';
import { BROKER_EVENTS, emit, type BrokerEventPayload } from '../broker/events.js';

/** Percentage points below the threshold usage must fall before the alert clears. */
export const CAPACITY_HYSTERESIS_POINTS = 5;

/** Usage as $SYS/broker/capacity/percent prints it: one decimal. */
export function capacityPercent(connected: number, limit: number): string {
  return ((connected * 100) / limit).toFixed(1);
}

/** The alert's text, e.g. "connections 41/50 (82.0%) crossed capacity_alert_threshold 80%". */
export function capacityAlertText(connected: number, limit: number, threshold: number): string {
  return `connections ${connected}/${limit} (${capacityPercent(connected, limit)}%) crossed capacity_alert_threshold ${threshold}%`;
}

/**
 * Where the alert clears: below threshold − 5 points, or one connection below the threshold when one
 * connection is worth more than 5 points (a limit under 20), else a small broker would have no band.
 */
export function clearBelowPercent(limit: number, threshold: number): number {
  return threshold - Math.max(CAPACITY_HYSTERESIS_POINTS, 100 / limit);
}

export class CapacityWatch {
  readonly #broker: Broker;
  readonly #limit: number;
  readonly #threshold: number;
  /** Called with the alert text when it is set, undefined when it clears. */
  readonly #onChange: (text: string | undefined) => void;
  #text: string | undefined;
  readonly #check = (message: unknown): void => {
    if ((message as BrokerEventPayload<'clientConnected'>).broker === this.#broker) this.check();
  };

  /** `limit` -1 (unlimited) watches nothing. */
  constructor(broker: Broker, limit: number, threshold: number, onChange: (text: string | undefined) => void) {
    this.#broker = broker;
    this.#limit = limit;
    this.#threshold = threshold;
    this.#onChange = onChange;
    if (limit <= 0) return;
    subscribe(BROKER_EVENTS.clientConnected, this.#check);
    subscribe(BROKER_EVENTS.clientDisconnected, this.#check);
  }

  /** The alert's text while it is set. */
  get alert(): string | undefined {
    return this.#text;
  }

  /** Compares usage with the threshold now (every connect and disconnect does). */
  check(): void {
    if (this.#limit <= 0) return;
    const connected = this.#broker.connectedCount;
    const percent = (connected * 100) / this.#limit;
    const fields = { connected, limit: this.#limit, percent: Number(capacityPercent(connected, this.#limit)), threshold: this.#threshold };
    if (this.#text === undefined && percent >= this.#threshold) {
      this.#text = capacityAlertText(connected, this.#limit, this.#threshold);
      emit(this.#broker, 'capacityAlert', { ...fields, state: 'set', alert: this.#text });
      this.#onChange(this.#text);
    } else if (this.#text !== undefined && percent < clearBelowPercent(this.#limit, this.#threshold)) {
      this.#text = undefined;
      emit(this.#broker, 'capacityAlert', { ...fields, state: 'cleared', alert: undefined });
      this.#onChange(undefined);
    }
  }

  stop(): void {
    if (this.#limit <= 0) return;
    unsubscribe(BROKER_EVENTS.clientConnected, this.#check);
    unsubscribe(BROKER_EVENTS.clientDisconnected, this.#check);
  }
}
