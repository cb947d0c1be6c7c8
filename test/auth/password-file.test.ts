// Password files: the $6$/$7$ formats, verification (checked against hashes made by Debian's
// mosquitto_passwd), the parse rules and their file:line errors, and that hashing stays off the event loop.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash, pbkdf2Sync } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import {
  DEFAULT_PBKDF2_ITERATIONS,
  formatPasswordHash,
  hashPassword,
  parsePasswordHash,
  PasswordFile,
  verifyPassword,
  type PasswordHash,
} from '../../src/auth/password-file.js';
import { ConfigError } from '../../src/config/errors.js';

const MOSQUITTO_PASSWD = '/usr/bin/mosquitto_passwd';
const run = promisify(execFile);

const SALT_B64 = Buffer.alloc(12, 7).toString('base64');
const HASH_B64 = Buffer.alloc(64, 9).toString('base64');

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'moat-pwfile-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('hash format', () => {
  test('formatPasswordHash and parsePasswordHash round-trip both kinds', async () => {
    for (const kind of ['sha512', 'sha512-pbkdf2'] as const) {
      const hash = await hashPassword('pw', { kind, iterations: 1000 });
      assert.equal(hash.salt.length, 12);
      assert.equal(hash.hash.length, 64);
      const text = formatPasswordHash(hash);
      assert.match(text, kind === 'sha512' ? /^\$6\$[A-Za-z0-9+/]{16}\$[A-Za-z0-9+/]{86}==$/ : /^\$7\$1000\$[A-Za-z0-9+/]{16}\$[A-Za-z0-9+/]{86}==$/);
      assert.deepEqual(parsePasswordHash(text), hash);
    }
  });

  test('the default is PBKDF2 with DEFAULT_PBKDF2_ITERATIONS', async () => {
    const hash = await hashPassword(Buffer.from('pw'));
    assert.equal(hash.kind, 'sha512-pbkdf2');
    assert.equal(hash.kind === 'sha512-pbkdf2' && hash.iterations, DEFAULT_PBKDF2_ITERATIONS);
    assert.equal(DEFAULT_PBKDF2_ITERATIONS, 210_000);
  });

  test('$6$ is SHA-512(password ‖ salt) and $7$ is PBKDF2-HMAC-SHA512 with a 64-byte key', async () => {
    const salt = Buffer.alloc(12, 7);
    const six = parsePasswordHash(`$6$${SALT_B64}$${createHash('sha512').update('pw').update(salt).digest('base64')}`);
    const seven = parsePasswordHash(`$7$5$${SALT_B64}$${pbkdf2Sync('pw', salt, 5, 64, 'sha512').toString('base64')}`);
    assert.ok(six && seven);
    assert.equal(await verifyPassword(six, Buffer.from('pw')), true);
    assert.equal(await verifyPassword(seven, Buffer.from('pw')), true);
  });

  test('parsePasswordHash refuses what mosquitto_passwd never writes', () => {
    const bad = [
      '',
      'plaintext',
      `$5$${SALT_B64}$${HASH_B64}`,
      `$6$${SALT_B64}`,
      `$6$${SALT_B64}$${HASH_B64}$extra`,
      `$$6$${SALT_B64}$${HASH_B64}`,
      `$6$${Buffer.alloc(11).toString('base64')}$${HASH_B64}`,
      `$6$${SALT_B64}$${Buffer.alloc(32).toString('base64')}`,
      `$6$${SALT_B64}$${HASH_B64.replace(/=+$/, '')}`,
      `$6$${SALT_B64}$${HASH_B64.replace('C', '*')}`,
      `$7$0$${SALT_B64}$${HASH_B64}`,
      `$7$0101$${SALT_B64}$${HASH_B64}`,
      `$7$-5$${SALT_B64}$${HASH_B64}`,
      `$7$2147483648$${SALT_B64}$${HASH_B64}`,
      `$7$${SALT_B64}$${HASH_B64}`,
    ];
    for (const text of bad) assert.equal(parsePasswordHash(text), undefined, text);
    assert.ok(parsePasswordHash(`$7$2147483647$${SALT_B64}$${HASH_B64}`));
  });
});

describe('verifyPassword', () => {
  for (const kind of ['sha512', 'sha512-pbkdf2'] as const) {
    test(`${kind}: right password true, wrong false`, async () => {
      const hash = await hashPassword('correct horse', { kind, iterations: 1000 });
      assert.equal(await verifyPassword(hash, Buffer.from('correct horse')), true);
      assert.equal(await verifyPassword(hash, Buffer.from('correct horsf')), false);
      assert.equal(await verifyPassword(hash, Buffer.alloc(0)), false);
      // Mosquitto would stop at the NUL and accept this; moat hashes every byte.
      assert.equal(await verifyPassword(hash, Buffer.from('correct horse\0tail')), false);
    });
  }

  test('a 210 000-iteration verify runs off the event loop', async () => {
    const hash = await hashPassword('pw', { iterations: DEFAULT_PBKDF2_ITERATIONS });
    const order: string[] = [];
    const verifying = verifyPassword(hash, Buffer.from('pw')).then((ok) => order.push(`verified ${ok}`));
    setImmediate(() => order.push('immediate'));
    await new Promise((resolve) => setTimeout(resolve, 1));
    order.push('timer');
    await verifying;
    assert.deepEqual(order, ['immediate', 'timer', 'verified true']);
  });

  test('a SHA-512 verify is asynchronous too', async () => {
    const hash = await hashPassword('pw', { kind: 'sha512' });
    let settled = false;
    const verifying = verifyPassword(hash, Buffer.from('pw')).then((ok) => {
      settled = true;
      return ok;
    });
    await Promise.resolve();
    assert.equal(settled, false);
    assert.equal(await verifying, true);
  });
});

describe('files made by Debian mosquitto_passwd', () => {
  test('both hash kinds verify, and formatting reproduces the lines byte for byte', async () => {
    const file = join(dir, 'mosquitto.pw');
    await run(MOSQUITTO_PASSWD, ['-c', '-b', file, 'alice', 'alice-secret']);
    await run(MOSQUITTO_PASSWD, ['-H', 'sha512', '-b', file, 'bob', 'bob-secret']);
    await run(MOSQUITTO_PASSWD, ['-H', 'sha512-pbkdf2', '-b', file, 'carol', 'pässwörd']);
    const pwfile = await PasswordFile.load(file);
    assert.equal(pwfile.size, 3);
    assert.deepEqual(pwfile.usernames(), ['alice', 'bob', 'carol']);
    assert.equal(pwfile.lookup('alice')?.kind, 'sha512-pbkdf2');
    assert.equal(pwfile.lookup('bob')?.kind, 'sha512');
    for (const [user, password] of [['alice', 'alice-secret'], ['bob', 'bob-secret'], ['carol', 'pässwörd']] as const) {
      const hash = pwfile.lookup(user) as PasswordHash;
      assert.equal(await verifyPassword(hash, Buffer.from(password)), true, user);
      assert.equal(await verifyPassword(hash, Buffer.from(`${password}x`)), false, user);
    }
    const lines = (await readFile(file, 'utf8')).trimEnd().split('\n');
    assert.deepEqual(lines, pwfile.usernames().map((user) => `${user}:${formatPasswordHash(pwfile.lookup(user) as PasswordHash)}`));
  });
});

describe('PasswordFile.parse', () => {
  const hashed = `$6$${SALT_B64}$${HASH_B64}`;

  test('skips comments and blank lines; trims blanks and CR like Mosquitto', () => {
    // Only ASCII blanks are trimmed (C's isspace): a no-break space stays part of the name.
    const text = `# users\n\n   \nalice:${hashed}\r\n  bob  :  ${hashed}  \n\u00a0carol:${hashed}`;
    const pwfile = PasswordFile.parse(text, 'pw');
    assert.deepEqual(pwfile.usernames(), ['alice', 'bob', '\u00a0carol']);
    assert.equal(pwfile.lookup('carol'), undefined);
    assert.deepEqual(pwfile.warnings, []);
  });

  test('a username listed twice: the later line wins, as in Mosquitto, with a warning', async () => {
    const first = formatPasswordHash(await hashPassword('one', { iterations: 10 }));
    const second = formatPasswordHash(await hashPassword('two', { iterations: 10 }));
    const pwfile = PasswordFile.parse(`alice:${first}\nalice:${second}\n`, 'pw');
    assert.equal(pwfile.size, 1);
    assert.equal(await verifyPassword(pwfile.lookup('alice') as PasswordHash, Buffer.from('two')), true);
    assert.equal(pwfile.warnings.length, 1);
    assert.match(pwfile.warnings[0] ?? '', /^pw:2: user "alice" is also on line 1; this later line wins/);
  });

  test('every bad line is skipped with a warning naming file:line and the fix, never quoting passwords or hashes; the good users stay', () => {
    const text = [
      'alice:plain-secret',
      '# fine',
      'bob',
      `carol:$6$${SALT_B64}$AAAA`,
      'dave:',
      `:${hashed}`,
      `erin:$2y$10$abcdefghijklmnopqrstuv`,
      `frank:${hashed}`,
      `grace:${hashed}`,
    ].join('\n');
    const pwfile = PasswordFile.parse(text, 'users.pw');
    assert.deepEqual(pwfile.usernames(), ['frank', 'grace'], 'as Mosquitto: every malformed entry dropped, the rest kept');
    assert.deepEqual(pwfile.warnings.map((w) => Number(/^users\.pw:(\d+): /.exec(w)?.[1])), [1, 3, 4, 5, 6, 7]);
    for (const warning of pwfile.warnings) {
      assert.match(warning, /, so this line is skipped \(as Mosquitto skips it\) and the other users still log in\. Fix: .+\.$/);
    }
    assert.match(pwfile.warnings[0] ?? '', /^users\.pw:1: user "alice" has a plain-text password, which neither moat nor Mosquitto accepts.*Fix: run `moat passwd -U users\.pw`/);
    assert.match(pwfile.warnings[1] ?? '', /^users\.pw:3: this line is not USERNAME:HASH \(no ":"\)/);
    assert.match(pwfile.warnings[2] ?? '', /^users\.pw:4: user "carol" has a damaged \$6\$ hash.*Fix: set a new password with `moat passwd users\.pw carol`/);
    assert.match(pwfile.warnings[3] ?? '', /^users\.pw:5: user "dave" has no password hash/);
    assert.match(pwfile.warnings[4] ?? '', /^users\.pw:6: this line has no username before the ":"/);
    assert.match(pwfile.warnings[5] ?? '', /^users\.pw:7: user "erin" has a hash type Mosquitto does not support/);
    const all = pwfile.warnings.join('\n');
    for (const secret of ['plain-secret', SALT_B64, 'AAAA', 'abcdefghij']) assert.ok(!all.includes(secret), secret);
  });

  test('load: a missing file is a ConfigError of kind file on line 0 naming the path and the fix', async () => {
    const file = join(dir, 'missing.pw');
    const error = await PasswordFile.load(file).then(
      () => assert.fail('expected a ConfigError'),
      (e: unknown) => e,
    );
    assert.ok(error instanceof ConfigError);
    assert.equal(error.issues[0]?.kind, 'file');
    assert.equal(error.issues[0]?.line, 0);
    assert.match(error.message, new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: the password file does not exist\\. Fix: .*moat passwd -c`));
  });
});
