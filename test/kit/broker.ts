import type { TrackedProcess } from './process.js';

/** A broker process started by the kit (moat or Mosquitto), listening on host:port. */
export interface RunningBroker {
  /** "moat" or "mosquitto"; handy in test names and messages. */
  readonly name: string;
  readonly host: string;
  readonly port: number;
  readonly pid: number;
  /** `mqtt://host:port` */
  readonly url: string;
  /** stdout and stderr lines, in arrival order; grows while the broker runs. */
  readonly logs: string[];
  /** Path of the config file the broker was started with. */
  readonly configPath: string;
  readonly process: TrackedProcess;
  /** Sends signal (default SIGTERM) by PID, SIGKILL after 3 s; resolves with the exit code (null if killed by a signal). */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  /** SIGKILL by PID; resolves when it is gone. */
  kill(): Promise<number | null>;
}

export interface BrokerStartOptions {
  /** Extra mosquitto.conf lines added after the kit's own `listener` and `allow_anonymous true` lines. */
  readonly extraConfig?: string;
}
