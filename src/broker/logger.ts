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

// Whatever a client chose (client id, user name, topic, filter, a reason quoting them) reaches a log
// record only through clip/clipList: one 65,535-character filter must not make a 65 KB log line,
// nor a SUBSCRIBE of thousands of filters a line per filter's worth.

/** Longest client-chosen string a log record carries, in characters (UTF-16 code units). */
export const LOG_STRING_MAX = 200;
/** Most items of a client-chosen list (a SUBSCRIBE's filters) a log record carries. */
export const LOG_LIST_MAX = 5;

const count = (n: number): string => n.toLocaleString('en-US');

/**
 * `value` as a log record may carry it: whole up to LOG_STRING_MAX characters, else its first
 * LOG_STRING_MAX and how much was left out: `"a/b/c/…(+65,400 chars, 65,600 total)"`.
 */
export function clip(value: string): string;
export function clip(value: string | undefined): string | undefined;
export function clip(value: string | undefined): string | undefined {
  if (value === undefined || value.length <= LOG_STRING_MAX) return value;
  // Never cut a surrogate pair in two: half a character would be an unpaired escape in the JSON.
  const code = value.charCodeAt(LOG_STRING_MAX - 1);
  const kept = code >= 0xd800 && code <= 0xdbff ? LOG_STRING_MAX - 1 : LOG_STRING_MAX;
  return `${value.slice(0, kept)}…(+${count(value.length - kept)} chars, ${count(value.length)} total)`;
}

/**
 * The first LOG_LIST_MAX of `items` (each through clip), then, when there were more, one last
 * entry saying how many: `["a", "b", "c", "d", "e", "…(+1,995 more, 2,000 total)"]`.
 */
export function clipList<T>(items: readonly T[], text: (item: T) => string): string[] {
  const shown = items.slice(0, LOG_LIST_MAX).map((item) => clip(text(item)));
  if (items.length > LOG_LIST_MAX) shown.push(`…(+${count(items.length - LOG_LIST_MAX)} more, ${count(items.length)} total)`);
  return shown;
}
