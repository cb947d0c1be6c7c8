// The Mosquitto options moat reads since issue 10 (client ids, delivery, binding, process, TLS
// extras): their values at the edges, their scope, and the warnings for the ones that change
// nothing or are deprecated. Their effect with real clients: test/interop/*-options.test.ts,
// listener-binding, websockets-headers, tls-ciphers, test/cli/process-options.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseConfig, resolveSecurity, type BrokerConfig } from '../../src/config/index.js';
import { issues, only } from './issues.js';

const parse = (text: string): BrokerConfig => parseConfig(text, 'moat.conf');
const TLS = 'listener 8883\ncertfile /etc/moat/server.crt\nkeyfile /etc/moat/server.key\n';

test('log_facility 0-7 is read (and warned about: no syslog in moat); -1, 8 and words are refused', () => {
  for (const n of [0, 7]) {
    const c = parse(`log_facility ${n}\n`);
    assert.equal(c.warnings[0]?.message, `moat.conf:1: log_facility ${n} has no effect: it picks the syslog facility local${n}, and moat does not log to syslog. Fix: remove the line.`);
  }
  for (const bad of ['-1', '8', 'local5']) {
    assert.equal(only(`log_facility ${bad}\n`), `moat.conf:1: log_facility expects a syslog local facility number 0-7, got "${bad}". Fix: write e.g. "log_facility 5".`);
  }
});

test('websockets_headers_size 0-65535 (0 and unset: the default); -1 and 65536 are refused', () => {
  assert.equal(parse('').websocketsHeadersSize, 0);
  assert.equal(parse('websockets_headers_size 0\n').websocketsHeadersSize, 0);
  assert.equal(parse('websockets_headers_size 65535\n').websocketsHeadersSize, 65535);
  for (const bad of ['-1', '65536', '4k']) {
    assert.equal(
      only(`websockets_headers_size ${bad}\n`),
      `moat.conf:1: websockets_headers_size expects a whole number of bytes 0-65535 (0 = the default), got "${bad}". Fix: write e.g. "websockets_headers_size 4096".`,
    );
  }
});

test('socket_domain and bind_interface apply to the listener they are under', () => {
  const c = parse('listener 1883\nsocket_domain ipv4\nbind_interface eth0\nlistener 1884\nsocket_domain ipv6\nlistener 1885\n');
  assert.deepEqual(c.listeners.map((l) => [l.port, l.socketDomain, l.bindInterface]), [[1883, 'ipv4', 'eth0'], [1884, 'ipv6', undefined], [1885, undefined, undefined]]);
  assert.equal(only('listener 1883\nsocket_domain ipv5\n'), 'moat.conf:2: socket_domain expects one of ipv4, ipv6, got "ipv5". Fix: write e.g. "socket_domain ipv4".');
  assert.equal(parse('listener 1883\nbind_interface abcdefghijklmno\n').listeners[0]?.bindInterface, 'abcdefghijklmno', '15 bytes, the longest Linux name');
  for (const bad of ['abcdefghijklmnop', 'a/b']) {
    assert.equal(only(`listener 1883\nbind_interface ${bad}\n`), `moat.conf:2: bind_interface expects a network interface name, got "${bad}". Fix: write e.g. "bind_interface eth0".`);
  }
});

test('listener 0 PATH is a Unix socket listener: local to this machine, each path once', () => {
  const c = parse('listener 0 /run/moat/mqtt.sock\nlistener 1883 127.0.0.1\n');
  assert.deepEqual(c.listeners.map((l) => [l.port, l.host, l.socketPath]), [[0, undefined, '/run/moat/mqtt.sock'], [1883, '127.0.0.1', undefined]]);
  const [unix] = resolveSecurity(c);
  assert.equal(unix?.loopbackOnly, true);
  assert.equal(unix?.refusal, undefined, 'no refusal to start: only this machine can reach it');
  assert.match(unix?.warnings[0] ?? '', /^listener Unix socket \/run\/moat\/mqtt\.sock refuses anonymous clients and has no password_file/);
  assert.equal(
    only('listener 0 /run/moat/mqtt.sock\nlistener 0 /run/moat/mqtt.sock\n'),
    'moat.conf:2: listener 0 /run/moat/mqtt.sock is already defined at moat.conf:1. Fix: remove one of the two, or give them different socket paths.',
  );
  assert.match(only('listener 1883 /run/moat/mqtt.sock\n'), /^moat\.conf:1: listener expects an IP address or host name to bind to, got "\/run\/moat\/mqtt\.sock"/);
});

test('clientid_prefixes: one prefix, with a deprecation warning; use_username_as_clientid per listener', () => {
  const c = parse('clientid_prefixes secure-\nlistener 1883\nuse_username_as_clientid true\nlistener 1884\n');
  assert.equal(c.clientidPrefixes, 'secure-');
  assert.match(c.warnings[0]?.message ?? '', /^moat\.conf:1: clientid_prefixes is deprecated since Mosquitto 2\.0; moat still refuses client ids that do not start with "secure-"/);
  assert.deepEqual(c.listeners.map((l) => l.useUsernameAsClientid), [true, false]);
  assert.equal(parse('').clientidPrefixes, undefined);
  assert.match(only('clientid_prefixes a b\n'), /^moat\.conf:1: clientid_prefixes takes one value, got "a b"/);
  assert.match(only('listener 1883\nuse_username_as_clientid yes\n'), /^moat\.conf:2: use_username_as_clientid expects true or false/);
});

test('queue_qos0_messages, pid_file; allow_duplicate_messages and retry_interval are read with a warning', () => {
  assert.equal(parse('').queueQos0Messages, false);
  assert.equal(parse('queue_qos0_messages true\n').queueQos0Messages, true);
  assert.equal(parse('pid_file /run/moat/moat.pid\n').pidFile, '/run/moat/moat.pid');
  assert.equal(parse('').pidFile, undefined);
  assert.match(parse('allow_duplicate_messages true\n').warnings[0]?.message ?? '', /unlike Mosquitto, moat does not send a client one copy per matching subscription/);
  assert.match(parse('allow_duplicate_messages false\n').warnings[0]?.message ?? '', /deprecated since Mosquitto 2\.0; moat always sends each message once per client/);
  assert.match(only('allow_duplicate_messages maybe\n'), /expects true or false/);
  for (const line of ['retry_interval 20', 'retry_interval']) {
    assert.match(parse(`${line}\n`).warnings[0]?.message ?? '', /^moat\.conf:1: retry_interval has no effect since Mosquitto 2\.0/);
  }
});

test('ciphers_tls1.3, dhparamfile and tls_keyform pem are TLS listener options; tls_keyform engine never', () => {
  const tls = parse(`${TLS}ciphers_tls1.3 TLS_AES_256_GCM_SHA384\ndhparamfile /etc/moat/dh.pem\ntls_keyform pem\n`).listeners[0]?.tls;
  assert.equal(tls?.ciphersTls13, 'TLS_AES_256_GCM_SHA384');
  assert.equal(tls?.dhparamfile, '/etc/moat/dh.pem');
  assert.match(only('listener 1883\ntls_keyform pem\n'), /^moat\.conf:2: listener 1883 has TLS options but no certfile/);
  assert.match(only(`${TLS}tls_keyform der\n`), /^moat\.conf:4: tls_keyform expects one of pem, got "der"/);
  assert.match(only(`${TLS}tls_keyform engine\n`), /^moat\.conf:4: tls_keyform engine is not supported by moat and will not be: moat does not load OpenSSL engines/);
  assert.match(only(`${TLS}tls_version tlsv1.1\n`), /^moat\.conf:4: tls_version tlsv1\.1 is not supported by moat and will not be: TLS 1\.1 is deprecated \(RFC 8996\)/);
});
