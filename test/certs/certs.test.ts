// `moat certs`: the generated CA, server and client certificates verify with Node's X509Certificate,
// carry the right SANs and usages, and — the real proof — a moat TLS listener built from them
// accepts mosquitto_pub, with and without require_certificate.
import assert from 'node:assert/strict';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { CertsError, generateCerts, serverSans, type GeneratedCerts } from '../../src/certs/generate.js';
import { runMosquittoPub } from '../kit/clients.js';
import { moatCommand, startMoat, type RunningMoat } from '../kit/moat.js';
import { spawnTracked } from '../kit/process.js';

let root: string;
let dir: string;
let result: GeneratedCerts;
const brokers: RunningMoat[] = [];

before(async () => {
  root = mkdtempSync(join(tmpdir(), 'moat-certs-'));
  dir = join(root, 'certs');
  result = await generateCerts({ dir, sans: ['broker.example', '10.9.8.7', 'fd00::5'], clients: ['alice'] });
});

after(async () => {
  await Promise.all(brokers.map((b) => b.stop()));
  rmSync(root, { recursive: true, force: true });
});

const x509 = (path: string): X509Certificate => new X509Certificate(readFileSync(path));
const keyMatches = (cert: string, key: string): boolean => x509(cert).checkPrivateKey(createPrivateKey(readFileSync(key)));

test('the CA is a CA, self-signed, and its key matches', () => {
  const ca = x509(result.ca.cert);
  assert.equal(ca.ca, true);
  assert.equal(ca.verify(ca.publicKey), true);
  assert.equal(keyMatches(result.ca.cert, result.ca.key), true);
  assert.equal(result.ca.reused, false);
});

test('the server certificate verifies against the CA and names localhost, 127.0.0.1, ::1, the host name and every --san', () => {
  const ca = x509(result.ca.cert);
  const server = x509(result.server.cert);
  assert.equal(server.ca, false);
  assert.equal(server.verify(ca.publicKey), true);
  assert.equal(server.checkIssued(ca), true);
  assert.equal(server.checkHost('localhost'), 'localhost');
  assert.equal(server.checkIP('127.0.0.1'), '127.0.0.1');
  assert.equal(server.checkIP('::1'), '::1');
  assert.equal(server.checkHost('broker.example'), 'broker.example');
  assert.equal(server.checkIP('10.9.8.7'), '10.9.8.7');
  assert.equal(server.checkIP('fd00::5'), 'fd00::5');
  assert.equal(server.checkHost('10.9.8.7'), undefined, 'an IP --san is an IP SAN, not a DNS one');
  assert.equal(server.checkHost('other.example'), undefined);
  assert.deepEqual(server.keyUsage, ['1.3.6.1.5.5.7.3.1'], 'extKeyUsage serverAuth');
  assert.equal(keyMatches(result.server.cert, result.server.key), true);
  assert.match(server.serialNumber, /^[0-9A-F]{32}$/);
});

test('the client certificate verifies against the CA, has CN=name and clientAuth', () => {
  const [alice] = result.clients;
  assert.ok(alice);
  assert.equal(alice.name, 'alice');
  const cert = x509(alice.cert);
  assert.equal(cert.verify(x509(result.ca.cert).publicKey), true);
  assert.match(cert.subject, /^CN=alice$/m);
  assert.deepEqual(cert.keyUsage, ['1.3.6.1.5.5.7.3.2']);
  assert.equal(keyMatches(alice.cert, alice.key), true);
});

test('key files are mode 0600', () => {
  for (const key of [result.ca.key, result.server.key, ...result.clients.map((c) => c.key)]) {
    assert.equal(statSync(key).mode & 0o777, 0o600, key);
  }
});

test('serverSans turns IP strings into IP SANs, everything else into DNS SANs, without duplicates', () => {
  assert.deepEqual(serverSans(['Broker.Example', '::1', '192.168.1.2', 'localhost'], 'myhost'), [
    { type: 'DNS', value: 'localhost' },
    { type: 'IP', value: '127.0.0.1' },
    { type: 'IP', value: '::1' },
    { type: 'DNS', value: 'myhost' },
    { type: 'DNS', value: 'broker.example' },
    { type: 'IP', value: '192.168.1.2' },
  ]);
});

test('an existing CA is reused; --force replaces it', async () => {
  const second = join(root, 'reuse');
  mkdirSync(second);
  copyFileSync(result.ca.cert, join(second, 'ca.crt'));
  copyFileSync(result.ca.key, join(second, 'ca.key'));
  const reused = await generateCerts({ dir: second });
  assert.equal(reused.ca.reused, true);
  assert.equal(readFileSync(reused.ca.cert, 'utf8'), readFileSync(result.ca.cert, 'utf8'));
  assert.equal(x509(reused.server.cert).verify(x509(result.ca.cert).publicKey), true);

  const forced = await generateCerts({ dir: second, force: true });
  assert.equal(forced.ca.reused, false);
  assert.notEqual(x509(forced.ca.cert).fingerprint256, x509(result.ca.cert).fingerprint256);
  assert.equal(x509(forced.server.cert).verify(x509(forced.ca.cert).publicKey), true);
  assert.equal(statSync(forced.ca.key).mode & 0o777, 0o600);
});

test('existing server or client files, a bad client name, bad --days or an unusable dir are a CertsError and nothing is written', async () => {
  await assert.rejects(generateCerts({ dir }), (e: unknown) => e instanceof CertsError && /server\.crt already exists; pass --force/.test(e.message));
  const empty = join(root, 'bad-input');
  await assert.rejects(generateCerts({ dir: empty, clients: ['../evil'] }), CertsError);
  await assert.rejects(generateCerts({ dir: empty, clients: ['server'] }), CertsError);
  await assert.rejects(generateCerts({ dir: empty, days: 0 }), CertsError);
  const file = join(root, 'a-file');
  writeFileSync(file, '');
  await assert.rejects(generateCerts({ dir: join(file, 'certs') }), (e: unknown) => e instanceof CertsError && /^cannot write certificates to /.test(e.message));
  // Node 20's recursive mkdir spins forever here; moat's own mkdir -p must fail at once.
  await assert.rejects(generateCerts({ dir: '/proc/moat-no-such-dir/certs' }), (e: unknown) => e instanceof CertsError && /ENOENT/.test(e.message));
  const halfCa = join(root, 'half-ca');
  mkdirSync(halfCa);
  copyFileSync(result.ca.cert, join(halfCa, 'ca.crt'));
  await assert.rejects(generateCerts({ dir: halfCa }), (e: unknown) => e instanceof CertsError && /exists without its key/.test(e.message));
  assert.deepEqual(readdirSync(halfCa), ['ca.crt']);
});

const tlsLines = (extra = ''): string =>
  `listener 0 127.0.0.1\nallow_anonymous true\ncafile ${result.ca.cert}\ncertfile ${result.server.cert}\nkeyfile ${result.server.key}\n${extra}`;

test('a moat TLS listener with the generated files accepts mosquitto_pub --cafile on localhost', { timeout: 20_000 }, async () => {
  const moat = await startMoat({ config: tlsLines() });
  brokers.push(moat);
  const out = await runMosquittoPub(['--cafile', result.ca.cert, '-h', 'localhost', '-p', String(moat.port), '-t', 'x', '-m', 'y'], { check: false });
  assert.equal(out.code, 0, out.stderr.join('\n'));
});

test('with require_certificate true, mosquitto_pub connects with the generated client certificate and not without', { timeout: 20_000 }, async () => {
  const moat = await startMoat({ config: tlsLines('require_certificate true\n') });
  brokers.push(moat);
  const [alice] = result.clients;
  assert.ok(alice);
  const common = ['--cafile', result.ca.cert, '-h', 'localhost', '-p', String(moat.port), '-t', 'x', '-m', 'y'];
  const withCert = await runMosquittoPub([...common, '--cert', alice.cert, '--key', alice.key], { check: false });
  assert.equal(withCert.code, 0, withCert.stderr.join('\n'));
  const without = await runMosquittoPub(common, { check: false });
  assert.notEqual(without.code, 0);
});

test('`moat certs --dir` prints the listener lines with absolute paths; a second run exits 2 with one sentence', { timeout: 20_000 }, async () => {
  const cliDir = join(root, 'cli');
  const { command, args } = moatCommand(['certs', '--dir', cliDir, '--client', 'bob']);
  const run = await spawnTracked(command, args, { name: 'moat certs' });
  const exit = await run.exited;
  assert.equal(exit.code, 0, run.logs.join('\n'));
  for (const line of [
    'listener 8883',
    `cafile ${join(cliDir, 'ca.crt')}`,
    `certfile ${join(cliDir, 'server.crt')}`,
    `keyfile ${join(cliDir, 'server.key')}`,
    'require_certificate true',
    'use_identity_as_username true',
  ]) {
    assert.ok(run.stdout.includes(line), `missing "${line}" in:\n${run.stdout.join('\n')}`);
  }
  // The printed broker lines are a config moat starts with (it refuses a reachable listener with no
  // way to log in): on any free port, on all interfaces, and bob's certificate gets in.
  const printed = run.stdout.slice(run.stdout.findIndex((l) => l.startsWith('# Broker:')) + 1);
  const brokerLines = printed.slice(0, printed.indexOf('')).map((l) => (l === 'listener 8883' ? 'listener 0' : l));
  const printedBroker = await startMoat({ config: `${brokerLines.join('\n')}\n` });
  try {
    const pub = await runMosquittoPub(['-h', 'localhost', '-p', String(printedBroker.port), '--cafile', join(cliDir, 'ca.crt'), '--cert', join(cliDir, 'bob.crt'), '--key', join(cliDir, 'bob.key'), '-t', 'test', '-m', 'hello', '-d']);
    assert.equal(pub.code, 0, [...pub.stdout, ...pub.stderr].join('\n'));
    assert.ok(printedBroker.logs.some((l) => l.includes('"username":"bob"')), printedBroker.logs.join('\n'));
  } finally {
    await printedBroker.stop();
  }
  assert.ok(run.stdout.some((l) => l.includes(`--cafile ${join(cliDir, 'ca.crt')} --cert ${join(cliDir, 'bob.crt')} --key ${join(cliDir, 'bob.key')}`)));
  assert.equal(x509(join(cliDir, 'bob.crt')).verify(x509(join(cliDir, 'ca.crt')).publicKey), true);

  const again = await spawnTracked(command, args, { name: 'moat certs again' });
  assert.equal((await again.exited).code, 2);
  assert.equal(again.stderr.length, 1, again.stderr.join('\n'));
  assert.match(again.stderr[0] ?? '', /^moat certs: .*server\.crt already exists; pass --force/);
});
