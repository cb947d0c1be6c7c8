// A Logger that keeps every line it is given, for tests that read what the broker logged.
import type { Logger } from '../../src/broker/logger.js';

export interface LogRecord {
  readonly level: string;
  readonly fields: Record<string, unknown>;
  readonly msg: string | undefined;
}

export function recordingLogger(): { logger: Logger; records: LogRecord[] } {
  const records: LogRecord[] = [];
  const at =
    (level: string) =>
    (fields: object, msg?: string): void => {
      records.push({ level, fields: fields as Record<string, unknown>, msg });
    };
  return { logger: { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') }, records };
}
