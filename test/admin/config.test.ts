// admin_listener and its options: ports at their bounds, loopback by default, a token required
// off loopback (a config error naming file:line and the fix, also from a real `moat broker`),
// one token option, a certificate with its key, token length, the token file read at start.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer } from 'node:net';
import { after, test } from 'node:test';
import { silentLogger } from '../../src/broker/logger.js';
import { ConfigError, parseConfig, type BrokerConfig } from '../../src/config/index.js';
import { startServer } from '../../src/server/start-server.js';
import { moatCommand, spawnTracked } from '../kit/index.js';

const dir = mkdtempSync(join(tmpdir(), 'moat-admin-config-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const TOKEN = '0123456789abcdef0123456789abcdef';
const BASE = 'listener 1883 127.0.0.1\nallow_anonymous true\n';

function parse(lines: string): BrokerConfig {
  return parseConfig(`${BASE}${lines}`, 'admin.conf');
}

function errors(lines: string): string[] {
  try {
    parse(lines);
  } catch (error) {
    assert.ok(error instanceof ConfigError, String(error));
    return error.issues.map((i) => i.message);
  }
  assert.fail(`"${lines.trim()}" should not parse`);
}

test('admin_listener is off by default, on 127.0.0.1 when no address is given, at any port 0-65535', () => {
  assert.equal(parse('').admin, undefined);
  assert.deepEqual(parse('admin_listener 9100\n').admin, { port: 9100, host: '127.0.0.1', source: { file: 'admin.conf', line: 3 } });
  assert.equal(parse('admin_listener 0\n').admin?.port, 0);
  assert.equal(parse('admin_listener 65535\n').admin?.port, 65535);
  assert.equal(parse('admin_listener 9100 ::1\n').admin?.host, '::1');
  assert.equal(parse('admin_listener 9100 localhost\n').admin?.host, 'localhost');
  for (const bad of ['65536', '-1', '9100.5', 'http', '99999999999999999999']) {
    assert.deepEqual(errors(`admin_listener ${bad}\n`), [`admin.conf:3: admin_listener expects a port 0-65535 (0 = any free port), got "${bad}". Fix: write e.g. "admin_listener 9100" (127.0.0.1) or "admin_listener 9100 0.0.0.0" (with admin_token_file).`]);
  }
  assert.match(errors('admin_listener\n')[0] ?? '', /^admin\.conf:3: admin_listener needs a port/);
  assert.match(errors('admin_listener 9100 0.0.0.0 extra\n')[0] ?? '', /takes a port and an optional bind address/);
  assert.match(errors('admin_listener 9100 [::1]\n')[0] ?? '', /without brackets/);
  assert.match(errors('admin_listener 9100\nadmin_listener 9101\n')[0] ?? '', /^admin\.conf:4: admin_listener is already set at admin\.conf:3/);
});

test('a token is required on any address other machines reach: the error names file:line and the fix', () => {
  assert.deepEqual(errors('admin_listener 9100 0.0.0.0\n'), [
    'admin.conf:3: admin_listener on 0.0.0.0:9100 is reachable from other machines, and without a token anyone there could list clients and disconnect them. Fix: add "admin_token_file /etc/moat/admin-token" (a file holding a token from "openssl rand -hex 32"), or bind it to 127.0.0.1',
  ]);
  assert.match(errors('admin_listener 9100 ::\n')[0] ?? '', /admin_listener on \[::\]:9100 is reachable/);
  assert.match(errors('admin_listener 9100 192.168.1.10\n')[0] ?? '', /reachable from other machines/);
  // With a token it starts; without TLS it warns that the token travels in clear.
  const config = parse(`admin_listener 9100 0.0.0.0\nadmin_token ${TOKEN}\n`);
  assert.equal(config.admin?.token, TOKEN);
  assert.match(config.warnings.map((w) => w.message).join('\n'), /admin\.conf:3: admin_listener on 0\.0\.0\.0:9100 sends its token and the client list unencrypted/);
  const tls = parse('admin_listener 9100 0.0.0.0\nadmin_token_file /etc/moat/admin-token\nadmin_certfile /etc/moat/a.crt\nadmin_keyfile /etc/moat/a.key\n');
  assert.deepEqual(tls.admin?.tls, { certfile: '/etc/moat/a.crt', keyfile: '/etc/moat/a.key' });
  assert.equal(tls.admin?.tokenFile, '/etc/moat/admin-token');
  assert.deepEqual(tls.warnings, []);
});

test('one token option, long enough; a certificate with its key; admin_* without admin_listener warns', () => {
  assert.match(errors(`admin_listener 9100\nadmin_token ${TOKEN}\nadmin_token_file /etc/moat/t\n`)[0] ?? '', /^admin\.conf:5: admin_token is already set at admin\.conf:4/);
  assert.deepEqual(errors('admin_listener 9100\nadmin_token short\n'), ['admin.conf:4: admin_token is 5 characters long; an admin token must have at least 16. Fix: generate one with "openssl rand -hex 32" and put it in a file named by "admin_token_file PATH".']);
  assert.equal(parse(`admin_listener 9100\nadmin_token ${'x'.repeat(16)}\n`).admin?.token, 'x'.repeat(16));
  assert.match(errors(`admin_listener 9100\nadmin_token ${'x'.repeat(15)}\n`)[0] ?? '', /admin_token is 15 characters long; an admin token must have at least 16/);
  assert.match(errors('admin_listener 9100\nadmin_token two words\n')[0] ?? '', /admin_token takes one value/);
  assert.match(errors('admin_listener 9100\nadmin_certfile /a.crt\n')[0] ?? '', /^admin\.conf:4: the admin listener has admin_certfile but no admin_keyfile\. Fix: give both/);
  assert.match(errors('admin_listener 9100\nadmin_keyfile /a.key\n')[0] ?? '', /admin_keyfile but no admin_certfile/);
  const orphan = parse(`admin_token ${TOKEN}\n`);
  assert.equal(orphan.admin, undefined);
  assert.deepEqual(orphan.warnings.map((w) => w.message), ['admin.conf:3: admin_token has no effect without "admin_listener PORT". Fix: add "admin_listener 9100", or remove the line.']);
});

test('admin_token_file is read at start: its first line is the token; an empty or short one is an error naming the line', async () => {
  const empty = join(dir, 'empty-token');
  writeFileSync(empty, '\n');
  await assert.rejects(startServer(parse(`admin_listener 0\nadmin_token_file ${empty}\n`), { logger: silentLogger }), (error: unknown) => {
    assert.ok(error instanceof ConfigError);
    assert.equal(error.message, `admin.conf:4: admin_token_file ${empty} is empty. Fix: write one token on its first line, e.g. "openssl rand -hex 32 > ${empty}"`);
    return true;
  });
  const short = join(dir, 'short-token');
  writeFileSync(short, 'abc\n');
  await assert.rejects(startServer(parse(`admin_listener 0\nadmin_token_file ${short}\n`), { logger: silentLogger }), /admin\.conf:4: the token in .*short-token is 3 characters long/);
  await assert.rejects(startServer(parse(`admin_listener 0\nadmin_token_file ${join(dir, 'missing')}\n`), { logger: silentLogger }), /admin\.conf:4: cannot read admin_token_file .*missing: ENOENT/);
});

test('moat broker refuses an admin listener on 0.0.0.0 without a token: exit 2, file:line on stderr', async () => {
  const file = join(dir, 'open.conf');
  writeFileSync(file, 'listener 0 127.0.0.1\nallow_anonymous true\n\nadmin_listener 0 0.0.0.0\n');
  const { command, args } = moatCommand(['broker', '-c', file]);
  const child = await spawnTracked(command, args, { name: 'moat' });
  const result = await child.exited;
  assert.equal(result.code, 2);
  assert.match(child.stderr.join('\n'), new RegExp(`${file.replace(/[.]/g, '\\.')}:4: admin_listener on 0\\.0\\.0\\.0:0 is reachable from other machines.*Fix: add "admin_token_file`));
  assert.ok(!child.logs.some((l) => l.includes('"listening"')), 'nothing listened');
});

test('an admin port already taken: moat broker exits 1 after listen_failed names the admin_listener line; nothing stays open', async () => {
  const holder = createServer();
  await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
  const taken = (holder.address() as { port: number }).port;
  try {
    const file = join(dir, 'taken.conf');
    writeFileSync(file, `listener 0 127.0.0.1\nallow_anonymous true\nadmin_listener ${taken}\n`);
    const { command, args } = moatCommand(['broker', '-c', file]);
    const child = await spawnTracked(command, args, { name: 'moat' });
    const result = await child.exited;
    assert.equal(result.code, 1);
    const line = child.logs.find((l) => l.includes('"listen_failed"'));
    const failed = line === undefined ? undefined : (JSON.parse(line) as Record<string, unknown>);
    assert.equal(failed?.['msg'], `cannot open the admin listener on 127.0.0.1:${taken} (${file}:3)`);
    assert.match(String(failed?.['err']), /EADDRINUSE/);
  } finally {
    await new Promise<void>((resolve) => holder.close(() => resolve()));
  }
});
