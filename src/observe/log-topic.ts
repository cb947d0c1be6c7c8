// `log_dest topic`: every log line also goes out as a message on $SYS/broker/log/<X>, as Mosquitto
// does (log.c): E error, W warning, N notice (a client connected or disconnected, as Mosquitto's
// connection messages), I information, D debug, M a subscription, U an unsubscription; the payload
// is Mosquitto's "<unix seconds>: <message>" followed by the line's fields as JSON (the client id,
// address, reason...), QoS 0, not retained. The logger exists
// before the broker does, so lines written before `attach` wait (a few, bounded) and go out then.
// Publishing is guarded against itself: a line logged while a log message is routed is not
// published again, so a debug log of routing cannot feed on its own messages.
import type { Broker } from '../broker/broker.js';

/** Lines kept until the broker is attached; older ones are dropped past this (start-up only). */
const PENDING_MAX = 200;

/** pino's numeric level → Mosquitto's topic letter. */
function letterOf(level: number, event: unknown): string {
  if (event === 'subscribed') return 'M';
  if (event === 'unsubscribed') return 'U';
  if (event === 'client_connected' || event === 'client_disconnected') return 'N';
  if (level >= 50) return 'E';
  if (level >= 40) return 'W';
  if (level >= 30) return 'I';
  return 'D';
}

interface Line {
  readonly topic: string;
  readonly payload: string;
}

/** A pino destination (`write(line)`) publishing each line to $SYS/broker/log/<X>. */
export class LogTopic {
  #broker: Broker | undefined;
  #pending: Line[] | undefined = [];
  #publishing = false;

  write(line: string): void {
    let record: Record<string, unknown>;
    try {
      record = JSON.parse(line) as Record<string, unknown>;
    } catch {
      return; // not a pino line
    }
    const level = typeof record.level === 'number' ? record.level : 30;
    const seconds = Math.floor((typeof record.time === 'number' ? record.time : Date.now()) / 1000);
    const { level: _level, time: _time, service: _service, msg, ...fields } = record;
    const message = typeof msg === 'string' ? msg : String(record.event ?? '');
    const out: Line = { topic: `$SYS/broker/log/${letterOf(level, record.event)}`, payload: `${seconds}: ${message} ${JSON.stringify(fields)}` };
    const broker = this.#broker;
    if (broker === undefined) {
      const pending = this.#pending;
      if (pending !== undefined && pending.length < PENDING_MAX) pending.push(out);
      return;
    }
    this.#publish(broker, out);
  }

  /** From now on lines are published by `broker`; the ones logged before go out first. */
  attach(broker: Broker): void {
    this.#broker = broker;
    const pending = this.#pending ?? [];
    this.#pending = undefined;
    for (const line of pending) this.#publish(broker, line);
  }

  /** The broker is closing: nothing more is published. */
  detach(): void {
    this.#broker = undefined;
  }

  #publish(broker: Broker, line: Line): void {
    if (this.#publishing) return;
    this.#publishing = true;
    try {
      broker.publishSimple(line.topic, line.payload, 0, false);
    } finally {
      this.#publishing = false;
    }
  }
}
