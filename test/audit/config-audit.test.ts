// `moat audit --config`: the checklist on small config texts, weak and hardened, with the exact
// finding ids and severities expected; plus the report's exit code and renderings.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { auditConfig } from '../../src/audit/config-audit.js';
import { buildReport, exitCodeFor, renderJson, renderText, type Finding } from '../../src/audit/findings.js';
import { formatPasswordHash, hashPassword } from '../../src/auth/password-file.js';
import { parseConfig } from '../../src/config/index.js';

let dir: string;
let strongPasswd: string;
let weakPasswd: string;
let ownSubtreeAcl: string;
let readAllAcl: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'moat-audit-config-'));
  const strong = await hashPassword('s3cret', { iterations: 20_000 });
  const sha512 = await hashPassword('old', { kind: 'sha512' });
  const fewRounds = await hashPassword('legacy', { iterations: 101 });
  strongPasswd = join(dir, 'strong.passwd');
  weakPasswd = join(dir, 'weak.passwd');
  await writeFile(strongPasswd, `alice:${formatPasswordHash(strong)}\n`);
  await writeFile(weakPasswd, `alice:${formatPasswordHash(strong)}\nbob:${formatPasswordHash(sha512)}\ncarol:${formatPasswordHash(fewRounds)}\n`);
  ownSubtreeAcl = join(dir, 'own.acl');
  readAllAcl = join(dir, 'all.acl');
  await writeFile(ownSubtreeAcl, 'user admin\ntopic readwrite #\n\npattern readwrite clients/%u/#\n');
  await writeFile(readAllAcl, 'topic read #\n\nuser alice\ntopic readwrite alice/#\n\npattern read #\n');
});

after(() => rm(dir, { recursive: true, force: true }));

/** "id:severity" for every finding, in checklist order. */
function verdicts(findings: readonly Finding[]): string[] {
  return findings.map((f) => `${f.id}:${f.severity}`);
}

/** An open-file limit with room to spare, so findings do not depend on the machine running the test. */
const AMPLE = { openFiles: 65_536 };

const HARDENED_LIMITS = 'max_queued_messages 1000\nmax_packet_size 1048576\nmessage_size_limit 262144\nsys_interval 10\n';

test('a plain listener on all interfaces with allow_anonymous true is critical', async () => {
  const config = parseConfig('listener 1883\nallow_anonymous true\nmax_queued_messages 0\nsys_interval 0\n', 'weak.conf');
  const findings = await auditConfig(config, AMPLE);
  assert.deepEqual(verdicts(findings), [
    'private-broker:info',
    'tls:warning',
    'anonymous-access:critical',
    'password-file:critical',
    'acl-file:warning',
    'max-connections:warning',
    'max-queued-messages:warning',
    'max-packet-size:warning',
    'message-size-limit:info',
    'auth-failure-limit:ok',
    'open-files:warning',
    'sys-interval:warning',
    'persistence:ok',
  ]);
  assert.equal(exitCodeFor(findings), 2);
  const byId = new Map(findings.map((f) => [f.id, f]));
  assert.equal(byId.get('max-connections')?.fix, 'max_connections 10000');
  assert.equal(byId.get('sys-interval')?.fix, 'sys_interval 10');
  assert.equal(byId.get('anonymous-access')?.fix, 'allow_anonymous false\npassword_file /etc/moat/passwd');
  assert.equal(byId.get('private-broker')?.fix, 'listener 1883 127.0.0.1');
});

test('a hardened TLS config with strong hashes and a per-user ACL has nothing above info', async () => {
  const text = [
    'listener 8883',
    'certfile /etc/moat/certs/server.crt',
    'keyfile /etc/moat/certs/server.key',
    'cafile /etc/moat/certs/ca.crt',
    'tls_version tlsv1.2',
    'require_certificate true',
    'max_connections 5000',
    `password_file ${strongPasswd}`,
    `acl_file ${ownSubtreeAcl}`,
    HARDENED_LIMITS,
  ].join('\n');
  const findings = await auditConfig(parseConfig(text, 'hardened.conf'), AMPLE);
  assert.deepEqual(verdicts(findings), [
    'private-broker:info',
    'tls:ok',
    'tls-version:ok',
    'client-certificates:ok',
    'anonymous-access:ok',
    'password-file:ok',
    'password-hashes:ok',
    'acl-file:ok',
    'acl-read-all:ok',
    'max-connections:ok',
    'max-queued-messages:ok',
    'max-packet-size:ok',
    'message-size-limit:ok',
    'auth-failure-limit:ok',
    'open-files:ok',
    'sys-interval:ok',
    'persistence:ok',
  ]);
  assert.equal(exitCodeFor(findings), 0);
});

test('passwords over a plain network listener are critical; a plain listener beside TLS is a warning', async () => {
  const text = [
    'per_listener_settings true',
    'listener 1883',
    `password_file ${strongPasswd}`,
    'listener 1884',
    'allow_anonymous true',
    'listener 8883',
    'certfile /etc/moat/certs/server.crt',
    'keyfile /etc/moat/certs/server.key',
    `password_file ${strongPasswd}`,
  ].join('\n');
  const findings = await auditConfig(parseConfig(text, 'mixed.conf'), AMPLE);
  const tls = findings.filter((f) => f.id === 'tls' || f.id === 'plaintext-beside-tls' || f.id === 'tls-version' || f.id === 'client-certificates');
  assert.deepEqual(verdicts(tls), ['tls:critical', 'plaintext-beside-tls:warning', 'tls-version:info', 'client-certificates:info']);
  assert.match(tls[0]?.title ?? '', /port 1883/);
  assert.match(tls[1]?.title ?? '', /port 1884/);
  assert.equal(tls[2]?.fix, 'tls_version tlsv1.2');
  // 1884 lets anonymous clients in and has no password file of its own.
  assert.deepEqual(verdicts(findings.filter((f) => f.id === 'anonymous-access' || f.id === 'password-file')), [
    'anonymous-access:critical',
    'password-file:critical',
    'password-file:ok',
  ]);
});

test('$6$ hashes and $7$ hashes with few iterations are flagged with the moat passwd command for each user', async () => {
  const text = `listener 8883\ncertfile /c.crt\nkeyfile /c.key\npassword_file ${weakPasswd}\nacl_file ${ownSubtreeAcl}\n`;
  const findings = await auditConfig(parseConfig(text, 'hashes.conf'), AMPLE);
  const hashes = findings.filter((f) => f.id === 'password-hashes');
  assert.deepEqual(verdicts(hashes), ['password-hashes:warning']);
  assert.match(hashes[0]?.title ?? '', /2 weak password hashes .*re-hash with moat passwd/);
  assert.match(hashes[0]?.detail ?? '', /bob \(\$6\$/);
  assert.match(hashes[0]?.detail ?? '', /carol \(\$7\$: 101 PBKDF2 iterations\)/);
  assert.equal(hashes[0]?.fix, `moat passwd ${weakPasswd} bob\nmoat passwd ${weakPasswd} carol`);
});

test('an ACL that lets everyone (pattern) or anonymous clients (topic) read # is a warning per rule', async () => {
  const text = `listener 8883\ncertfile /c.crt\nkeyfile /c.key\npassword_file ${strongPasswd}\nacl_file ${readAllAcl}\n`;
  const findings = await auditConfig(parseConfig(text, 'acl.conf'), AMPLE);
  const readAll = findings.filter((f) => f.id === 'acl-read-all');
  assert.deepEqual(verdicts(readAll), ['acl-read-all:warning', 'acl-read-all:warning']);
  assert.match(readAll[0]?.title ?? '', /all\.acl:1 lets anonymous clients read every topic/);
  assert.match(readAll[1]?.title ?? '', /all\.acl:6 lets every client read every topic/);
  assert.equal(readAll[1]?.fix, `replace line 6 of ${readAllAcl} with: pattern read clients/%u/#`);
});

test('missing password and ACL files are findings, not crashes', async () => {
  const missing = join(dir, 'nope');
  const text = `listener 8883\ncertfile /c.crt\nkeyfile /c.key\npassword_file ${missing}.passwd\nacl_file ${missing}.acl\n`;
  const findings = await auditConfig(parseConfig(text, 'missing.conf'), AMPLE);
  const files = findings.filter((f) => f.id === 'password-file' || f.id === 'acl-file');
  assert.deepEqual(verdicts(files), ['password-file:warning', 'acl-file:warning']);
  assert.match(files[0]?.detail ?? '', /does not exist/);
});

test('a password file with a malformed line: the users that parse count, the skipped line is a warning naming file:line', async () => {
  const strong = await hashPassword('s3cret', { iterations: 20_000 });
  const mixed = join(dir, 'mixed.passwd');
  await writeFile(mixed, `alice:${formatPasswordHash(strong)}\nbob:hunter2\n`);
  const text = `listener 8883\ncertfile /c.crt\nkeyfile /c.key\npassword_file ${mixed}\n`;
  const files = (await auditConfig(parseConfig(text, 'mixed.conf'), AMPLE)).filter((f) => f.id === 'password-file');
  assert.deepEqual(verdicts(files), ['password-file:ok', 'password-file:warning']);
  assert.equal(files[0]?.detail, '1 user.');
  assert.equal(files[1]?.title, `The password file ${mixed} has 1 line to fix`);
  assert.match(files[1]?.detail ?? '', new RegExp(`^${mixed.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:2: user "bob" has a plain-text password`));
  assert.ok(!(files[1]?.detail ?? '').includes('hunter2'), 'the password itself is not quoted');
});

test('local-only mode (no listener) is private; anonymous access there is only info', async () => {
  const findings = await auditConfig(parseConfig(HARDENED_LIMITS, 'local.conf'), AMPLE);
  assert.deepEqual(verdicts(findings.slice(0, 4)), ['private-broker:ok', 'tls:ok', 'anonymous-access:info', 'acl-file:info']);
  assert.equal(findings.some((f) => f.id === 'password-file'), false);
  // max_connections stays at its default -1 (unlimited): warned about as such and as no bound below the open-file limit.
  assert.equal(exitCodeFor(findings), 1);
});

test('the report sorts worst first and renders text and JSON', async () => {
  const findings = await auditConfig(parseConfig('listener 1883 127.0.0.1\nallow_anonymous true\nmax_connections 100\n' + HARDENED_LIMITS, 'local.conf'), AMPLE);
  const report = buildReport('local.conf', findings);
  assert.equal(report.exitCode, 0);
  assert.deepEqual(report.summary, { critical: 0, warning: 0, info: 2, ok: 10 });
  assert.deepEqual(report.findings.map((f) => f.severity).slice(0, 3), ['info', 'info', 'ok']);
  const text = renderText(report);
  assert.match(text, /^moat audit: local\.conf\n/);
  assert.match(text, /\nINFO {6}Anonymous clients may connect to 127\.0\.0\.1:1883 \(this machine only\) \[anonymous-access\]\n {10}.*\n {10}fix: allow_anonymous false\n/);
  assert.match(text, /\n0 critical, 0 warnings, 2 info, 10 ok \(exit code 0\)\n$/);
  const json = JSON.parse(renderJson(report)) as { target: string; exitCode: number; findings: Finding[] };
  assert.equal(json.target, 'local.conf');
  assert.equal(json.exitCode, 0);
  assert.deepEqual(Object.keys(json.findings[0] ?? {}), ['id', 'severity', 'title', 'detail', 'fix']);
});

test('max_connections needs headroom below the open-file limit: each client is a file descriptor', async () => {
  const config = parseConfig('listener 1883 127.0.0.1\nallow_anonymous true\nmax_connections 3000\nlistener 1884 127.0.0.1\nmax_connections 3000\n', 'fds.conf');
  const headroom = async (openFiles: number | undefined): Promise<Finding | undefined> => (await auditConfig(config, { openFiles })).find((f) => f.id === 'open-files');
  const tight = await headroom(1024);
  assert.equal(tight?.severity, 'warning');
  assert.match(tight?.title ?? '', /max_connections \(6000 in all\) is above the open-file limit \(1024\)/);
  assert.match(tight?.detail ?? '', /clients past about 960 fail with EMFILE/);
  assert.match(tight?.fix ?? '', /ulimit -n 65535.*LimitNOFILE=65535/);
  assert.equal((await headroom(6000))?.severity, 'warning', 'the broker needs descriptors of its own too');
  assert.equal((await headroom(65_536))?.severity, 'ok');
  assert.equal((await headroom(undefined))?.severity, 'info');
  // Read from this machine when not given: some verdict, never a crash.
  assert.ok((await auditConfig(config)).some((f) => f.id === 'open-files'));
});

test('the admin listener: open on loopback is info, with a token ok; off loopback plain HTTP is a warning, HTTPS ok; none, no finding', async () => {
  const base = 'listener 1883 127.0.0.1\nallow_anonymous true\n';
  const adminOf = async (lines: string): Promise<Finding | undefined> => (await auditConfig(parseConfig(base + lines, 'admin.conf'), AMPLE)).find((f) => f.id === 'admin-listener');
  assert.equal(await adminOf(''), undefined);
  const open = await adminOf('admin_listener 9100\n');
  assert.equal(open?.severity, 'info');
  assert.match(open?.detail ?? '', /admin_listener 9100 127\.0\.0\.1 \(admin\.conf:3\) has no admin_token/);
  assert.equal((await adminOf('admin_listener 9100\nadmin_token 0123456789abcdef0123\n'))?.severity, 'ok');
  const clear = await adminOf('admin_listener 9100 0.0.0.0\nadmin_token 0123456789abcdef0123\n');
  assert.deepEqual([clear?.severity, clear?.title], ['warning', 'The admin token crosses the network in clear']);
  assert.match(clear?.fix ?? '', /admin_certfile .* admin_keyfile/);
  const https = await adminOf('admin_listener 9100 0.0.0.0\nadmin_token 0123456789abcdef0123\nadmin_certfile /etc/moat/admin.crt\nadmin_keyfile /etc/moat/admin.key\n');
  assert.equal(https?.severity, 'ok');
});

test('durability: persistence on is ok, off is info; a cluster Redis on loopback is ok, off it without TLS or a password a warning naming what is missing', async () => {
  const base = 'listener 1883 127.0.0.1\nallow_anonymous true\n';
  const of = async (lines: string, id: string): Promise<Finding | undefined> => (await auditConfig(parseConfig(base + lines, 'd.conf'), AMPLE)).find((f) => f.id === id);
  assert.equal((await of('', 'persistence'))?.severity, 'ok');
  const off = await of('persistence false\n', 'persistence');
  assert.deepEqual([off?.severity, off?.title], ['info', 'Acknowledged messages are kept in memory only']);
  assert.equal((await of('cluster_redis redis://127.0.0.1:6379\n', 'cluster-redis'))?.severity, 'ok');
  const clear = await of('cluster_redis redis://redis.internal:6379\n', 'cluster-redis');
  assert.deepEqual([clear?.severity, clear?.title], ['warning', "The cluster's Redis is reached without TLS or a password"]);
  assert.match(clear?.fix ?? '', /rediss:\/\//);
  const noPassword = await of('cluster_redis rediss://redis.internal:6380\n', 'cluster-redis');
  assert.equal(noPassword?.title, "The cluster's Redis is reached without a password");
  const good = await of('cluster_redis rediss://moat:s3cret@redis.internal:6380\n', 'cluster-redis');
  assert.equal(good?.severity, 'ok');
  assert.ok(!JSON.stringify(good).includes('s3cret'), 'the password never appears in a finding');
});
