// The broker's pino logger, built from the mosquitto-style log options.
import { pino, type Logger as PinoLogger, type DestinationStream, type LevelWithSilent } from 'pino';
import type { LogConfig } from '../config/types.js';

/** Lowest pino level that shows every Mosquitto log_type asked for. */
function levelFor(types: readonly string[], verbose: boolean): LevelWithSilent {
  if (verbose || types.includes('debug') || types.includes('subscribe') || types.includes('unsubscribe') || types.includes('internal')) return 'debug';
  if (types.includes('information') || types.includes('notice')) return 'info';
  if (types.includes('warning')) return 'warn';
  if (types.includes('error')) return 'error';
  return 'silent';
}

export function createLogger(log: LogConfig, verbose: boolean): PinoLogger {
  const streams: DestinationStream[] = [];
  if (log.destinations.includes('stdout')) streams.push(pino.destination(1));
  if (log.destinations.includes('stderr')) streams.push(pino.destination(2));
  if (log.destinations.includes('file') && log.file !== undefined) streams.push(pino.destination({ dest: log.file, mkdir: true, sync: false }));
  const level = streams.length === 0 ? 'silent' : levelFor(log.types, verbose);
  const destination = streams.length === 1 ? (streams[0] as DestinationStream) : pino.multistream(streams.map((stream) => ({ stream, level: level === 'silent' ? 'fatal' : level })));
  const format = log.timestampFormat;
  const timestamp = !log.timestamp ? false : format === undefined ? true : () => `,"time":${JSON.stringify(strftime(format, new Date()))}`;
  return pino({ level, base: { service: 'moat' }, timestamp }, destination);
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
