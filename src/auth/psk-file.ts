// Mosquitto's psk_file: one `identity:hexkey` line per TLS-PSK client. Read like its password file
// (pwfile__parse: '#' comments, the identity before the first ':', blanks trimmed), and the key as
// its mosquitto__hex2bin reads it: leading "00" pairs are kept and an odd number of digits means a
// leading 0 nibble ("abc" is 0a bc), which is also what mosquitto_pub --psk sends. Unusable lines
// and duplicates are handled as in every credential file (colon-file.ts).
import { readFileSync } from 'node:fs';
import { CONFIG_ISSUE_KINDS, ConfigError, where } from '../config/errors.js';
import { MAX_PSK_IDENTITY_BYTES } from '../config/types.js';
import { type Decoded, parseColonFile } from './colon-file.js';

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
    const parsed = parseColonFile<Buffer>(text, file, {
      pair: 'IDENTITY:HEXKEY',
      name: 'identity',
      maxNameBytes: MAX_PSK_IDENTITY_BYTES,
      maxNameWhy: 'the most a TLS-PSK handshake carries',
      noun: 'identity',
      afterSkip: 'and the other clients still connect',
      lineFix: FIX,
      decode: decodeKey,
    });
    return new PskFile(file, parsed.entries, parsed.warnings);
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

function decodeKey(identity: string, hex: string): Decoded<Buffer> {
  const who = JSON.stringify(identity);
  const problem = (text: string): Decoded<Buffer> => ({ ok: false, problem: text, fix: FIX });
  if (hex === '') return problem(`identity ${who} has no key`);
  if (/^0x/i.test(hex)) return problem(`the key of identity ${who} starts with "0x"`);
  if (!/^[0-9a-fA-F]+$/.test(hex)) return problem(`the key of identity ${who} is not hexadecimal`);
  const key = Buffer.from(hex.length % 2 === 1 ? `0${hex}` : hex, 'hex');
  if (key.length > MAX_PSK_KEY_BYTES) return problem(`the key of identity ${who} is ${key.length} bytes; TLS-PSK keys are at most ${MAX_PSK_KEY_BYTES}`);
  return { ok: true, value: key };
}
