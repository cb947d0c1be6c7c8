// Mosquitto-compatible password files: one `username:hash` line per user, with the hash in
// mosquitto_passwd's format. Parsing mirrors Mosquitto 2.0's pwfile__parse/unpwd__decode_passwords
// (src/security_default.c): a line Mosquitto drops (plain-text password, broken hash, not
// `user:hash`) is skipped by moat too, so one bad line cannot lock every user out; unlike Mosquitto,
// which drops some silently, moat warns about each one with file:line and the fix.
import { pbkdf2, randomBytes, timingSafeEqual, webcrypto } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { MoatError } from '../codec/errors.js';
import { CONFIG_ISSUE_KINDS, ConfigError, where } from '../config/errors.js';
import { type ColonLine, type ColonLineShape, parseColonFile, splitColonLine } from './colon-file.js';

export type PasswordHash =
  | { readonly kind: 'sha512'; readonly salt: Buffer; readonly hash: Buffer }
  | { readonly kind: 'sha512-pbkdf2'; readonly iterations: number; readonly salt: Buffer; readonly hash: Buffer };

/** moat's iteration count for new PBKDF2-HMAC-SHA512 hashes (OWASP 2023); mosquitto_passwd uses 101. */
export const DEFAULT_PBKDF2_ITERATIONS = 210_000;

/** Mosquitto's SALT_LEN and SHA-512 output: it drops entries whose decoded salt or hash has another length. */
const SALT_BYTES = 12;
const HASH_BYTES = 64;
/** Mosquitto stores iterations in a C int. */
const MAX_ITERATIONS = 2 ** 31 - 1;

const pbkdf2Async = promisify(pbkdf2);

/** How a password file names its parts; Mosquitto skips usernames longer than an MQTT string can be. */
const PASSWORD_LINE: ColonLineShape = { pair: 'USERNAME:HASH', name: 'username', maxNameBytes: 65_535, maxNameWhy: '' };

/** One line of a password file, split the way Mosquitto splits it. */
export function parsePasswordLine(line: string): ColonLine {
  return splitColonLine(line, PASSWORD_LINE);
}

/** A loaded password file: username -> hash. */
export class PasswordFile {
  readonly file: string;
  /** Findings ("file:line: ... Fix: ..."): lines skipped because they are malformed, a username listed twice. */
  readonly warnings: readonly string[];
  readonly #entries: ReadonlyMap<string, PasswordHash>;

  private constructor(file: string, entries: ReadonlyMap<string, PasswordHash>, warnings: readonly string[]) {
    this.file = file;
    this.#entries = entries;
    this.warnings = warnings;
  }

  /** Parses the text of a password file; malformed lines are skipped, each with a warning. */
  static parse(text: string, file: string): PasswordFile {
    const parsed = parseColonFile<PasswordHash>(text, file, {
      ...PASSWORD_LINE,
      noun: 'user',
      afterSkip: '(as Mosquitto skips it) and the other users still log in',
      lineFix: `write one USERNAME:HASH per line, or create entries with \`moat passwd ${file} USERNAME\``,
      decode: (username, password) => {
        const hash = parsePasswordHash(password);
        return hash === undefined ? { ok: false, ...describeBadPassword(username, password, file) } : { ok: true, value: hash };
      },
    });
    return new PasswordFile(file, parsed.entries, parsed.warnings);
  }

  /** Reads and parses a password file; an unreadable file is a ConfigError (kind 'file', line 0). */
  static async load(file: string): Promise<PasswordFile> {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (error) {
      const reason = (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'does not exist' : `cannot be read (${(error as Error).message})`;
      const message = `${where(file, 0)}the password file ${reason}. Fix: create it with \`moat passwd -c ${file} USERNAME\`, or correct the path and permissions in password_file.`;
      throw new ConfigError([{ kind: CONFIG_ISSUE_KINDS.file, file, line: 0, option: undefined, message }], { cause: error });
    }
    return PasswordFile.parse(text, file);
  }

  get size(): number {
    return this.#entries.size;
  }

  lookup(username: string): PasswordHash | undefined {
    return this.#entries.get(username);
  }

  usernames(): string[] {
    return [...this.#entries.keys()];
  }
}

/** Why a password field is not a usable hash, and the fix; never quotes the field (it may be a plain-text password). */
function describeBadPassword(username: string, password: string, file: string): { problem: string; fix: string } {
  const user = JSON.stringify(username);
  const reset = `set a new password with \`moat passwd ${file} ${username}\``;
  if (password === '') return { problem: `user ${user} has no password hash`, fix: reset };
  if (password.startsWith('$6$') || password.startsWith('$7$')) return { problem: `user ${user} has a damaged ${password.slice(0, 3)} hash`, fix: reset };
  if (/^\$[^$]*\$/.test(password)) return { problem: `user ${user} has a hash type Mosquitto does not support (only $6$ and $7$)`, fix: reset };
  return {
    problem: `user ${user} has a plain-text password, which neither moat nor Mosquitto accepts`,
    fix: `run \`moat passwd -U ${file}\` to hash plain-text passwords`,
  };
}

const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

/** Canonical base64 of exactly `bytes` bytes (what mosquitto_passwd writes), else undefined. */
function decodeBase64(text: string, bytes: number): Buffer | undefined {
  if (!BASE64.test(text)) return undefined;
  const decoded = Buffer.from(text, 'base64');
  // Node's decoder is lenient; re-encoding rejects non-canonical forms such as missing padding.
  if (decoded.length !== bytes || decoded.toString('base64') !== text) return undefined;
  return decoded;
}

function parseIterations(text: string): number | undefined {
  if (!/^[1-9]\d*$/.test(text)) return undefined;
  const iterations = Number(text);
  return iterations <= MAX_ITERATIONS ? iterations : undefined;
}

/**
 * "$6$salt$hash" or "$7$iterations$salt$hash" as mosquitto_passwd writes them. Mosquitto's strtok
 * parsing also tolerates repeated '$' and trailing fields; moat wants the exact form.
 */
export function parsePasswordHash(text: string): PasswordHash | undefined {
  const fields = text.split('$');
  if (fields[0] !== '') return undefined;
  if (fields[1] === '6' && fields.length === 4) {
    const salt = decodeBase64(fields[2] ?? '', SALT_BYTES);
    const hash = decodeBase64(fields[3] ?? '', HASH_BYTES);
    return salt && hash ? { kind: 'sha512', salt, hash } : undefined;
  }
  if (fields[1] === '7' && fields.length === 5) {
    const iterations = parseIterations(fields[2] ?? '');
    const salt = decodeBase64(fields[3] ?? '', SALT_BYTES);
    const hash = decodeBase64(fields[4] ?? '', HASH_BYTES);
    return iterations !== undefined && salt && hash ? { kind: 'sha512-pbkdf2', iterations, salt, hash } : undefined;
  }
  return undefined;
}

/** The hash as mosquitto_passwd writes it after "username:". */
export function formatPasswordHash(hash: PasswordHash): string {
  const salt = hash.salt.toString('base64');
  const digest = hash.hash.toString('base64');
  return hash.kind === 'sha512' ? `$6$${salt}$${digest}` : `$7$${hash.iterations}$${salt}$${digest}`;
}

/** What a hash is computed with, besides the password and the salt (a PasswordHash is one). */
export type HashSpec = { readonly kind: 'sha512' } | { readonly kind: 'sha512-pbkdf2'; readonly iterations: number };

/** Bytes of every hash Mosquitto's formats hold (SHA-512 output). */
export const PASSWORD_HASH_BYTES = HASH_BYTES;

/** SHA-512(password ‖ salt) or PBKDF2-HMAC-SHA512, both computed in libuv's threadpool. */
async function digest(spec: HashSpec, password: Buffer, salt: Buffer): Promise<Buffer> {
  if (spec.kind === 'sha512') return Buffer.from(await webcrypto.subtle.digest('SHA-512', Buffer.concat([password, salt])));
  return pbkdf2Async(password, salt, spec.iterations, HASH_BYTES, 'sha512');
}

/** A new hash with a random 12-byte salt, as mosquitto_passwd makes it; default kind sha512-pbkdf2. */
export async function hashPassword(password: Buffer | string, options: { kind?: PasswordHash['kind']; iterations?: number } = {}): Promise<PasswordHash> {
  const iterations = options.iterations ?? DEFAULT_PBKDF2_ITERATIONS;
  const spec: HashSpec = options.kind === 'sha512' ? { kind: 'sha512' } : { kind: 'sha512-pbkdf2', iterations };
  if (spec.kind === 'sha512-pbkdf2' && !(Number.isInteger(iterations) && iterations >= 1 && iterations <= MAX_ITERATIONS)) {
    throw new MoatError('MOAT_ERR_INVALID_ARGUMENT', `iterations must be a whole number from 1 to ${MAX_ITERATIONS}, got ${iterations}`);
  }
  const bytes = typeof password === 'string' ? Buffer.from(password, 'utf8') : password;
  const salt = randomBytes(SALT_BYTES);
  return { ...spec, salt, hash: await digest(spec, bytes, salt) };
}

/**
 * True when `password` matches. Mosquitto hashes the password up to its first NUL byte (it is a C
 * string there); moat hashes every byte, so a password with a NUL never matches a mosquitto_passwd hash.
 */
export async function verifyPassword(hash: PasswordHash, password: Buffer): Promise<boolean> {
  const computed = await digest(hash, password, hash.salt);
  return computed.length === hash.hash.length && timingSafeEqual(computed, hash.hash);
}

/** The same hash, salt and parameters: a reloaded file that gives this left the user's password as it was. */
export function samePasswordHash(a: PasswordHash, b: PasswordHash): boolean {
  if (a.kind !== b.kind || !a.salt.equals(b.salt) || !a.hash.equals(b.hash)) return false;
  return a.kind === 'sha512' || (b.kind === 'sha512-pbkdf2' && a.iterations === b.iterations);
}
