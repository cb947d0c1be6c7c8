// The line format Mosquitto's credential files share (password_file, psk_file), read as its
// pwfile__parse reads them: '#' starts a comment line, the name is what comes before the first
// ':', both sides are trimmed of C blanks (misc__trimblanks, which also drops the '\r' of CRLF
// files). A line moat cannot use is skipped with a warning naming file:line and the fix, so one bad
// line cannot lock a fleet out; a name listed twice keeps its later line, as in Mosquitto.
import { where } from '../config/errors.js';

/** C's isspace() set only: String.prototype.trim would also strip Unicode spaces Mosquitto keeps. */
export function trimBlanks(text: string): string {
  return text.replace(/^[ \t\n\v\f\r]+|[ \t\n\v\f\r]+$/g, '');
}

/** What one kind of credential file calls its parts, for the warnings. */
export interface ColonLineShape {
  /** The pair as the fix writes it, e.g. "USERNAME:HASH". */
  readonly pair: string;
  /** What the left side is, e.g. "username". */
  readonly name: string;
  /** Names longer than this (UTF-8 bytes) are skipped. */
  readonly maxNameBytes: number;
  /** Why that is the limit, e.g. "the most an MQTT string holds"; empty when it goes without saying. */
  readonly maxNameWhy: string;
}

/** One line of a credential file. */
export type ColonLine =
  | { readonly kind: 'skip' }
  | { readonly kind: 'malformed'; readonly problem: string }
  | { readonly kind: 'entry'; readonly name: string; readonly value: string };

/** Splits one line; comments and blank lines are 'skip' (Mosquitto also skips lines without ':', moat warns). */
export function splitColonLine(line: string, shape: ColonLineShape): ColonLine {
  if (line.startsWith('#') || trimBlanks(line) === '') return { kind: 'skip' };
  const colon = line.indexOf(':');
  if (colon === -1) return { kind: 'malformed', problem: `this line is not ${shape.pair} (no ":")` };
  const name = trimBlanks(line.slice(0, colon));
  const value = trimBlanks(line.slice(colon + 1));
  if (name === '') return { kind: 'malformed', problem: `this line has no ${shape.name} before the ":"` };
  if (Buffer.byteLength(name) > shape.maxNameBytes) {
    const why = shape.maxNameWhy === '' ? '' : `, ${shape.maxNameWhy}`;
    return { kind: 'malformed', problem: `the ${shape.name} is longer than ${shape.maxNameBytes} bytes${why}` };
  }
  return { kind: 'entry', name, value };
}

/** The value of an entry, or why it cannot be used and the fix. */
export type Decoded<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly problem: string; readonly fix: string };

export interface ColonFileFormat<T> extends ColonLineShape {
  /** How a duplicate is named in its warning, e.g. "user". */
  readonly noun: string;
  /** The rest of "so this line is skipped ...", e.g. "(as Mosquitto skips it) and the other users still log in". */
  readonly afterSkip: string;
  /** The fix for a line that is not a pair at all. */
  readonly lineFix: string;
  decode(name: string, value: string): Decoded<T>;
}

export interface ColonFile<T> {
  readonly entries: Map<string, T>;
  /** Findings ("file:line: ... Fix: ..."): lines skipped because they cannot be used, a name listed twice. */
  readonly warnings: string[];
}

export function parseColonFile<T>(text: string, file: string, format: ColonFileFormat<T>): ColonFile<T> {
  const entries = new Map<string, T>();
  const firstLine = new Map<string, number>();
  const warnings: string[] = [];
  const skip = (line: number, problem: string, fix: string): void => {
    warnings.push(`${where(file, line)}${problem}, so this line is skipped ${format.afterSkip}. Fix: ${fix}.`);
  };
  text.split('\n').forEach((raw, index) => {
    const line = index + 1;
    const parsed = splitColonLine(raw, format);
    if (parsed.kind === 'skip') return;
    if (parsed.kind === 'malformed') return skip(line, parsed.problem, format.lineFix);
    const decoded = format.decode(parsed.name, parsed.value);
    if (!decoded.ok) return skip(line, decoded.problem, decoded.fix);
    const earlier = firstLine.get(parsed.name);
    if (earlier !== undefined) {
      // Mosquitto keeps both in its hash table and finds the later one first.
      warnings.push(`${where(file, line)}${format.noun} ${JSON.stringify(parsed.name)} is also on line ${earlier}; this later line wins, as in Mosquitto. Fix: delete the line you do not want.`);
    } else {
      firstLine.set(parsed.name, line);
    }
    entries.set(parsed.name, decoded.value);
  });
  return { entries, warnings };
}
