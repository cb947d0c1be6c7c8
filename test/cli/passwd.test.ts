// `moat passwd` run as a real process: mosquitto_passwd's modes and errors, atomic edits that keep
// other lines byte-identical, and compatibility both ways with Debian's mosquitto_passwd and Mosquitto 2.
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { chmod, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import { PasswordFile, verifyPassword, type PasswordHash } from '../../src/auth/password-file.js';
import { brokerArgs, runMosquittoPub } from '../kit/clients.js';
import { moatCommand } from '../kit/moat.js';
import { startMosquitto } from '../kit/mosquitto.js';

const MOSQUITTO_PASSWD = '/usr/bin/mosquitto_passwd';
const runFile = promisify(execFile);

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `moat passwd args` to the end, feeding `stdin` (a pipe, so not a TTY) when given. */
function moatPasswd(args: readonly string[], stdin?: string): Promise<Run> {
  const { command, args: argv } = moatCommand(['passwd', ...args]);
  const child = spawn(command, argv, { stdio: ['pipe', 'pipe', 'pipe'] });
  child.stdin.end(stdin ?? '');
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`moat passwd ${args.join(' ')} timed out\n${stdout}\n${stderr}`));
    }, 30_000);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

async function moatPasswdOk(args: readonly string[], stdin?: string): Promise<void> {
  const result = await moatPasswd(args, stdin);
  assert.equal(result.code, 0, `moat passwd ${args.join(' ')} failed:\n${result.stderr}`);
}

/** A failure: the exit code, and one "Error: ..." message without a stack trace. */
async function moatPasswdFails(args: readonly string[], code: number, message: RegExp, stdin?: string): Promise<void> {
  const result = await moatPasswd(args, stdin);
  assert.equal(result.code, code, `exit code of moat passwd ${args.join(' ')}; stderr:\n${result.stderr}`);
  assert.match(result.stderr, /^Error: /);
  assert.match(result.stderr, message);
  assert.doesNotMatch(result.stderr, /^\s+at /m);
}

async function verifies(file: string, user: string, password: string): Promise<boolean> {
  const hash = (await PasswordFile.load(file)).lookup(user);
  assert.ok(hash, `${user} is not in ${file}`);
  return verifyPassword(hash, Buffer.from(password));
}

const lines = async (file: string): Promise<string[]> => (await readFile(file, 'utf8')).split('\n');
const mode = async (file: string): Promise<number> => (await stat(file)).mode & 0o777;

let dir: string;
let counter = 0;
const fresh = (name: string): string => join(dir, `${++counter}-${name}`);

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'moat-passwd-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('moat passwd', () => {
  test('-c -b creates a 0600 file with one hashed line', async () => {
    const file = fresh('create.pw');
    await moatPasswdOk(['-c', '-b', '-I', '1000', file, 'alice', 'alice-pw']);
    assert.equal(await mode(file), 0o600);
    const content = await lines(file);
    assert.equal(content.length, 2);
    assert.match(content[0] ?? '', /^alice:\$7\$1000\$[A-Za-z0-9+/]{16}\$[A-Za-z0-9+/]{86}==$/);
    assert.equal(content[1], '');
    assert.equal(await verifies(file, 'alice', 'alice-pw'), true);
    assert.equal(await verifies(file, 'alice', 'wrong'), false);
    // No temp files are left behind.
    assert.deepEqual((await readdir(dir)).filter((name) => name.includes('create.pw')), [`${counter}-create.pw`]);
  });

  test('adds, updates in place and deletes, keeping the mode and every other line byte-identical', async () => {
    const file = fresh('edit.pw');
    await moatPasswdOk(['-c', '-b', '-I', '1000', file, 'alice', 'a1']);
    await moatPasswdOk(['-b', '-H', 'sha512', file, 'bob', 'b1']);
    await writeFile(file, `# staff\r\n${(await readFile(file, 'utf8')).replace('\n', '\r\n')}\n`);
    await chmod(file, 0o640);
    await moatPasswdOk(['-b', '-I', '1000', file, 'carol', 'c1']);
    const before = await lines(file);
    assert.equal(before.length, 6);

    await moatPasswdOk(['-b', '-I', '1000', file, 'alice', 'a2']);
    const updated = await lines(file);
    assert.deepEqual([updated[0], ...updated.slice(2)], [before[0], ...before.slice(2)]);
    assert.notEqual(updated[1], before[1]);
    assert.match(updated[1] ?? '', /^alice:\$7\$1000\$/);
    assert.equal(await verifies(file, 'alice', 'a2'), true);
    assert.equal(await verifies(file, 'alice', 'a1'), false);
    assert.equal(await verifies(file, 'bob', 'b1'), true);
    assert.equal(await mode(file), 0o640);

    await moatPasswdOk(['-D', file, 'bob']);
    assert.deepEqual(await lines(file), updated.filter((line) => !line.startsWith('bob:')));
    assert.equal(await mode(file), 0o640);
  });

  test('-U hashes plain-text lines and leaves hashed lines, comments and blank lines alone', async () => {
    const file = fresh('plain.pw');
    await moatPasswdOk(['-c', '-b', '-I', '1000', file, 'hashed', 'h1']);
    const hashedLine = (await lines(file))[0] ?? '';
    await writeFile(file, `# migrated\nplain: p1 \n\n${hashedLine}\nother:p2\n`);
    await moatPasswdOk(['-U', '-I', '1000', file]);
    const after = await lines(file);
    assert.equal(after[0], '# migrated');
    assert.match(after[1] ?? '', /^plain:\$7\$1000\$/);
    assert.equal(after[2], '');
    assert.equal(after[3], hashedLine);
    assert.match(after[4] ?? '', /^other:\$7\$1000\$/);
    assert.equal(await verifies(file, 'plain', 'p1'), true);
    assert.equal(await verifies(file, 'other', 'p2'), true);
    assert.equal(await verifies(file, 'hashed', 'h1'), true);
    // A second run changes nothing (mosquitto_passwd -U would re-hash the hashes).
    await moatPasswdOk(['-U', file]);
    assert.deepEqual(await lines(file), after);
  });

  test('interactive mode reads the password twice from piped stdin', async () => {
    const file = fresh('prompt.pw');
    await moatPasswdOk(['-c', '-I', '1000', file, 'alice'], 'typed-pw\ntyped-pw\n');
    assert.equal(await verifies(file, 'alice', 'typed-pw'), true);
    const result = await moatPasswd(['-I', '1000', file, 'bob'], 'bob-pw\r\nbob-pw\r\n');
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, 'Password: \nReenter password: \n');
    assert.equal(await verifies(file, 'bob', 'bob-pw'), true);
  });

  test('mismatched passwords exit 2 like mosquitto_passwd and change nothing', async () => {
    const file = fresh('mismatch.pw');
    await moatPasswdOk(['-c', '-b', '-I', '1000', file, 'alice', 'a1']);
    const before = await readFile(file, 'utf8');
    await moatPasswdFails([file, 'alice'], 2, /Passwords do not match/, 'one\ntwo\n');
    await moatPasswdFails([file, 'alice'], 1, /Empty password/, 'one\n');
    assert.equal(await readFile(file, 'utf8'), before);
  });

  test('errors: one message with the fix, exit 1, file untouched', async () => {
    const file = fresh('errors.pw');
    const missing = fresh('missing.pw');
    await moatPasswdOk(['-c', '-b', '-I', '1000', file, 'alice', 'a1']);
    const before = await readFile(file, 'utf8');
    await moatPasswdFails(['-b', missing, 'bob', 'pw'], 1, /does not exist; use -c to create/);
    await moatPasswdFails(['-D', file, 'nobody'], 1, /User nobody not found in password file/);
    await moatPasswdFails(['-b', file, 'a:b', 'pw'], 1, /must not contain the ':' character/);
    await moatPasswdFails(['-b', file, '', 'pw'], 1, /Username must not be empty/);
    await moatPasswdFails(['-b', file, ' bob', 'pw'], 1, /must not start or end with a space/);
    await moatPasswdFails(['-b', file, 'bob', ''], 1, /Empty password/);
    await moatPasswdFails(['-c', '-D', file, 'alice'], 1, /-c and -D cannot be used together/);
    await moatPasswdFails(['-H', 'md5', '-b', file, 'bob', 'pw'], 1, /Unknown hash type 'md5'/);
    await moatPasswdFails(['-I', '0', '-b', file, 'bob', 'pw'], 1, /iterations must be a whole number/);
    await moatPasswdFails([file], 1, /expected FILE USERNAME[\s\S]*Usage: moat passwd/);
    assert.equal(await readFile(file, 'utf8'), before);

    await writeFile(file, `${before}no-colon-here\n`);
    await moatPasswdFails(['-b', file, 'bob', 'pw'], 1, /Corrupt password file at line 2/);
    await writeFile(file, `${before}broken:$7$1$AAAA$BBBB\n`);
    await moatPasswdFails(['-U', file], 1, /User broken on line 2 .* has a damaged hash/);
  });
});

describe('compatibility with Mosquitto', () => {
  test('Mosquitto 2 accepts files written by moat passwd ($7$ fast and default, $6$)', async () => {
    const file = fresh('for-mosquitto.pw');
    await moatPasswdOk(['-c', '-b', '-I', '1000', file, 'alice', 'alice-pw']);
    await moatPasswdOk(['-b', file, 'bob', 'bob-pw']);
    await moatPasswdOk(['-H', 'sha512', '-b', file, 'carol', 'carol-pw']);
    // `user root`: as root, Mosquitto otherwise drops to user mosquitto and cannot read the 0600 file.
    const broker = await startMosquitto({ config: `allow_anonymous false\npassword_file ${file}\nuser root\n` });
    try {
      const pub = async (user: string, password: string): Promise<number | null> =>
        (await runMosquittoPub([...brokerArgs(broker), '-u', user, '-P', password, '-t', 'moat/passwd', '-m', 'hi'], { check: false })).code;
      for (const user of ['alice', 'bob', 'carol']) {
        assert.equal(await pub(user, `${user}-pw`), 0, `${user} with the right password\n${broker.process.formatLogs(20)}`);
        assert.equal(await pub(user, `${user}-wrong`), 5, `${user} with a wrong password`);
      }
    } finally {
      await broker.stop();
    }
  });

  test('files written by mosquitto_passwd verify, and moat passwd edits keep their other lines byte-identical', async () => {
    const file = fresh('from-mosquitto.pw');
    await runFile(MOSQUITTO_PASSWD, ['-c', '-b', file, 'alice', 'alice-pw']);
    await runFile(MOSQUITTO_PASSWD, ['-H', 'sha512', '-b', file, 'bob', 'bob-pw']);
    await runFile(MOSQUITTO_PASSWD, ['-b', file, 'carol', 'carol-pw']);
    for (const user of ['alice', 'bob', 'carol']) {
      assert.equal(await verifies(file, user, `${user}-pw`), true, user);
      assert.equal(await verifies(file, user, `${user}-wrong`), false, user);
    }
    const original = await lines(file);

    await moatPasswdOk(['-b', '-I', '1000', file, 'bob', 'bob-new']);
    const updated = await lines(file);
    assert.deepEqual([updated[0], updated[2], updated[3]], [original[0], original[2], original[3]]);
    assert.equal(await verifies(file, 'bob', 'bob-new'), true);

    await moatPasswdOk(['-D', file, 'alice']);
    assert.deepEqual(await lines(file), updated.slice(1));
    assert.equal(await verifies(file, 'carol', 'carol-pw'), true);
  });
});
