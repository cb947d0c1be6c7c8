// Reading a TLS listener's crlfile and psk_file the way the broker does at start and on SIGHUP:
// CRLs made with Debian's `openssl ca`, and every way a crlfile can refuse all clients reported
// with the file's name and the fix before a single client is turned away.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { ListenerTlsConfig } from '../../src/config/types.js';
import { readTlsCredentials, secureContextOptions, TlsFileError } from '../../src/transport/tls-context.js';
import { makeTestCa, type TestCa } from '../kit/ca.js';

let root: string;
let a: TestCa;
let b: TestCa;
/** Another CA with a's name but its own key. */
let impostor: TestCa;
let crlA: string;
let crlB: string;

before(() => {
  root = mkdtempSync(join(tmpdir(), 'moat-tls-files-'));
  const sub = (name: string): string => mkdtempSync(join(root, `${name}-`));
  a = makeTestCa(sub('a'), 'CA A');
  b = makeTestCa(sub('b'), 'CA B');
  impostor = makeTestCa(sub('impostor'), 'CA A');
  a.revoke(a.issue('revoked').cert);
  crlA = a.crl(join(root, 'a.crl.pem'));
  crlB = b.crl(join(root, 'b.crl.pem'));
});

after(() => rmSync(root, { recursive: true, force: true }));

function tls(crlfile: string, cafile = a.ca): ListenerTlsConfig {
  return { cafile, certfile: a.cert, keyfile: a.key, crlfile, requireCertificate: true, handshakeTimeout: 30, useIdentityAsUsername: false, useSubjectAsUsername: false };
}

function refusal(config: ListenerTlsConfig, now?: Date): string {
  try {
    secureContextOptions(config, now);
  } catch (error) {
    assert.ok(error instanceof TlsFileError, String(error));
    assert.equal(error.file, config.crlfile);
    return error.message;
  }
  assert.fail('expected a TlsFileError');
}

function write(name: string, text: string): string {
  const file = join(root, name);
  writeFileSync(file, text);
  return file;
}

test('a CRL of the CA is passed to Node; several CRLs in one file are passed one by one', () => {
  assert.equal(secureContextOptions(tls(crlA)).crl?.length, 1);
  const both = write('both.crl.pem', readFileSync(crlA, 'utf8') + readFileSync(crlB, 'utf8'));
  const cafile = write('both-ca.pem', readFileSync(a.ca, 'utf8') + readFileSync(b.ca, 'utf8'));
  assert.equal(secureContextOptions(tls(both, cafile)).crl?.length, 2);
});

test('an unreadable file, no CRL in it, or something else in it', () => {
  assert.match(refusal(tls(join(root, 'missing.pem'))), /^cannot read crlfile .*missing\.pem: ENOENT/);
  const garbage = write('garbage.pem', 'not a crl\n');
  assert.equal(
    refusal(tls(garbage)),
    `crlfile ${garbage} holds no PEM CRL (-----BEGIN X509 CRL-----). Fix: write one with "openssl ca -gencrl -out ${garbage}" ` +
      `(convert a DER CRL with "openssl crl -inform DER -in crl.der -out ${garbage}")`,
  );
  const withCert = write('with-cert.pem', readFileSync(crlA, 'utf8') + readFileSync(a.ca, 'utf8'));
  assert.match(refusal(tls(withCert)), /holds a "CERTIFICATE" block, but only CRLs .* belong there\. Fix: put CA certificates in cafile/);
  const broken = write('broken.pem', '-----BEGIN X509 CRL-----\nAAAA\n-----END X509 CRL-----\n');
  assert.match(refusal(tls(broken)), new RegExp(`^CRL 1 of crlfile ${broken} cannot be read: .*Fix: write the file again`));
});

test('a CRL from a CA that is not in cafile', () => {
  assert.equal(
    refusal(tls(crlB)),
    `the CRL of "CN=CA B" in crlfile ${crlB} is from no CA of cafile/capath ("CN=CA A"). Fix: use the CRL of the CA that signs the client certificates ("openssl ca -gencrl" with that CA)`,
  );
});

test('a CA of cafile without a CRL: Node would refuse every certificate under it', () => {
  const cafile = write('two-ca.pem', readFileSync(a.ca, 'utf8') + readFileSync(b.ca, 'utf8'));
  assert.match(refusal(tls(crlA, cafile)), new RegExp(`^crlfile ${crlA} has no CRL from the CA "CN=CA B" \\(${cafile}\\); Node checks every certificate of a client's chain`));
});

test('a CRL that names the CA but was signed by another key', () => {
  const forged = impostor.crl(join(root, 'impostor.crl.pem'));
  assert.match(refusal(tls(forged)), new RegExp(`^the CRL of "CN=CA A" in crlfile ${forged} is not signed by the key of that CA \\(${a.ca}\\)`));
});

test('an expired CRL, and one not valid yet (the clock moved)', () => {
  const later = new Date(Date.now() + 3 * 86_400_000); // default_crl_days is 2
  assert.match(refusal(tls(crlA), later), new RegExp(`^the CRL of "CN=CA A" in crlfile ${crlA} expired at \\d{4}-.*Fix: issue a fresh one \\("openssl ca -gencrl -out ${crlA}"\\) and send SIGHUP`));
  const earlier = new Date(Date.now() - 86_400_000);
  assert.match(refusal(tls(crlA), earlier), /is only valid from .*Fix: check this machine's clock/);
});

test('a psk_file line that cannot be used is skipped with a warning; the other identities are read', () => {
  const psk = write('psk', 'dev:00ff\nbad line\n');
  const config: ListenerTlsConfig = { pskHint: 'moat', pskFile: psk, requireCertificate: false, handshakeTimeout: 30, useIdentityAsUsername: true, useSubjectAsUsername: false };
  const skipping = readTlsCredentials(config);
  assert.equal(skipping.psk?.key('dev')?.toString('hex'), '00ff');
  assert.equal(skipping.psk?.warnings.length, 1);
  assert.match(skipping.psk?.warnings[0] ?? '', new RegExp(`^${psk}:2: this line is not IDENTITY:HEXKEY`));
  writeFileSync(psk, 'dev:00ff\n');
  const credentials = readTlsCredentials(config);
  assert.equal(credentials.psk?.key('dev')?.toString('hex'), '00ff');
  assert.equal(credentials.context.cert, undefined, 'a PSK-only listener has no certificate');
  assert.match(String(credentials.context.ciphers), /^(TLS_[A-Z0-9_]+:)+ECDHE-PSK-CHACHA20-POLY1305:/);
});
