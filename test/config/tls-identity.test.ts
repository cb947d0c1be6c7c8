// Listener TLS options beyond the files: tls_handshake_timeout (moat's, default 30 s) and mosquitto's
// use_identity_as_username / use_subject_as_username, which need require_certificate true and
// exclude each other. Errors name file:line and say what to write.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseConfig, resolveSecurity } from '../../src/config/index.js';
import { CONFIG_DEFAULTS } from '../../src/config/types.js';
import { issues, only } from './issues.js';

const TLS = 'listener 8883\ncafile /etc/moat/ca.crt\ncertfile /etc/moat/server.crt\nkeyfile /etc/moat/server.key\n';

const tlsOf = (text: string) => {
  const tls = parseConfig(text, 'moat.conf').listeners[0]?.tls;
  assert.ok(tls, 'the listener has TLS settings');
  return tls;
};

test('tls_handshake_timeout defaults to 30 s on every TLS listener, mqtts and wss', () => {
  assert.equal(CONFIG_DEFAULTS.tlsHandshakeTimeout, 30);
  assert.equal(tlsOf(TLS).handshakeTimeout, 30);
  assert.equal(tlsOf(`${TLS}protocol websockets\n`).handshakeTimeout, 30);
});

test('tls_handshake_timeout sets the listener it is under, and only that one', () => {
  const config = parseConfig(`${TLS}tls_handshake_timeout 5\nlistener 8884\ncertfile /c\nkeyfile /k\n`, 'moat.conf');
  assert.equal(config.listeners[0]?.tls?.handshakeTimeout, 5);
  assert.equal(config.listeners[1]?.tls?.handshakeTimeout, 30);
  assert.equal(tlsOf(`${TLS}tls_handshake_timeout 1\n`).handshakeTimeout, 1);
  assert.equal(tlsOf(`${TLS}tls_handshake_timeout 3600\n`).handshakeTimeout, 3600);
});

test('tls_handshake_timeout must be a whole number of seconds 1-3600', () => {
  for (const bad of ['0', '3601', '2.5', '-1', 'ten', '10s']) {
    assert.equal(
      only(`${TLS}tls_handshake_timeout ${bad}\n`),
      `moat.conf:5: tls_handshake_timeout expects a whole number of seconds 1-3600, got "${bad}". Fix: write e.g. "tls_handshake_timeout 30".`,
    );
  }
  assert.match(only(`${TLS}tls_handshake_timeout\n`), /^moat\.conf:5: tls_handshake_timeout needs a value/);
});

test('tls_handshake_timeout on a listener without certfile/keyfile is reported like any TLS option', () => {
  assert.match(only('listener 1883\ntls_handshake_timeout 10\n'), /^moat\.conf:2: listener 1883 has TLS options but no certfile/);
});

test('use_identity_as_username / use_subject_as_username default to false and are read with require_certificate true', () => {
  const plain = tlsOf(TLS);
  assert.equal(plain.useIdentityAsUsername, false);
  assert.equal(plain.useSubjectAsUsername, false);
  const identity = tlsOf(`${TLS}require_certificate true\nuse_identity_as_username true\n`);
  assert.equal(identity.requireCertificate, true);
  assert.equal(identity.useIdentityAsUsername, true);
  assert.equal(identity.useSubjectAsUsername, false);
  const subject = tlsOf(`${TLS}use_subject_as_username true\nrequire_certificate true\n`);
  assert.equal(subject.useSubjectAsUsername, true, 'the order of the lines does not matter');
  assert.equal(subject.useIdentityAsUsername, false);
  assert.equal(tlsOf(`${TLS}use_identity_as_username false\n`).useIdentityAsUsername, false, 'false needs no client certificate');
});

// Mosquitto 2.0 starts with it and asks no client for a certificate, so it refuses every client
// (test/interop/cert-username-optional.test.ts shows both brokers doing so): moat starts too, and warns.
test('use_identity_as_username without require_certificate true parses; resolveSecurity says no client can connect, and why', () => {
  for (const [option, extra] of [['use_identity_as_username', ''], ['use_subject_as_username', 'require_certificate false\n']] as const) {
    const config = parseConfig(`${TLS}${extra}${option} true\nallow_anonymous true\n`, 'moat.conf');
    const tls = config.listeners[0]?.tls;
    assert.equal(tls?.requireCertificate, false);
    assert.equal(option === 'use_identity_as_username' ? tls?.useIdentityAsUsername : tls?.useSubjectAsUsername, true);
    const [security] = resolveSecurity(config);
    assert.equal(security?.anonymousAllowed, false, 'allow_anonymous true lets no one in either: every client needs a certificate');
    assert.equal(security?.noClientCanConnect, true);
    assert.equal(security?.authenticates, false);
    assert.equal(security?.refusal, undefined, 'nothing is open: moat starts, as Mosquitto does');
    assert.deepEqual(security?.warnings, [
      'listener port 8883 on all interfaces (moat.conf:1) takes user names from client certificates but does not require one, so ' +
        'no client is asked for a certificate and every client is refused with CONNACK 0x86 Bad user name or password (3.1.1: 4), ' +
        'as in Mosquitto 2.0. Fix: add "require_certificate true" and "cafile PATH" under the listener, or remove the ' +
        'use_identity_as_username / use_subject_as_username line.',
    ]);
  }
  const [required] = resolveSecurity(parseConfig(`${TLS}require_certificate true\nuse_identity_as_username true\n`, 'moat.conf'));
  assert.equal(required?.authenticates, true);
  assert.equal(required?.noClientCanConnect, false);
  assert.deepEqual(required?.warnings, []);
});

test('use_identity_as_username and use_subject_as_username cannot both be true', () => {
  assert.equal(
    only(`${TLS}require_certificate true\nuse_identity_as_username true\nuse_subject_as_username true\n`),
    'moat.conf:7: listener 8883 sets both use_identity_as_username and use_subject_as_username. Fix: keep one: ' +
      "use_identity_as_username takes the certificate's CN, use_subject_as_username its whole subject",
  );
  // One true, one false is fine.
  const tls = tlsOf(`${TLS}require_certificate true\nuse_identity_as_username true\nuse_subject_as_username false\n`);
  assert.equal(tls.useIdentityAsUsername, true);
});

test('the username options apply per listener and take booleans', () => {
  const config = parseConfig(
    `${TLS}require_certificate true\nuse_identity_as_username true\nlistener 8884\ncafile /ca\ncertfile /c\nkeyfile /k\n`,
    'moat.conf',
  );
  assert.equal(config.listeners[0]?.tls?.useIdentityAsUsername, true);
  assert.equal(config.listeners[1]?.tls?.useIdentityAsUsername, false);
  assert.match(only(`${TLS}require_certificate true\nuse_identity_as_username yes\n`), /^moat\.conf:6: use_identity_as_username expects true or false, got "yes"/);
});

test('they are no longer "not yet supported"', () => {
  for (const option of ['use_identity_as_username', 'use_subject_as_username', 'tls_handshake_timeout']) {
    const found = issues(`listener 1883\n${option} x\n`);
    assert.ok(found.every((i) => i.kind !== 'not-yet-supported'), `${option}: ${found.map((i) => i.message).join('\n')}`);
  }
});
