// Certificate identities are built as Mosquitto builds them with OpenSSL: the subject as
// X509_NAME_print_ex(XN_FLAG_RFC2253) prints it — checked against `openssl x509 -nameopt RFC2253`
// for subjects with specials, multi-valued RDNs and non-ASCII text — and the raw CN value.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Duplex } from 'node:stream';
import { after, test } from 'node:test';
import { rfc2253, subjectEntries, usernameFromCertificate } from '../../src/auth/certificate-identity.js';

const dir = mkdtempSync(join(tmpdir(), 'moat-cert-identity-'));
after(() => rmSync(dir, { recursive: true, force: true }));

let count = 0;
/** A self-signed P-256 certificate with `subject` (openssl -subj syntax), as DER. */
function certificate(subject: string): Buffer {
  const n = count++;
  const cert = join(dir, `c${n}.pem`);
  const args = ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', join(dir, `k${n}.pem`), '-out', cert, '-subj', subject, '-days', '1', '-utf8'];
  if (subject.includes('+')) args.push('-multivalue-rdn');
  execFileSync('openssl', args, { stdio: 'ignore' });
  return new X509Certificate(readFileSync(cert)).raw;
}

function opensslSubject(der: Buffer): string {
  const pem = `-----BEGIN CERTIFICATE-----\n${der.toString('base64')}\n-----END CERTIFICATE-----\n`;
  return execFileSync('openssl', ['x509', '-noout', '-subject', '-nameopt', 'RFC2253'], { input: pem }).toString().trim().replace(/^subject=/, '');
}

/** What a verified TLS socket offers the broker, enough for usernameFromCertificate. */
function verifiedSocket(der: Buffer | undefined): Duplex {
  return Object.assign(new Duplex(), { authorized: der !== undefined, getPeerCertificate: () => (der === undefined ? {} : { raw: der }) });
}

const SUBJECTS: readonly [subject: string, cn: string | undefined][] = [
  ['/CN=alice', 'alice'],
  ['/C=DE/O=Acme, Inc./OU=Sensors/CN=alice', 'alice'],
  ['/O=moat/CN=alice+UID=42', 'alice'],
  ['/CN=José Müller', 'José Müller'],
  ['/CN=\\#lead/O=a;b<c>d"e\\\\f=g', '#lead'],
  ['/DC=com/DC=example/emailAddress=a@b.c/CN=dev-1', 'dev-1'],
  ['/O=no common name', undefined],
];

for (const [subject, cn] of SUBJECTS) {
  test(`subject ${subject}: RFC 2253 as OpenSSL prints it, CN ${cn ?? 'absent'}`, () => {
    const der = certificate(subject);
    assert.equal(rfc2253(subjectEntries(der)), opensslSubject(der));
    const bySubject = usernameFromCertificate(verifiedSocket(der), 'subject');
    assert.deepEqual(bySubject, { username: opensslSubject(der) });
    const byCommonName = usernameFromCertificate(verifiedSocket(der), 'common-name');
    assert.deepEqual(byCommonName, cn === undefined ? { problem: 'the client certificate has no Common Name (CN) to use as the user name' } : { username: cn });
  });
}

test('no verified certificate: no user name, and the reason says so', () => {
  assert.match(JSON.stringify(usernameFromCertificate(verifiedSocket(undefined), 'common-name')), /presented none/);
  const unverified = Object.assign(verifiedSocket(certificate('/CN=mallory')), { authorized: false });
  assert.ok('problem' in usernameFromCertificate(unverified, 'subject'));
});
