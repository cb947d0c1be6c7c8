// `moat certs`: the generated CA, server and client certificates verify with Node's X509Certificate
// and openssl, carry the right key type, SANs and usages, an existing CA of either key type is
// reused, and — the real proof — a moat TLS listener built from them accepts mosquitto_pub, with and
// without require_certificate.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
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

const openssl = (args: string[]): string => execFileSync('openssl', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
const curve = (path: string): string | undefined => x509(path).publicKey.asymmetricKeyDetails?.namedCurve;

test('by default every key is ECDSA P-256 (prime256v1), signed with ecdsa-with-SHA256; the chain verifies with openssl', () => {
  assert.equal(result.keyType, 'ec');
  for (const path of [result.ca.cert, result.server.cert, ...result.clients.map((c) => c.cert)]) {
    assert.equal(curve(path), 'prime256v1', path);
    assert.match(openssl(['x509', '-in', path, '-noout', '-text']), /Signature Algorithm: ecdsa-with-SHA256/);
  }
  assert.equal(createPrivateKey(readFileSync(result.ca.key)).asymmetricKeyType, 'ec');
  const verified = openssl(['verify', '-CAfile', result.ca.cert, '-purpose', 'sslserver', result.server.cert]);
  assert.match(verified, /: OK$/m);
  const client = result.clients[0];
  assert.ok(client);
  assert.match(openssl(['verify', '-CAfile', result.ca.cert, '-purpose', 'sslclient', client.cert]), /: OK$/m);
});

test('extensions: the CA is critical CA:TRUE pathlen:0 with keyCertSign/cRLSign; leaves are CA:FALSE, digitalSignature only (EC), with key identifiers', () => {
  const ca = openssl(['x509', '-in', result.ca.cert, '-noout', '-ext', 'basicConstraints,keyUsage,subjectKeyIdentifier']);
  assert.match(ca, /Basic Constraints: critical\n\s+CA:TRUE, pathlen:0/);
  assert.match(ca, /Key Usage: critical\n\s+Certificate Sign, CRL Sign/);
  const caKeyId = /Subject Key Identifier: \n\s+(\S+)/.exec(ca)?.[1];
  assert.ok(caKeyId);
  const server = openssl(['x509', '-in', result.server.cert, '-noout', '-ext', 'basicConstraints,keyUsage,extendedKeyUsage,subjectKeyIdentifier,authorityKeyIdentifier']);
  assert.match(server, /Basic Constraints: critical\n\s+CA:FALSE/);
  assert.match(server, /Key Usage: critical\n\s+Digital Signature\n/);
  assert.match(server, /Extended Key Usage: \n\s+TLS Web Server Authentication/);
  assert.match(server, /Subject Key Identifier: \n\s+[0-9A-F:]{59}/);
  assert.ok(server.includes(caKeyId), 'authorityKeyIdentifier is the CA\'s subjectKeyIdentifier');
});

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

test('--key-type rsa: RSA-2048 keys, sha256WithRSAEncryption, keyUsage with keyEncipherment', async () => {
  const rsa = await generateCerts({ dir: join(root, 'rsa'), keyType: 'rsa', clients: ['carol'] });
  assert.equal(rsa.ca.keyLabel, 'RSA-2048');
  for (const path of [rsa.ca.cert, rsa.server.cert, ...rsa.clients.map((c) => c.cert)]) {
    assert.equal(x509(path).publicKey.asymmetricKeyDetails?.modulusLength, 2048, path);
    assert.match(openssl(['x509', '-in', path, '-noout', '-text']), /Signature Algorithm: sha256WithRSAEncryption/);
  }
  assert.match(openssl(['x509', '-in', rsa.server.cert, '-noout', '-ext', 'keyUsage']), /Digital Signature, Key Encipherment/);
  assert.match(openssl(['verify', '-CAfile', rsa.ca.cert, rsa.server.cert]), /: OK$/m);
  assert.equal(statSync(rsa.ca.key).mode & 0o777, 0o600);
});

test('a CA of either key type is reused to sign the other: RSA CA → P-256 leaves, P-256 CA (made by openssl) → RSA leaves', async () => {
  const rsaDir = join(root, 'rsa-ca');
  const rsaCa = await generateCerts({ dir: rsaDir, keyType: 'rsa' });
  rmSync(rsaCa.server.cert);
  rmSync(rsaCa.server.key);
  const ecLeaves = await generateCerts({ dir: rsaDir, clients: ['dave'] });
  assert.equal(ecLeaves.ca.reused, true);
  assert.equal(ecLeaves.ca.keyLabel, 'RSA-2048');
  assert.equal(curve(ecLeaves.server.cert), 'prime256v1');
  assert.match(openssl(['x509', '-in', ecLeaves.server.cert, '-noout', '-text']), /Signature Algorithm: sha256WithRSAEncryption/);
  assert.match(openssl(['verify', '-CAfile', rsaCa.ca.cert, ecLeaves.server.cert, join(rsaDir, 'dave.crt')]), /dave\.crt: OK$/m);

  // An openssl-made P-256 CA, in SEC1 form ("EC PRIVATE KEY"), as older guides write it.
  const sslDir = join(root, 'openssl-ca');
  mkdirSync(sslDir);
  openssl(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', join(sslDir, 'ca.key')]);
  openssl(['req', '-x509', '-new', '-key', join(sslDir, 'ca.key'), '-out', join(sslDir, 'ca.crt'), '-days', '2', '-subj', '/O=Acme, Inc./CN=acme test CA']);
  assert.match(readFileSync(join(sslDir, 'ca.key'), 'utf8'), /BEGIN EC PRIVATE KEY/);
  const rsaLeaves = await generateCerts({ dir: sslDir, keyType: 'rsa', clients: ['erin'] });
  assert.equal(rsaLeaves.ca.keyLabel, 'ECDSA P-256');
  assert.equal(x509(rsaLeaves.server.cert).publicKey.asymmetricKeyDetails?.modulusLength, 2048);
  assert.equal(x509(rsaLeaves.server.cert).checkIssued(x509(rsaLeaves.ca.cert)), true, 'issuer is the CA subject, byte for byte');
  assert.match(openssl(['verify', '-CAfile', rsaLeaves.ca.cert, rsaLeaves.server.cert, join(sslDir, 'erin.crt')]), /erin\.crt: OK$/m);
});

test('a CA moat cannot sign with, or a certificate that is no CA, is refused with the reason and nothing is written', async () => {
  const ed = join(root, 'ed25519-ca');
  mkdirSync(ed);
  openssl(['req', '-x509', '-newkey', 'ed25519', '-nodes', '-keyout', join(ed, 'ca.key'), '-out', join(ed, 'ca.crt'), '-days', '2', '-subj', '/CN=ed CA']);
  await assert.rejects(generateCerts({ dir: ed }), (e: unknown) => e instanceof CertsError && /cannot reuse the CA .*its key is of type ed25519; moat signs with RSA or ECDSA/.test(e.message));
  assert.deepEqual(readdirSync(ed).sort(), ['ca.crt', 'ca.key']);

  const leafAsCa = join(root, 'leaf-as-ca');
  mkdirSync(leafAsCa);
  copyFileSync(result.server.cert, join(leafAsCa, 'ca.crt'));
  copyFileSync(result.server.key, join(leafAsCa, 'ca.key'));
  await assert.rejects(generateCerts({ dir: leafAsCa }), (e: unknown) => e instanceof CertsError && /it is not a CA certificate/.test(e.message));

  const mismatched = join(root, 'mismatched-ca');
  mkdirSync(mismatched);
  copyFileSync(result.ca.cert, join(mismatched, 'ca.crt'));
  copyFileSync(result.server.key, join(mismatched, 'ca.key'));
  await assert.rejects(generateCerts({ dir: mismatched }), (e: unknown) => e instanceof CertsError && /the key does not belong to the certificate/.test(e.message));
  assert.deepEqual(readdirSync(mismatched).sort(), ['ca.crt', 'ca.key']);
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
