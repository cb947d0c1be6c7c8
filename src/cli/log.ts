// The broker's pino logger, built from the mosquitto-style log options, writing to bounded
// asynchronous destinations (log-sink.ts) so that logging never blocks the broker.
import { setTimeout as sleep } from 'node:timers/promises';
import { pino, type Logger as PinoLogger, type DestinationStream, type LevelWithSilent } from 'pino';
import type { LogConfig } from '../config/types.js';
import { LogTopic } from '../observe/log-topic.js';
import { LogSink, type LogSinkEvents, type LogTarget } from './log-sink.js';

/** Lowest pino level that shows every Mosquitto log_type asked for. */
function levelFor(types: readonly string[], verbose: boolean): LevelWithSilent {
  if (verbose || types.includes('debug') || types.includes('subscribe') || types.includes('unsubscribe') || types.includes('internal')) return 'debug';
  if (types.includes('information') || types.includes('notice')) return 'info';
  if (types.includes('warning')) return 'warn';
  if (types.includes('error')) return 'error';
  return 'silent';
}

export interface BrokerLog {
  readonly logger: PinoLogger;
  readonly sinks: readonly LogSink[];
  /** `log_dest topic`: attach it to the broker once there is one ($SYS/broker/log/...). */
  readonly topic: LogTopic | undefined;
  /**
   * Waits at most `timeoutMs` for every destination to write what it holds. False when one still
   * holds lines (a pipe nobody reads): its pending write keeps the event loop alive, so the caller
   * must leave with process.exit rather than wait for the loop to empty.
   */
  drain(timeoutMs: number): Promise<boolean>;
}

/** Opens every log_dest (refusing a log file that cannot be opened) and builds the logger on them. */
export async function openLog(log: LogConfig, verbose: boolean, bufferBytes?: number): Promise<BrokerLog> {
  // The destinations report through the logger they feed, so it is bound once it exists.
  let logger: PinoLogger | undefined;
  const events: LogSinkEvents = {
    caughtUp: (sink, count) =>
      logger?.warn(
        { event: 'log_lines_dropped', destination: sink.name, count, total: sink.droppedTotal },
        `dropped ${count} log lines: ${sink.name} did not take them fast enough`,
      ),
    failed: (sink, error) =>
      logger?.error({ event: 'log_destination_failed', destination: sink.name, err: error.message }, `cannot write to ${sink.name}; its log lines are dropped from now on`),
  };
  const targets: LogTarget[] = [];
  if (log.destinations.includes('stdout')) targets.push('stdout');
  if (log.destinations.includes('stderr')) targets.push('stderr');
  if (log.destinations.includes('file') && log.file !== undefined) targets.push({ file: log.file });
  const sinks = await Promise.all(targets.map((target) => LogSink.open(target, events, bufferBytes)));
  const topic = log.destinations.includes('topic') ? new LogTopic() : undefined;
  const streams: DestinationStream[] = [...sinks, ...(topic === undefined ? [] : [topic])];

  const level = streams.length === 0 ? 'silent' : levelFor(log.types, verbose);
  const stream: DestinationStream =
    streams.length === 1 ? (streams[0] as DestinationStream) : pino.multistream(streams.map((d) => ({ stream: d, level: level === 'silent' ? 'fatal' : level })));
  const format = log.timestampFormat;
  const timestamp = !log.timestamp ? false : format === undefined ? true : () => `,"time":${JSON.stringify(strftime(format, new Date()))}`;
  logger = pino({ level, base: { service: 'moat' }, timestamp }, stream);
  return {
    logger,
    sinks,
    topic,
    async drain(timeoutMs) {
      const idle = Promise.all(sinks.map((d) => d.idle())).then(() => true);
      const ac = new AbortController();
      const timedOut = sleep(timeoutMs, false, { signal: ac.signal }).catch(() => false);
      const drained = await Promise.race([idle, timedOut]);
      ac.abort();
      return drained;
    },
  };
}

const pad = (n: number, width = 2): string => String(n).padStart(width, '0');

/** The strftime subset log_timestamp_format configs use: %Y %m %d %H %M %S %j %F %T %z %s %%. */
export function strftime(format: string, date: Date): string {
  return format.replace(/%([YmdHMSjFTzs%])/g, (_, field: string) => {
    switch (field) {
      case 'Y':
        return String(date.getFullYear());
      case 'm':
        return pad(date.getMonth() + 1);
      case 'd':
        return pad(date.getDate());
      case 'H':
        return pad(date.getHours());
      case 'M':
        return pad(date.getMinutes());
      case 'S':
        return pad(date.getSeconds());
      case 'j': {
        const start = new Date(date.getFullYear(), 0, 0);
        return pad(Math.floor((date.getTime() - start.getTime()) / 86_400_000), 3);
      }
      case 'F':
        return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}`;
      case 'T':
        return `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`;
      case 'z': {
        const offset = -date.getTimezoneOffset();
        return `${offset >= 0 ? '+' : '-'}${pad(Math.floor(Math.abs(offset) / 60))}${pad(Math.abs(offset) % 60)}`;
      }
      case 's':
        return String(Math.floor(date.getTime() / 1000));
      default:
        return '%';
    }
  });
}
