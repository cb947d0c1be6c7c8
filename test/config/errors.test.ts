import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ConfigError,
  KNOWN_OPTIONS,
  NEVER_SUPPORTED,
  NEVER_SUPPORTED_PREFIXES,
  NEVER_SUPPORTED_VALUES,
  NOT_YET_SUPPORTED,
  PLANNED_AREAS,
  parseConfig,
} from '../../src/config/index.js';
import { MoatError } from '../../src/codec/errors.js';
import { closest, editDistance } from '../../src/config/suggest.js';
import { issues, only } from './issues.js';

test('ConfigError is a MoatError with code MOAT_ERR_CONFIG', () => {
  try {
    parseConfig('max_keepalive ten\n', 'moat.conf');
    assert.fail('expected a throw');
  } catch (err) {
    assert.ok(err instanceof ConfigError);
    assert.ok(err instanceof MoatError);
    assert.equal(err.code, 'MOAT_ERR_CONFIG');
    assert.equal(err.name, 'ConfigError');
    assert.equal(err.message, 'moat.conf:1: max_keepalive expects a whole number 0-65535, got "ten". Fix: write e.g. "max_keepalive 60".');
    assert.deepEqual(err.issues[0], {
      kind: 'invalid-value',
      file: 'moat.conf',
      line: 1,
      option: 'max_keepalive',
      message: err.message,
    });
  }
});

// Exact messages: file:line, what is wrong, the fix.
const exact: readonly [text: string, message: string][] = [
  ['\n\n\n\n\n\nmax_keepalive ten\n', 'moat.conf:7: max_keepalive expects a whole number 0-65535, got "ten". Fix: write e.g. "max_keepalive 60".'],
  ['max_keepalive 70000\n', 'moat.conf:1: max_keepalive expects a whole number 0-65535, got "70000". Fix: write e.g. "max_keepalive 60".'],
  ['max_keepalive\n', 'moat.conf:1: max_keepalive needs a value. Fix: write e.g. "max_keepalive 60".'],
  [
    'max_keepalive 60 30\n',
    'moat.conf:1: max_keepalive takes one value, got "60 30". Fix: write e.g. "max_keepalive 60". A comment after the value must start with "#".',
  ],
  ['publisher_flow_control on\n', 'moat.conf:1: publisher_flow_control expects true or false, got "on". Fix: write e.g. "publisher_flow_control true".'],
  ['retain_available yes\n', 'moat.conf:1: retain_available expects true or false, got "yes". Fix: write e.g. "retain_available true".'],
  [
    'persistent_client_expiration 3600\n',
    'moat.conf:1: persistent_client_expiration expects a duration: a whole number of at least 1 followed by h, d, w, m or y ' +
      '(hours, days, weeks, 30-day months, 365-day years), got "3600". Fix: write e.g. "persistent_client_expiration 14d".',
  ],
  [
    'listener 1883\nprotocol mqtts\n',
    'moat.conf:2: protocol expects one of mqtt, websockets, got "mqtts". Fix: write e.g. "protocol mqtt".',
  ],
  [
    'listener 1883\nmax_connections 0\n',
    'moat.conf:2: max_connections expects -1 (no limit) or a whole number 1-2147483647, got "0". Fix: write e.g. "max_connections 1000".',
  ],
  [
    'max_packet_size 10\n',
    'moat.conf:1: max_packet_size expects 0 (no limit) or a whole number 20-268435460, got "10". Fix: write e.g. "max_packet_size 1048576".',
  ],
  ['listener\n', 'moat.conf:1: listener needs a port. Fix: write e.g. "listener 1883" or "listener 1883 127.0.0.1".'],
  [
    'listener 70000\n',
    'moat.conf:1: listener expects a port 0-65535 (0 = any free port), got "70000". Fix: write e.g. "listener 1883" or "listener 1883 127.0.0.1".',
  ],
  [
    'listener 1883 [::1]\n',
    'moat.conf:1: listener expects an IP address or host name to bind to, got "[::1]". Fix: write the IPv6 address without brackets, e.g. "listener 1883 ::1".',
  ],
  [
    'log_dest file /a.log\nlog_dest file /b.log\n',
    'moat.conf:2: log_dest file is already set at moat.conf:1; only one log file is allowed. Fix: remove one of the two lines.',
  ],
  ['log_type verbose\n', 'moat.conf:1: log_type expects one of none, all, debug, error, warning, notice, information, subscribe, unsubscribe, websockets, internal, got "verbose". Fix: write e.g. "log_type error".'],
  ['max_topic_levels 32769\n', 'moat.conf:1: max_topic_levels expects a whole number 1-32768, got "32769". Fix: write e.g. "max_topic_levels 201".'],
  // The limits of issue 12: zero where it would refuse everyone, and one past each maximum.
  ['global_max_connections 0\n', 'moat.conf:1: global_max_connections expects -1 (no limit) or a whole number 1-2147483647, got "0". Fix: write e.g. "global_max_connections 10000".'],
  ['global_max_connections 2147483648\n', 'moat.conf:1: global_max_connections expects -1 (no limit) or a whole number 1-2147483647, got "2147483648". Fix: write e.g. "global_max_connections 10000".'],
  ['max_connection_rate 1000001\n', 'moat.conf:1: max_connection_rate expects 0 (no limit) or connections per second 1-1000000, got "1000001". Fix: write e.g. "max_connection_rate 500".'],
  ['max_connection_rate -2\n', 'moat.conf:1: max_connection_rate expects 0 (no limit) or connections per second 1-1000000, got "-2". Fix: write e.g. "max_connection_rate 500".'],
  ['max_connection_rate_per_address 1.5\n', 'moat.conf:1: max_connection_rate_per_address expects 0 (no limit) or connections per second 1-1000000, got "1.5". Fix: write e.g. "max_connection_rate_per_address 10".'],
  ['memory_limit 9007199254740992\n', 'moat.conf:1: memory_limit expects 0 (no limit) or a number of bytes up to 9007199254740991, got "9007199254740992". Fix: write e.g. "memory_limit 1073741824".'],
  ['memory_limit -1\n', 'moat.conf:1: memory_limit expects 0 (no limit) or a number of bytes up to 9007199254740991, got "-1". Fix: write e.g. "memory_limit 1073741824".'],
  ['max_subscriptions_per_client 0\n', 'moat.conf:1: max_subscriptions_per_client expects -1 (no limit) or a whole number 1-2147483647, got "0". Fix: write e.g. "max_subscriptions_per_client 100".'],
  ['max_subscriptions_per_client 2147483648\n', 'moat.conf:1: max_subscriptions_per_client expects -1 (no limit) or a whole number 1-2147483647, got "2147483648". Fix: write e.g. "max_subscriptions_per_client 100".'],
  ['max_topic_length 0\n', 'moat.conf:1: max_topic_length expects a whole number 1-65535, got "0". Fix: write e.g. "max_topic_length 1024".'],
  ['max_topic_length 65536\n', 'moat.conf:1: max_topic_length expects a whole number 1-65535, got "65536". Fix: write e.g. "max_topic_length 1024".'],
  ['overload_protection yes\n', 'moat.conf:1: overload_protection expects true or false, got "yes". Fix: write e.g. "overload_protection true".'],
  ['max_event_loop_lag 60001\n', 'moat.conf:1: max_event_loop_lag expects 0 (lag not watched) or a number of milliseconds 1-60000, got "60001". Fix: write e.g. "max_event_loop_lag 200".'],
  ['capacity_alert_threshold 0\n', 'moat.conf:1: capacity_alert_threshold expects a whole number 1-100, got "0". Fix: write e.g. "capacity_alert_threshold 80".'],
  ['capacity_alert_threshold 101\n', 'moat.conf:1: capacity_alert_threshold expects a whole number 1-100, got "101". Fix: write e.g. "capacity_alert_threshold 80".'],
  ['capacity_alert_threshold 80.5\n', 'moat.conf:1: capacity_alert_threshold expects a whole number 1-100, got "80.5". Fix: write e.g. "capacity_alert_threshold 80".'],
  ['connect_timeout 0\n', 'moat.conf:1: connect_timeout expects a whole number 1-65535, got "0". Fix: write e.g. "connect_timeout 10".'],
];

for (const [text, message] of exact) {
  test(`error message: ${JSON.stringify(text.trim())}`, () => {
    assert.equal(only(text), message);
  });
}

test('include_dir in parseConfig (no file access) is an error that points to loadConfig', () => {
  assert.equal(
    only('include_dir conf.d\n'),
    'moat.conf:1: include_dir needs to read files, but the config was parsed from text. Fix: load the config with loadConfig(path) instead of parseConfig(text).',
  );
});

test('unknown option: suggests the closest known option', () => {
  const cases: readonly [string, string][] = [
    ['max_conections', 'max_connections'],
    ['allow_anonymus', 'allow_anonymous'],
    ['listner', 'listener'],
    ['max_inflight_message', 'max_inflight_messages'],
    ['sys_intervall', 'sys_interval'],
    ['pasword_file', 'password_file'],
    ['persistent_client_expire', 'persistent_client_expiration'],
  ];
  for (const [typo, suggestion] of cases) {
    assert.equal(only(`${typo} 1\n`), `moat.conf:1: unknown option "${typo}". Fix: did you mean "${suggestion}"?`);
  }
});

test('unknown option: wrong case is called out (options are case-sensitive)', () => {
  assert.equal(
    only('Max_Keepalive 60\n'),
    'moat.conf:1: unknown option "Max_Keepalive" (option names are case-sensitive). Fix: did you mean "max_keepalive"?',
  );
});

test('unknown option with nothing close: no suggestion, points to the docs', () => {
  assert.equal(
    only('frobnicate 1\n'),
    'moat.conf:1: unknown option "frobnicate". Fix: remove the line; docs/CONFIG.md lists the options moat reads.',
  );
});

test('every not-yet-supported option is an error naming its planned area, never silently ignored', () => {
  for (const [option, area] of Object.entries(NOT_YET_SUPPORTED)) {
    const found = issues(`${option} x\n`);
    assert.equal(found.length, 1, option);
    const { label, hint } = PLANNED_AREAS[area];
    assert.equal(found[0]?.kind, 'not-yet-supported', option);
    assert.equal(
      found[0]?.message,
      `moat.conf:1: ${option} is not yet supported by moat (planned: ${label}); remove the line or ${hint}.`,
    );
  }
});

test('not-yet-supported: exact message for http_dir', () => {
  assert.equal(
    only('http_dir /var/www\n'),
    'moat.conf:1: http_dir is not yet supported by moat (planned: dashboard and admin HTTP); remove the line or serve the files from a web server next to moat until then.',
  );
});

test('never supported: each option, prefix and value is an error saying why and what to do instead', () => {
  for (const [option, reason] of Object.entries(NEVER_SUPPORTED)) {
    const found = issues(`${option} x\n`);
    assert.equal(found.length, 1, option);
    assert.equal(found[0]?.kind, 'never-supported', option);
    assert.equal(found[0]?.message, `moat.conf:1: ${option} is not supported by moat and will not be: ${reason.why}; ${reason.instead}.`);
  }
  for (const [prefix, reason] of Object.entries(NEVER_SUPPORTED_PREFIXES)) {
    assert.equal(only(`${prefix}backend mysql\n`), `moat.conf:1: ${prefix}backend is not supported by moat and will not be: ${reason.why}; ${reason.instead}.`);
  }
  for (const [line, reason] of Object.entries(NEVER_SUPPORTED_VALUES)) {
    const context = line.startsWith('tls_') ? 'listener 8883\ncertfile /c\nkeyfile /k\n' : '';
    const found = issues(`${context}${line}\n`);
    assert.deepEqual(found.map((i) => i.kind), ['never-supported'], line);
    const at = context.split('\n').length;
    assert.equal(found[0]?.message, `moat.conf:${at}: ${line} is not supported by moat and will not be: ${reason.why}; ${reason.instead}.`);
  }
  assert.equal(
    only('listener 8883\ntls_engine pkcs11\n'),
    'moat.conf:2: tls_engine is not supported by moat and will not be: moat does not load OpenSSL engines (deprecated since ' +
      'OpenSSL 3.0, and in Node.js); remove the line and give the private key as a PEM file (keyfile PATH).',
  );
});

test('protocol websockets is accepted, plain (ws://) and with TLS options (wss://)', () => {
  const plain = parseConfig('listener 9001\nprotocol websockets\n', 'moat.conf');
  assert.equal(plain.listeners[0]?.protocol, 'websockets');
  assert.equal(plain.listeners[0]?.tls, undefined);
  const secure = parseConfig('listener 9002\nprotocol websockets\ncertfile /etc/moat/cert.pem\nkeyfile /etc/moat/key.pem\n', 'moat.conf');
  assert.equal(secure.listeners[0]?.protocol, 'websockets');
  assert.equal(secure.listeners[0]?.tls?.certfile, '/etc/moat/cert.pem');
});

test('all errors in a file are reported together, in line order', () => {
  let caught: unknown;
  try {
    parseConfig(
      ['max_keepalive ten', 'max_conections 5', 'listener 8883', 'http_dir /var/www', 'retain_available maybe', 'memory_limit ten', ''].join('\n'),
      'moat.conf',
    );
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof ConfigError);
  assert.deepEqual(
    caught.issues.map((i) => [i.line, i.kind, i.option]),
    [
      [1, 'invalid-value', 'max_keepalive'],
      [2, 'unknown-option', 'max_conections'],
      [4, 'not-yet-supported', 'http_dir'],
      [5, 'invalid-value', 'retain_available'],
      [6, 'invalid-value', 'memory_limit'],
    ],
  );
  const lines = caught.message.split('\n');
  assert.equal(lines[0], '5 problems in the configuration:');
  assert.equal(lines[1], '  moat.conf:1: max_keepalive expects a whole number 0-65535, got "ten". Fix: write e.g. "max_keepalive 60".');
  assert.equal(lines.length, 6);
});

test('a bad listener line does not cascade into errors for the options under it', () => {
  const found = issues('listener abc\nmax_connections 10\nprotocol mqtt\nlistener 1883\n');
  assert.deepEqual(found.map((i) => i.line), [1]);
});

test('the file name given to parseConfig is the one errors name', () => {
  assert.match(issues('nope 1\n', '/etc/mosquitto/mosquitto.conf')[0]?.message ?? '', /^\/etc\/mosquitto\/mosquitto\.conf:1: /);
});

test('KNOWN_OPTIONS holds implemented, planned and never-supported options once each', () => {
  assert.equal(new Set(KNOWN_OPTIONS).size, KNOWN_OPTIONS.length);
  assert.ok(KNOWN_OPTIONS.includes('max_keepalive'));
  assert.ok(KNOWN_OPTIONS.includes('password_file'));
  assert.ok(KNOWN_OPTIONS.includes('persistence'));
  assert.ok(KNOWN_OPTIONS.includes('tls_engine'));
  assert.equal(only('tls_engin x\n'), 'moat.conf:1: unknown option "tls_engin". Fix: did you mean "tls_engine"?');
});

test('editDistance and closest', () => {
  assert.equal(editDistance('kitten', 'sitting'), 3);
  assert.equal(editDistance('ab', 'ba'), 1);
  assert.equal(editDistance('', 'abc'), 3);
  assert.equal(closest('max_keepaliv', ['max_keepalive', 'max_packet_size']), 'max_keepalive');
  assert.equal(closest('zzz', ['max_keepalive']), undefined);
  assert.equal(closest('allow_anon', ['allow_anonymous', 'acl_file']), 'allow_anonymous');
});
