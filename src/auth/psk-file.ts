// Mosquitto's psk_file: one `identity:hexkey` line per TLS-PSK client. Read like its password file
// (pwfile__parse: '#' comments, the identity before the first ':', blanks trimmed), and the key as
// its mosquitto__hex2bin reads it: leading "00" pairs are kept and an odd number of digits means a
// leading 0 nibble ("abc" is 0a bc), which is also what mosquitto_pub --psk sends. A line moat
// cannot use is skipped with a warning naming file:line, as password-file.ts does, so one bad line
// cannot lock a fleet out; an identity listed twice keeps its later line, as in Mosquitto.
import { readFileSync } from 'node:fs';
import { CONFIG_ISSUE_KINDS, ConfigError, where } from '../config/errors.js';
import { MAX_PSK_IDENTITY_BYTES } from '../config/types.js';
import { trimBlanks } from './password-file.js';

/** OpenSSL's PSK_MAX_PSK_LEN: a longer key cannot be used in a handshake. */
export const MAX_PSK_KEY_BYTES = 512;

const FIX = 'write one IDENTITY:HEXKEY line per client, the key in hex digits without "0x" (make one with `openssl rand -hex 32`)';

export class PskFile {
  readonly file: string;
  /** Findings ("file:line: ... Fix: ..."): lines skipped because they cannot be used, an identity listed twice. */
  readonly warnings: readonly string[];
  readonly #keys: ReadonlyMap<string, Buffer>;

  private constructor(file: string, keys: ReadonlyMap<string, Buffer>, warnings: readonly string[]) {
    this.file = file;
    this.#keys = keys;
    this.warnings = warnings;
  }

  /** Parses the text of a psk_file; unusable lines are skipped, each with a warning. */
  static parse(text: string, file: string): PskFile {
    const keys = new Map<string, Buffer>();
    const firstLine = new Map<string, number>();
    const warnings: string[] = [];
    const problem = (line: number, text: string): void => {
      warnings.push(`${where(file, line)}${text}, so this line is skipped and the other clients still connect. Fix: ${FIX}.`);
    };
    text.split('\n').forEach((raw, index) => {
      const line = index + 1;
      if (raw.startsWith('#') || trimBlanks(raw) === '') return;
      const colon = raw.indexOf(':');
      if (colon === -1) return problem(line, 'this line is not IDENTITY:HEXKEY (no ":")');
      const identity = trimBlanks(raw.slice(0, colon));
      const hex = trimBlanks(raw.slice(colon + 1));
      const who = JSON.stringify(identity);
      if (identity === '') return problem(line, 'this line has no identity before the ":"');
      if (Buffer.byteLength(identity) > MAX_PSK_IDENTITY_BYTES) return problem(line, `the identity is longer than ${MAX_PSK_IDENTITY_BYTES} bytes, the most a TLS-PSK handshake carries`);
      if (hex === '') return problem(line, `identity ${who} has no key`);
      if (/^0x/i.test(hex)) return problem(line, `the key of identity ${who} starts with "0x"`);
      if (!/^[0-9a-fA-F]+$/.test(hex)) return problem(line, `the key of identity ${who} is not hexadecimal`);
      const key = Buffer.from(hex.length % 2 === 1 ? `0${hex}` : hex, 'hex');
      if (key.length > MAX_PSK_KEY_BYTES) return problem(line, `the key of identity ${who} is ${key.length} bytes; TLS-PSK keys are at most ${MAX_PSK_KEY_BYTES}`);
      const earlier = firstLine.get(identity);
      if (earlier !== undefined) {
        warnings.push(`${where(file, line)}identity ${who} is also on line ${earlier}; this later line wins, as in Mosquitto. Fix: delete the line you do not want.`);
      }
      firstLine.set(identity, line);
      keys.set(identity, key);
    });
    return new PskFile(file, keys, warnings);
  }

  /** Reads and parses a psk_file (synchronously: it is read with the certificates, at start and on SIGHUP). */
  static load(file: string): PskFile {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (error) {
      const reason = (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'does not exist' : `cannot be read (${(error as Error).message})`;
      const message = `${where(file, 0)}the psk_file ${reason}. Fix: create it (${FIX}), or correct the path and permissions in psk_file.`;
      throw new ConfigError([{ kind: CONFIG_ISSUE_KINDS.file, file, line: 0, option: 'psk_file', message }], { cause: error });
    }
    return PskFile.parse(text, file);
  }

  get size(): number {
    return this.#keys.size;
  }

  /** The key of `identity`, or undefined for an identity the file does not list. */
  key(identity: string): Buffer | undefined {
    return this.#keys.get(identity);
  }
}
