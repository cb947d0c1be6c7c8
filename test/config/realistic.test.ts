// Configs people actually have: the seed chapter's production examples and Debian's packaged mosquitto.conf.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig, resolveSecurity } from '../../src/config/index.js';
import { issues } from './issues.js';

test('seed: "Production configuration for 5,000 devices" — limits parse (with trailing comments), memory_limit included', () => {
  const text = [
    '# mosquitto.conf - Production configuration for 5,000 devices',
    'max_connections 6000        # 20% headroom over expected devices',
    'max_queued_messages 1000    # Per-client queue limit',
    'max_inflight_messages 20    # In-flight QoS 1/2 messages',
    'memory_limit 1073741824     # 1GB memory cap',
    '',
  ].join('\n');
  // No listener line, so moat stays local-only (and says so).
  const c = parseConfig(text, 'mosquitto.conf');
  assert.equal(c.localOnly, true);
  assert.equal(c.listeners[0]?.maxConnections, 6000);
  assert.equal(c.maxQueuedMessages, 1000);
  assert.equal(c.maxInflightMessages, 20);
  assert.equal(c.memoryLimit, 1_073_741_824);
  assert.equal(c.warnings.length, 1);
  assert.match(c.warnings[0]?.message ?? '', /^mosquitto\.conf:2: max_connections comes before any "listener" line/);
});

test('seed: TLS + password listener parses whole, the password file applies to the listener', () => {
  const text = [
    'listener 8883',
    'cafile /etc/letsencrypt/live/mqtt.example.com/chain.pem',
    'certfile /etc/letsencrypt/live/mqtt.example.com/cert.pem',
    'keyfile /etc/letsencrypt/live/mqtt.example.com/privkey.pem',
    'allow_anonymous false',
    'password_file /etc/mosquitto/passwd',
    '',
  ].join('\n');
  const config = parseConfig(text, 'mosquitto.conf');
  const listener = config.listeners[0];
  assert.equal(config.passwordFile, '/etc/mosquitto/passwd');
  assert.equal(listener?.passwordFile, '/etc/mosquitto/passwd');
  assert.equal(listener?.aclFile, undefined);
  assert.equal(listener?.allowAnonymous, false);
  assert.equal(listener?.tls?.certfile, '/etc/letsencrypt/live/mqtt.example.com/cert.pem');
  assert.equal(listener?.tls?.requireCertificate, false);
  assert.equal(resolveSecurity(config)[0]?.refusal, undefined);
});

test('per_listener_settings: each listener has its own password_file and acl_file', () => {
  const config = parseConfig(
    ['per_listener_settings true', 'listener 1883 127.0.0.1', 'allow_anonymous true', 'listener 8883', 'password_file /etc/moat/passwd', 'acl_file /etc/moat/acl', ''].join('\n'),
    'mosquitto.conf',
  );
  assert.deepEqual(
    config.listeners.map((l) => [l.port, l.passwordFile, l.aclFile]),
    [
      [1883, undefined, undefined],
      [8883, '/etc/moat/passwd', '/etc/moat/acl'],
    ],
  );
  assert.equal(config.passwordFile, undefined);
});

test('TLS: a listener with TLS options needs certfile and keyfile; require_certificate needs a CA', () => {
  assert.match(issues('listener 8883\ncertfile /a.pem\n', 'mosquitto.conf')[0]?.message ?? '', /^mosquitto\.conf:2: listener 8883 has TLS options but no keyfile\. Fix: add both "certfile PATH" and "keyfile PATH"/);
  assert.match(
    issues('listener 8883\ncertfile /a.pem\nkeyfile /a.key\nrequire_certificate true\n', 'mosquitto.conf')[0]?.message ?? '',
    /requires client certificates but names no CA/,
  );
  const c = parseConfig('listener 8883\ncertfile /a.pem\nkeyfile /a.key\ntls_version tlsv1.3\nlistener 1883 127.0.0.1\n', 'mosquitto.conf');
  assert.equal(c.listeners[0]?.tls?.tlsVersion, 'tlsv1.3');
  assert.equal(c.listeners[1]?.tls, undefined);
});

test('seed: the same listener without TLS/password lines — reachable by anyone, nobody can log in: refused with the fix', () => {
  const c = parseConfig('listener 8883\nallow_anonymous false\n', 'mosquitto.conf');
  assert.deepEqual(c.listeners.map((l) => [l.port, l.host, l.allowAnonymous]), [[8883, undefined, false]]);
  const [s] = resolveSecurity(c);
  assert.equal(s?.anonymousAllowed, false);
  assert.equal(s?.noClientCanConnect, true);
  assert.match(s?.refusal ?? '', /^listener port 8883 on all interfaces \(mosquitto\.conf:1\) can be reached from other machines but has no way to log clients in/);
});

test("Debian's packaged /etc/mosquitto/mosquitto.conf: each unsupported line is named, the rest parses", () => {
  const text = [
    '# Place your local configuration in /etc/mosquitto/conf.d/',
    '#',
    '# A full description of the configuration file is at',
    '# /usr/share/doc/mosquitto/examples/mosquitto.conf.example',
    '',
    'pid_file /run/mosquitto/mosquitto.pid',
    '',
    'persistence true',
    'persistence_location /var/lib/mosquitto/',
    '',
    'log_dest file /var/log/mosquitto/mosquitto.log',
    '',
    'include_dir /etc/mosquitto/conf.d',
    '',
  ].join('\n');
  const found = issues(text, 'mosquitto.conf');
  assert.deepEqual(
    found.map((i) => [i.line, i.option, i.kind]),
    [
      [13, 'include_dir', 'file'], // parseConfig has no file access; loadConfig would read the directory
    ],
  );
});

test('a typical hand-written mosquitto 2 config parses completely', () => {
  const text = [
    'per_listener_settings true',
    '',
    '# local clients',
    'listener 1883 127.0.0.1',
    'allow_anonymous true',
    '',
    '# browsers',
    'listener 9001',
    'protocol mqtt',
    'max_connections 500',
    'allow_anonymous false',
    '',
    'max_keepalive 120',
    'max_packet_size 262144',
    'message_size_limit 131072',
    'max_queued_messages 2000',
    'max_queued_bytes 10485760',
    'persistent_client_expiration 14d',
    'sys_interval 30',
    'log_dest stdout',
    'log_type error',
    'log_type warning',
    'log_timestamp_format %Y-%m-%dT%H:%M:%S',
    'connection_messages true',
    'set_tcp_nodelay true',
    '',
  ].join('\n');
  const c = parseConfig(text, 'mosquitto.conf');
  assert.deepEqual(c.warnings, []);
  assert.deepEqual(
    c.listeners.map((l) => [l.port, l.host, l.protocol, l.maxConnections, l.allowAnonymous]),
    [
      [1883, '127.0.0.1', 'mqtt', -1, true],
      [9001, undefined, 'mqtt', 500, false],
    ],
  );
  assert.equal(c.persistentClientExpiration, 14 * 86400);
  assert.deepEqual(c.log.destinations, ['stdout']);
  assert.deepEqual(c.log.types, ['error', 'warning']);
  const security = resolveSecurity(c);
  assert.deepEqual(security.map((s) => s.anonymousAllowed), [true, false]);
  assert.deepEqual(security[0]?.warnings, []);
  // Port 9001 on all interfaces with no password_file: nobody could log in, so moat refuses to start.
  assert.match(security[1]?.refusal ?? '', /^listener port 9001 on all interfaces \(mosquitto\.conf:\d+\) can be reached from other machines/);
});
