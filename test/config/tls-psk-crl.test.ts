// crlfile, psk_hint and psk_file in mosquitto.conf: where they apply, the combinations that cannot
// work (errors with file:line and the fix), psk_hint's length limit, and how a TLS-PSK listener
// counts for moat's secure-by-default rules.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseConfig, resolveSecurity } from '../../src/config/index.js';
import { only } from './issues.js';

const CERTS = 'certfile /etc/moat/server.crt\nkeyfile /etc/moat/server.key\n';
const CLIENT_CERTS = `cafile /etc/moat/ca.crt\n${CERTS}require_certificate true\n`;
const PSK = 'psk_hint moat\npsk_file /etc/moat/psk\n';

test('crlfile is a listener option of require_certificate listeners', () => {
  const config = parseConfig(`listener 8883\n${CLIENT_CERTS}crlfile /etc/moat/crl.pem\nlistener 8884\n${CLIENT_CERTS}`, 'moat.conf');
  assert.equal(config.listeners[0]?.tls?.crlfile, '/etc/moat/crl.pem');
  assert.equal(config.listeners[1]?.tls?.crlfile, undefined);
});

test('crlfile on a listener that does not require client certificates is an error on its line', () => {
  assert.equal(
    only(`listener 8883\n${CERTS}crlfile /etc/moat/crl.pem\n`),
    'moat.conf:4: crlfile on listener 8883 revokes client certificates, but the listener does not require one, so it would never be consulted. ' +
      'Fix: add "require_certificate true" (and "cafile PATH") under the listener, or remove the line',
  );
  assert.match(only('listener 8883\ncrlfile\n'), /^moat\.conf:2: crlfile needs a value/);
});

test('psk_hint without certfile/keyfile makes a TLS-PSK listener; the global psk_file applies to it', () => {
  const config = parseConfig(`listener 8883\n${PSK}use_identity_as_username true\n`, 'moat.conf');
  const tls = config.listeners[0]?.tls;
  assert.equal(tls?.pskHint, 'moat');
  assert.equal(tls?.pskFile, '/etc/moat/psk');
  assert.equal(tls?.certfile, undefined);
  assert.equal(tls?.useIdentityAsUsername, true, 'the PSK identity needs no client certificate');
  // A certificate too: certificate clients and PSK clients on one listener.
  assert.equal(parseConfig(`listener 8883\n${CERTS}${PSK}`, 'moat.conf').listeners[0]?.tls?.certfile, '/etc/moat/server.crt');
});

test('psk_hint length edges: 256 bytes is a hint, 257 is refused', () => {
  assert.equal(parseConfig(`listener 8883\npsk_hint ${'h'.repeat(256)}\npsk_file /p\n`, 'moat.conf').listeners[0]?.tls?.pskHint?.length, 256);
  assert.equal(
    only(`listener 8883\npsk_hint ${'h'.repeat(257)}\npsk_file /p\n`),
    'moat.conf:2: psk_hint is 257 bytes long; TLS-PSK carries at most 256. Fix: write a shorter hint, e.g. "psk_hint moat".',
  );
});

test('with per_listener_settings each PSK listener needs its own psk_file', () => {
  const config = parseConfig(
    `per_listener_settings true\nlistener 8883\npsk_hint a\npsk_file /etc/moat/psk-a\nlistener 8884\npsk_hint b\npsk_file /etc/moat/psk-b\n`,
    'moat.conf',
  );
  assert.deepEqual(config.listeners.map((l) => l.tls?.pskFile), ['/etc/moat/psk-a', '/etc/moat/psk-b']);
  assert.equal(
    only('per_listener_settings true\nlistener 8883\npsk_hint a\n'),
    'moat.conf:3: listener 8883 accepts TLS-PSK clients (psk_hint) but has no psk_file, so no client could complete a handshake. ' +
      'Fix: add "psk_file /etc/moat/psk" (one IDENTITY:HEXKEY line per client) under the listener',
  );
});

test('psk_hint without any psk_file, and a psk_file no listener reads, are errors', () => {
  assert.equal(
    only('listener 8883\npsk_hint moat\n'),
    'moat.conf:2: listener 8883 accepts TLS-PSK clients (psk_hint) but has no psk_file, so no client could complete a handshake. ' +
      'Fix: add "psk_file /etc/moat/psk" (one IDENTITY:HEXKEY line per client)',
  );
  assert.equal(
    only(`psk_file /etc/moat/psk\nlistener 8883\n${CERTS}`),
    'moat.conf:1: psk_file is set but no listener has psk_hint, so it would never be read. ' +
      'Fix: add "psk_hint HINT" under the listener that should accept TLS-PSK clients, or remove the line',
  );
  assert.equal(
    only(`per_listener_settings true\nlistener 8883\n${PSK}listener 8884\n${CERTS}psk_file /etc/moat/psk\nallow_anonymous true\n`),
    'moat.conf:8: psk_file is set for a listener that has no psk_hint, so it would never be read. ' +
      'Fix: add "psk_hint HINT" under the listener that should accept TLS-PSK clients, or remove the line',
  );
});

test('psk_hint cannot be combined with use_subject_as_username, require_certificate or websockets', () => {
  assert.equal(
    only(`listener 8883\n${PSK}use_subject_as_username true\n`),
    'moat.conf:4: use_subject_as_username true on listener 8883: on a listener with psk_hint the user name can only be the PSK identity. ' +
      'Fix: write "use_identity_as_username true" instead, or remove the line',
  );
  assert.match(only(`listener 8883\n${CLIENT_CERTS}${PSK}`), /^moat\.conf:6: listener 8883 has both psk_hint and require_certificate true; .*Fix: give the PSK clients a listener of their own/);
  assert.equal(
    only(`listener 9001\nprotocol websockets\n${PSK}`),
    'moat.conf:3: psk_hint on websockets listener 9001: WebSocket clients (browsers) cannot use TLS-PSK. Fix: put psk_hint under a "protocol mqtt" listener, or remove the line',
  );
});

test('a certificate listener still needs both certfile and keyfile; a PSK listener needs both or neither', () => {
  assert.match(only('listener 8883\ncertfile /c\n'), /^moat\.conf:2: listener 8883 has TLS options but no keyfile\. Fix: add both "certfile PATH" and "keyfile PATH" under the listener$/);
  assert.match(only(`listener 8883\n${PSK}certfile /c\n`), /^moat\.conf:2: listener 8883 has TLS options but no keyfile\. Fix: .*or neither for a listener that accepts TLS-PSK clients only$/);
});

test('security: a TLS-PSK listener others can reach is a way to log in, so it starts without a password_file', () => {
  const [withIdentity] = resolveSecurity(parseConfig(`listener 8883\n${PSK}use_identity_as_username true\n`, 'moat.conf'));
  assert.equal(withIdentity?.refusal, undefined);
  assert.equal(withIdentity?.authenticates, true);
  assert.equal(withIdentity?.noClientCanConnect, false);
  assert.deepEqual(withIdentity?.warnings, []);

  // Keys but no MQTT login: the handshake works, and then every CONNECT is refused.
  const [noLogin] = resolveSecurity(parseConfig(`listener 8883\n${PSK}`, 'moat.conf'));
  assert.equal(noLogin?.refusal, undefined);
  assert.equal(noLogin?.noClientCanConnect, true);
  assert.match(noLogin?.warnings[0] ?? '', /no TLS-PSK client can log in\. Fix: add "use_identity_as_username true"/);

  // allow_anonymous true on a PSK-only listener: every client has a key, so it is not the INSECURE open listener.
  const [anonymous] = resolveSecurity(parseConfig(`listener 8883\n${PSK}allow_anonymous true\n`, 'moat.conf'));
  assert.equal(anonymous?.anonymousAllowed, true);
  assert.deepEqual(anonymous?.warnings, []);
  // With a certificate as well, clients without a key get in too: that is warned about.
  const [mixed] = resolveSecurity(parseConfig(`listener 8883\n${CERTS}${PSK}allow_anonymous true\n`, 'moat.conf'));
  assert.match(mixed?.warnings[0] ?? '', /^INSECURE/);
});
