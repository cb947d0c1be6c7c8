// The broker logs through this pino-compatible shape so tests can pass a silent logger
// and the CLI a real pino instance; the engine never imports a logging library.
export interface Logger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
  /** pino's: lets hot paths skip building log records nobody will see. */
  isLevelEnabled?(level: string): boolean;
}

const noop = (): void => {};
export const silentLogger: Logger = { debug: noop, info: noop, warn: noop, error: noop, isLevelEnabled: () => false };
