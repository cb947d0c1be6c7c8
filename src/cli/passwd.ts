// `moat passwd`: mosquitto_passwd's flags and file format. Differences, all on the safe side: the
// default PBKDF2 iteration count is 210 000 (not 101); -U hashes only plain-text lines (mosquitto_passwd
// re-hashes hashes too, locking those users out); comments and blank lines survive edits; the file is
// replaced atomically; usernames the broker would read differently (empty, padded, '#...') are refused.
import { randomBytes } from 'node:crypto';
import { open, readFile, realpath, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import type { Command } from 'commander';
import { MoatError } from '../codec/errors.js';
import { DEFAULT_PBKDF2_ITERATIONS, formatPasswordHash, hashPassword, parsePasswordHash, parsePasswordLine, type PasswordHash } from '../auth/password-file.js';

interface PasswdFlags {
  hash: string;
  iterations: string;
  create?: boolean;
  delete?: boolean;
  batch?: boolean;
  update?: boolean;
}

/** A problem the user can fix: printed as is (one sentence and the fix), no stack trace. */
class PasswdError extends MoatError {
  readonly exitCode: number;
  constructor(message: string, exitCode = 1) {
    super('MOAT_ERR_PASSWD', message);
    this.name = 'PasswdError';
    this.exitCode = exitCode;
  }
}

const USAGE = [
  'Usage: moat passwd [-H sha512 | -H sha512-pbkdf2] [-I N] [-c | -D] FILE USERNAME',
  '       moat passwd [-H sha512 | -H sha512-pbkdf2] [-I N] [-c] -b FILE USERNAME PASSWORD',
  '       moat passwd [-H sha512 | -H sha512-pbkdf2] [-I N] -U FILE',
].join('\n');

const MAX_ITERATIONS = 2 ** 31 - 1;
const MAX_FIELD_BYTES = 65_535;
const NEW_FILE_MODE = 0o600;

export function registerPasswdCommand(program: Command): void {
  program
    .command('passwd')
    .description('create and edit Mosquitto-compatible password files (mosquitto_passwd flags)')
    .usage('[-H sha512|sha512-pbkdf2] [-I N] [-c | -D] FILE USERNAME | [-c] -b FILE USERNAME PASSWORD | -U FILE')
    .argument('[args...]', 'FILE USERNAME [PASSWORD], or FILE with -U')
    .option('-H, --hash <type>', 'hash for new passwords: sha512-pbkdf2 (recommended) or sha512 (Mosquitto 1.6 and earlier)', 'sha512-pbkdf2')
    .option('-I, --iterations <n>', 'PBKDF2 iterations for new sha512-pbkdf2 hashes', String(DEFAULT_PBKDF2_ITERATIONS))
    .option('-c, --create', 'create a new password file, overwriting an existing one')
    .option('-D, --delete', 'delete the user instead of adding or updating it')
    .option('-b, --batch', 'take the password from the command line instead of prompting for it')
    .option('-U, --update', 'hash every plain-text password in the file (hashed lines are left alone)')
    .action(async (args: string[], flags: PasswdFlags) => {
      try {
        await runPasswd(args, flags);
      } catch (error) {
        if (!(error instanceof PasswdError)) throw error;
        process.stderr.write(`${error.message}\n`);
        process.exitCode = error.exitCode;
      }
    });
}

type Mode = 'create' | 'set' | 'delete' | 'update';

interface HashChoice {
  readonly kind: PasswordHash['kind'];
  readonly iterations: number;
}

async function runPasswd(args: readonly string[], flags: PasswdFlags): Promise<void> {
  const mode = modeOf(flags);
  const choice: HashChoice = { kind: parseHashKind(flags.hash), iterations: parseIterations(flags.iterations) };
  const [file, username, password] = splitArguments(mode, flags.batch === true, args);
  if (mode === 'update') return hashPlainTextLines(file, choice);
  validateUsername(username);
  if (mode === 'delete') return deleteUser(file, username);
  const secret = password ?? (await promptPassword());
  validatePassword(secret);
  const line = `${username}:${formatPasswordHash(await hashPassword(secret, choice))}`;
  if (mode === 'create') return writeAtomically(await resolveTarget(file), `${line}\n`, NEW_FILE_MODE);
  return setUserLine(file, username, line);
}

/** The flag combinations mosquitto_passwd refuses, with its messages. */
function modeOf(flags: PasswdFlags): Mode {
  const conflicts: Array<[boolean | undefined, boolean | undefined, string]> = [
    [flags.create, flags.delete, '-c and -D'],
    [flags.create, flags.update, '-c and -U'],
    [flags.delete, flags.update, '-D and -U'],
    [flags.delete, flags.batch, '-b and -D'],
    [flags.update, flags.batch, '-b and -U'],
  ];
  for (const [a, b, pair] of conflicts) {
    if (a === true && b === true) throw new PasswdError(`Error: ${pair} cannot be used together.\n${USAGE}`);
  }
  if (flags.create === true) return 'create';
  if (flags.delete === true) return 'delete';
  if (flags.update === true) return 'update';
  return 'set';
}

function splitArguments(mode: Mode, batch: boolean, args: readonly string[]): [string, string, string | undefined] {
  const expected = mode === 'update' ? 1 : batch ? 3 : 2;
  if (args.length !== expected) {
    const what = mode === 'update' ? 'FILE' : batch ? 'FILE USERNAME PASSWORD' : 'FILE USERNAME';
    throw new PasswdError(`Error: expected ${what}, got ${args.length} argument${args.length === 1 ? '' : 's'}.\n${USAGE}`);
  }
  return [args[0] ?? '', args[1] ?? '', args[2]];
}

function parseHashKind(value: string): PasswordHash['kind'] {
  if (value === 'sha512' || value === 'sha512-pbkdf2') return value;
  throw new PasswdError(`Error: Unknown hash type '${value}'; use -H sha512-pbkdf2 (recommended) or -H sha512.`);
}

function parseIterations(value: string): number {
  const n = /^\d+$/.test(value) ? Number(value) : NaN;
  if (!(n >= 1 && n <= MAX_ITERATIONS)) {
    throw new PasswdError(`Error: Number of iterations must be a whole number from 1 to ${MAX_ITERATIONS}, got "${value}"; leave -I out for the default ${DEFAULT_PBKDF2_ITERATIONS}.`);
  }
  return n;
}

/** mosquitto_passwd's checks, plus names the broker would read back differently (it trims, and skips '#' lines). */
function validateUsername(username: string): void {
  const problem =
    username === '' ? 'must not be empty'
    : username.includes(':') ? "must not contain the ':' character"
    : /[\u0000-\u001f\u007f]/.test(username) ? 'must not contain control characters'
    : Buffer.byteLength(username) > MAX_FIELD_BYTES ? `must be at most ${MAX_FIELD_BYTES} bytes long`
    : username.startsWith(' ') || username.endsWith(' ') ? 'must not start or end with a space (the broker trims it)'
    : username.startsWith('#') ? "must not start with '#' (the broker would read the line as a comment)"
    : undefined;
  if (problem !== undefined) throw new PasswdError(`Error: Username ${problem}; choose another username.`);
}

function validatePassword(password: string): void {
  if (password === '') throw new PasswdError('Error: Empty password; give a non-empty password.');
  if (password.includes('\0')) throw new PasswdError('Error: Password must not contain a NUL character (Mosquitto would cut it there); choose another password.');
  if (Buffer.byteLength(password) > MAX_FIELD_BYTES) throw new PasswdError(`Error: Password must be at most ${MAX_FIELD_BYTES} bytes long; choose a shorter password.`);
}

/** "Password: " then "Reenter password: ", hidden on a terminal; from two stdin lines otherwise. */
async function promptPassword(): Promise<string> {
  const [first, second] = process.stdin.isTTY ? [await readHidden('Password: '), await readHidden('Reenter password: ')] : await readPipedPasswords();
  // Checked first, as mosquitto_passwd does (an unanswered prompt is an empty password, not a mismatch).
  if (first === '' || second === '') throw new PasswdError('Error: Empty password; give a non-empty password.');
  // mosquitto_passwd exits 2 here (its MOSQ_ERR_INVAL), not 1.
  if (first !== second) throw new PasswdError('Error: Passwords do not match; run the command again.', 2);
  return first;
}

async function readPipedPasswords(): Promise<[string, string]> {
  process.stdout.write('Password: \nReenter password: \n');
  const lines: string[] = [];
  const reader = createInterface({ input: process.stdin, crlfDelay: Infinity, terminal: false });
  for await (const line of reader) {
    lines.push(line);
    if (lines.length === 2) break;
  }
  reader.close();
  return [lines[0] ?? '', lines[1] ?? ''];
}

/** One line typed on the terminal with echo off (raw mode); Ctrl-C aborts. */
async function readHidden(prompt: string): Promise<string> {
  const input = process.stdin;
  process.stdout.write(prompt);
  input.setRawMode(true);
  input.setEncoding('utf8');
  input.resume();
  try {
    return await new Promise<string>((resolve, reject) => {
      let typed: string[] = [];
      const finish = (error: PasswdError | undefined): void => {
        input.off('data', onData);
        if (error) reject(error);
        else resolve(typed.join(''));
      };
      const onData = (chunk: string): void => {
        for (const ch of chunk) {
          if (ch === '\r' || ch === '\n' || (ch === '\u0004' && typed.length === 0)) return finish(undefined);
          if (ch === '\u0003') return finish(new PasswdError('Error: Interrupted; nothing was changed.'));
          if (ch === '\u007f' || ch === '\b') typed = typed.slice(0, -1);
          else typed.push(ch);
        }
      };
      input.on('data', onData);
    });
  } finally {
    input.setRawMode(false);
    input.pause();
    process.stdout.write('\n');
  }
}

/** An existing file's real path (edits go to a symlink's target, as with mosquitto_passwd's realpath). */
async function resolveTarget(file: string): Promise<string> {
  try {
    return await realpath(file);
  } catch {
    return file;
  }
}

interface ExistingFile {
  readonly path: string;
  readonly mode: number;
  readonly lines: string[];
}

/** The file's lines (without '\n'; '\r' kept so untouched lines stay byte-identical) and its mode. */
async function readExisting(file: string): Promise<ExistingFile> {
  const path = await resolveTarget(file);
  let bytes: Buffer;
  let mode: number;
  try {
    bytes = await readFile(path);
    mode = (await stat(path)).mode & 0o7777;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new PasswdError(`Error: Unable to open password file ${file}: it does not exist; use -c to create a new password file.`);
    throw new PasswdError(`Error: Unable to open password file ${file}: ${(error as Error).message}; check its permissions.`);
  }
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new PasswdError(`Error: Password file ${file} is not UTF-8 text; fix or recreate it with -c.`);
  }
  const lines = text === '' ? [] : text.split('\n');
  if (text.endsWith('\n')) lines.pop();
  const corrupt = lines.findIndex((line) => parsePasswordLine(line).kind === 'malformed');
  if (corrupt !== -1) throw new PasswdError(`Error: Corrupt password file at line ${corrupt + 1} of ${file} (not USERNAME:HASH); fix or delete that line.`);
  return { path, mode, lines };
}

function usernameOf(line: string): string | undefined {
  const parsed = parsePasswordLine(line);
  return parsed.kind === 'entry' ? parsed.name : undefined;
}

/** Replaces the user's line in place (dropping later duplicates, which would win in the broker) or appends it. */
async function setUserLine(file: string, username: string, newLine: string): Promise<void> {
  const existing = await readExisting(file);
  const first = existing.lines.findIndex((line) => usernameOf(line) === username);
  const lines =
    first === -1
      ? [...existing.lines, newLine]
      : existing.lines.flatMap((line, index) => (index === first ? [newLine] : usernameOf(line) === username ? [] : [line]));
  await writeAtomically(existing.path, joinLines(lines), existing.mode);
}

async function deleteUser(file: string, username: string): Promise<void> {
  const existing = await readExisting(file);
  const lines = existing.lines.filter((line) => usernameOf(line) !== username);
  if (lines.length === existing.lines.length) {
    throw new PasswdError(`Error: User ${username} not found in password file ${file}; list its users with \`cut -d: -f1 ${file}\`.`);
  }
  await writeAtomically(existing.path, joinLines(lines), existing.mode);
}

/** -U: hashes plain-text passwords; hashed lines, comments and blank lines stay byte-identical. */
async function hashPlainTextLines(file: string, choice: HashChoice): Promise<void> {
  const existing = await readExisting(file);
  let changed = false;
  const lines: string[] = [];
  for (const [index, line] of existing.lines.entries()) {
    const parsed = parsePasswordLine(line);
    if (parsed.kind !== 'entry' || parsePasswordHash(parsed.value) !== undefined) {
      lines.push(line);
      continue;
    }
    if (/^\$[67]\$/.test(parsed.value)) {
      throw new PasswdError(`Error: User ${parsed.name} on line ${index + 1} of ${file} has a damaged hash, not a plain-text password; set a new one with \`moat passwd ${file} ${parsed.name}\`.`);
    }
    if (parsed.value === '') {
      throw new PasswdError(`Error: User ${parsed.name} on line ${index + 1} of ${file} has no password; set one with \`moat passwd ${file} ${parsed.name}\`.`);
    }
    validatePassword(parsed.value);
    lines.push(`${parsed.name}:${formatPasswordHash(await hashPassword(parsed.value, choice))}`);
    changed = true;
  }
  if (changed) await writeAtomically(existing.path, joinLines(lines), existing.mode);
}

function joinLines(lines: readonly string[]): string {
  return lines.length === 0 ? '' : `${lines.join('\n')}\n`;
}

/** Writes a temp file next to `path`, flushes it, then renames it over `path`: readers see the old or the new file, never half of one. */
async function writeAtomically(path: string, text: string, mode: number): Promise<void> {
  const temp = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    const handle = await open(temp, 'wx', mode);
    try {
      await handle.chmod(mode); // open's mode is filtered by the umask
      await handle.writeFile(text);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, path);
  } catch (error) {
    await rm(temp, { force: true });
    throw new PasswdError(`Error: Unable to write password file ${path}: ${(error as Error).message}; check that its directory is writable.`);
  }
}
