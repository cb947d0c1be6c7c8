import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, parseConfig, resolveSecurity, type BrokerConfig } from '../../src/config/index.js';

const parse = (text: string): BrokerConfig => parseConfig(text, 'moat.conf');

function messages(text: string): string[] {
  try {
    parse(text);
  } catch (err) {
    assert.ok(err instanceof ConfigError);
    return err.issues.map((i) => i.message);
  }
  assert.fail('expected a ConfigError');
}

test('listener PORT: all interfaces; listener PORT ADDRESS: bound; source names the line', () => {
  const c = parse('# comment\nlistener 1883\nlistener 8080 127.0.0.1\nlistener 1884 ::1\n');
  assert.equal(c.localOnly, false);
  assert.deepEqual(
    c.listeners.map((l) => [l.port, l.host, l.source.line]),
    [
      [1883, undefined, 2],
      [8080, '127.0.0.1', 3],
      [1884, '::1', 4],
    ],
  );
  assert.equal(c.listeners[0]?.source.file, 'moat.conf');
});

test('listener 0 is accepted (moat extension: any free port), and may repeat', () => {
  const c = parse('listener 0\nlistener 0 127.0.0.1\nlistener 0\n');
  assert.deepEqual(c.listeners.map((l) => l.port), [0, 0, 0]);
});

test('options after a listener line apply to that listener only', () => {
  const c = parse(
    ['listener 1883', 'max_connections 10', 'listener 8080', 'protocol mqtt', 'max_topic_alias 0', ''].join('\n'),
  );
  const [mqtt, ws] = c.listeners;
  assert.deepEqual([mqtt?.protocol, mqtt?.maxConnections, mqtt?.maxTopicAlias], ['mqtt', 10, 10]);
  assert.deepEqual([ws?.protocol, ws?.maxConnections, ws?.maxTopicAlias], ['mqtt', -1, 0]);
});

test('global options inside a listener block stay global', () => {
  const c = parse('listener 1883\nmax_queued_messages 5\nlistener 1884\n');
  assert.equal(c.maxQueuedMessages, 5);
});

test('port and bind_address before any listener configure the default listener (all interfaces unless bound)', () => {
  const c = parse('port 1884\n');
  assert.equal(c.localOnly, false);
  assert.deepEqual(c.listeners.map((l) => [l.port, l.host]), [[1884, undefined]]);
  assert.match(c.warnings[0]?.message ?? '', /^moat\.conf:1: port is deprecated since mosquitto 2\.0.*Fix: write "listener 1884" instead\.$/);

  const b = parse('bind_address 127.0.0.1\n');
  assert.deepEqual(b.listeners.map((l) => [l.port, l.host, l.source.line]), [[1883, '127.0.0.1', 1]]);

  const both = parse('port 0\nbind_address 10.0.0.5\nmax_connections 50\n');
  assert.deepEqual(both.listeners.map((l) => [l.port, l.host, l.maxConnections]), [[0, '10.0.0.5', 50]]);
});

test('the default listener comes after explicit listeners, as mosquitto opens them', () => {
  const c = parse('port 1883\nmax_connections 5\nlistener 8883\n');
  assert.deepEqual(c.listeners.map((l) => [l.port, l.maxConnections]), [
    [8883, -1],
    [1883, 5],
  ]);
});

test('no listener, port or bind_address: local-only listener, even with other options', () => {
  const c = parse('max_queued_messages 100\nallow_anonymous true\n');
  assert.equal(c.localOnly, true);
  assert.deepEqual(c.listeners.map((l) => [l.port, l.host]), [[1883, '127.0.0.1']]);
  assert.deepEqual(c.warnings, []);
});

test('a listener option before any listener, with no listener at all, shapes the local-only listener and warns', () => {
  const c = parse('max_connections 6000\n');
  assert.equal(c.localOnly, true);
  assert.equal(c.listeners[0]?.maxConnections, 6000);
  assert.equal(c.listeners[0]?.host, '127.0.0.1');
  assert.equal(
    c.warnings[0]?.message,
    'moat.conf:1: max_connections comes before any "listener" line and the configuration defines no listener, so it ' +
      "applies to moat's local-only listener on 127.0.0.1:1883 (mosquitto 2.0 may open port 1883 on all interfaces " +
      'for this file instead). Fix: add "listener 1883" above it to accept clients from other machines.',
  );
});

test('a listener option before the first listener line is an error when the file has listeners', () => {
  assert.deepEqual(messages('max_connections 6000\nlistener 8883\n'), [
    'moat.conf:1: max_connections comes before any "listener" line in moat.conf, so mosquitto applies it to its ' +
      'implicit default listener on port 1883, not to "listener 8883" at moat.conf:2. Fix: move it below the ' +
      '"listener" line it is meant for, or add "listener 1883" above it if you want that extra listener.',
  ]);
});

test('bind_address after a listener line is an error that shows both readings', () => {
  assert.deepEqual(messages('listener 8883\nbind_address 10.0.0.5\n'), [
    'moat.conf:2: bind_address after a "listener" line configures mosquitto\'s separate default listener, not ' +
      '"listener 8883" (moat.conf:1). Fix: to bind that listener, write "listener 8883 10.0.0.5"; to keep ' +
      'mosquitto\'s extra default listener, move "bind_address" above the first "listener" line.',
  ]);
  assert.match(messages('listener 8883\nport 1883\n')[0] ?? '', /^moat\.conf:2: port after a "listener" line/);
});

test('duplicate listener (same port and address) is an error', () => {
  assert.deepEqual(messages('listener 1883\nlistener 1883\n'), [
    'moat.conf:2: listener 1883 is already defined at moat.conf:1. Fix: remove one of the two, or give them different ports or bind addresses.',
  ]);
  assert.equal(parse('listener 1883 127.0.0.1\nlistener 1883 ::1\n').listeners.length, 2);
});

test('security options are global unless per_listener_settings is true', () => {
  const global = parse('listener 1883\nallow_anonymous true\nlistener 1884\n');
  assert.deepEqual(global.listeners.map((l) => l.allowAnonymous), [true, true]);
  assert.equal(global.allowAnonymous, true);

  const per = parse(
    [
      'per_listener_settings true',
      'listener 1883 127.0.0.1',
      'allow_anonymous true',
      'auto_id_prefix local-',
      'listener 1884',
      'allow_zero_length_clientid false',
      '',
    ].join('\n'),
  );
  assert.equal(per.perListenerSettings, true);
  assert.equal(per.allowAnonymous, undefined);
  assert.deepEqual(
    per.listeners.map((l) => [l.allowAnonymous, l.autoIdPrefix, l.allowZeroLengthClientId]),
    [
      [true, 'local-', true],
      [undefined, 'auto-', false],
    ],
  );
});

test('per_listener_settings must come before security options', () => {
  assert.deepEqual(messages('listener 1883\nallow_anonymous true\nper_listener_settings true\n'), [
    'moat.conf:3: per_listener_settings must come before every security option, but allow_anonymous is already set ' +
      'at moat.conf:2. Fix: move "per_listener_settings true" to the top of moat.conf.',
  ]);
  assert.match(messages('per_listener_settings true\nper_listener_settings false\nlistener 1\n')[0] ?? '', /cannot be turned off again/);
});

test('warning: a global security option set differently in two listener blocks', () => {
  const c = parse('listener 1883\nallow_anonymous true\nlistener 8883\nallow_anonymous false\n');
  assert.deepEqual(c.listeners.map((l) => l.allowAnonymous), [false, false]);
  assert.match(
    c.warnings[0]?.message ?? '',
    /^moat\.conf:4: allow_anonymous false replaces "allow_anonymous true" from moat\.conf:2 for every listener/,
  );
});

test('resolveSecurity: local-only allows anonymous from this machine', () => {
  const [s] = resolveSecurity(parse(''));
  assert.ok(s);
  assert.equal(s.anonymousAllowed, true);
  assert.equal(s.loopbackOnly, true);
  assert.equal(s.noClientCanConnect, false);
  assert.equal(s.refusal, undefined);
  assert.deepEqual(s.warnings, []);
});

test('resolveSecurity: a reachable listener with no way to log in is refused, naming the line and the fix', () => {
  const [s] = resolveSecurity(parse('listener 1883\n'));
  assert.ok(s);
  assert.equal(s.anonymousAllowed, false);
  assert.equal(s.noClientCanConnect, true);
  assert.match(s.reason, /not set/);
  assert.match(s.refusal ?? '', /^listener port 1883 on all interfaces \(moat\.conf:1\) can be reached from other machines but has no way to log clients in\. Fix: add "password_file/);
  const [off] = resolveSecurity(parse('listener 1883 0.0.0.0\nallow_anonymous false\n'));
  assert.match(off?.refusal ?? '', /no way to log clients in/);
});

test('resolveSecurity: a loopback listener nobody can log in to starts (as Mosquitto 2) with a warning', () => {
  const [s] = resolveSecurity(parse('listener 1883 127.0.0.1\n'));
  assert.equal(s?.refusal, undefined);
  assert.equal(s?.noClientCanConnect, true);
  assert.match(s?.warnings[0] ?? '', /no client can connect/);
});

test('resolveSecurity: a password file or certificate identity is a way to log in', () => {
  const [withPasswords] = resolveSecurity(parse('listener 1883\npassword_file /etc/moat/passwd\n'));
  assert.equal(withPasswords?.authenticates, true);
  assert.equal(withPasswords?.refusal, undefined);
  assert.deepEqual(withPasswords?.warnings, []);
});

test('resolveSecurity: explicit allow_anonymous true on all interfaces warns loudly; on loopback it does not', () => {
  const [open, local] = resolveSecurity(
    parse('per_listener_settings true\nlistener 1883\nallow_anonymous true\nlistener 1884 localhost\nallow_anonymous true\n'),
  );
  assert.equal(open?.anonymousAllowed, true);
  assert.equal(open?.refusal, undefined);
  assert.match(open?.warnings[0] ?? '', /^INSECURE: listener port 1883 on all interfaces lets anyone who can reach it connect/);
  assert.equal(local?.loopbackOnly, true);
  assert.deepEqual(local?.warnings, []);
});

test('resolveSecurity: a reachable plain-text listener beside a TLS one is warned about; a loopback one is not', () => {
  const listeners = resolveSecurity(
    parse(
      'password_file /etc/moat/passwd\nlistener 8883\ncertfile /s.crt\nkeyfile /s.key\nlistener 1883\nlistener 1884 127.0.0.1\n',
    ),
  );
  assert.deepEqual(listeners.map((l) => l.warnings.length), [0, 1, 0]);
  assert.match(listeners[1]?.warnings[0] ?? '', /^listener port 1883 on all interfaces is plain text beside the TLS listener port 8883/);
});

test('resolveSecurity: explicit allow_anonymous false in local-only mode is respected', () => {
  const [s] = resolveSecurity(parse('allow_anonymous false\n'));
  assert.equal(s?.anonymousAllowed, false);
  assert.equal(s?.noClientCanConnect, true);
});
