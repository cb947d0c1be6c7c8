import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CONFIG_DEFAULTS, defaultConfig, parseConfig, type BrokerConfig } from '../../src/config/index.js';

const parse = (text: string): BrokerConfig => parseConfig(text, 'moat.conf');

test('defaultConfig: one local-only listener on 127.0.0.1:1883 and mosquitto defaults', () => {
  const c = defaultConfig();
  assert.equal(c.localOnly, true);
  assert.deepEqual(c.files, []);
  assert.equal(c.listeners.length, 1);
  const [l] = c.listeners;
  assert.ok(l);
  assert.equal(l.port, 1883);
  assert.equal(l.host, '127.0.0.1');
  assert.equal(l.protocol, 'mqtt');
  assert.equal(l.allowAnonymous, undefined);
  assert.equal(l.maxConnections, -1);
  assert.equal(l.maxTopicAlias, 10);
  assert.equal(l.allowZeroLengthClientId, true);
  assert.equal(l.autoIdPrefix, 'auto-');
  assert.equal(l.tls, undefined);
  assert.equal(c.allowAnonymous, undefined);
  assert.equal(c.perListenerSettings, false);
  assert.equal(c.maxKeepalive, 65535);
  assert.equal(c.maxPacketSize, 0);
  assert.equal(c.messageSizeLimit, 0);
  assert.equal(c.retainAvailable, true);
  assert.equal(c.persistentClientExpiration, undefined);
  assert.equal(c.maxInflightMessages, 20);
  assert.equal(c.maxInflightBytes, 0);
  assert.equal(c.maxQueuedMessages, 1000);
  assert.equal(c.maxQueuedBytes, 0);
  assert.equal(c.sysInterval, 10);
  assert.equal(c.connectTimeout, 10);
  assert.equal(c.maxTopicLevels, 201);
  assert.equal(c.upgradeOutgoingQos, false);
  assert.equal(c.setTcpNodelay, true);
  assert.deepEqual(c.log, {
    destinations: ['stderr'],
    file: undefined,
    types: ['error', 'warning', 'notice', 'information'],
    timestamp: true,
    timestampFormat: undefined,
    connectionMessages: true,
  });
  assert.deepEqual(c.warnings, []);
});

test('an empty or comment-only file gives the same config as defaultConfig, apart from file names', () => {
  const c = parse('# only a comment\n\n   \n\t# indented comment\n');
  const d = defaultConfig();
  assert.deepEqual(c.files, ['moat.conf']);
  assert.deepEqual({ ...c, files: [], listeners: [] }, { ...d, files: [], listeners: [] });
  assert.deepEqual({ ...c.listeners[0], source: null }, { ...d.listeners[0], source: null });
});

test('the resolved config is frozen', () => {
  const c = parse('listener 1883\n');
  assert.ok(Object.isFrozen(c));
  assert.ok(Object.isFrozen(c.listeners));
  assert.ok(Object.isFrozen(c.listeners[0]));
  assert.ok(Object.isFrozen(c.log));
});

// Each implemented global option: the line, and what it must produce.
const globalCases: readonly [line: string, pick: (c: BrokerConfig) => unknown, expected: unknown][] = [
  ['max_keepalive 60', (c) => c.maxKeepalive, 60],
  ['max_keepalive 0', (c) => c.maxKeepalive, 0],
  ['max_keepalive 65535', (c) => c.maxKeepalive, 65535],
  ['max_packet_size 1048576', (c) => c.maxPacketSize, 1048576],
  ['max_packet_size 20', (c) => c.maxPacketSize, 20],
  ['max_packet_size 0', (c) => c.maxPacketSize, 0],
  ['message_size_limit 268435455', (c) => c.messageSizeLimit, 268435455],
  ['retain_available false', (c) => c.retainAvailable, false],
  ['retain_available 0', (c) => c.retainAvailable, false],
  ['retain_available 1', (c) => c.retainAvailable, true],
  ['persistent_client_expiration 1h', (c) => c.persistentClientExpiration, 3600],
  ['persistent_client_expiration 2d', (c) => c.persistentClientExpiration, 2 * 86400],
  ['persistent_client_expiration 3w', (c) => c.persistentClientExpiration, 3 * 7 * 86400],
  ['persistent_client_expiration 4m', (c) => c.persistentClientExpiration, 4 * 30 * 86400],
  ['persistent_client_expiration 5y', (c) => c.persistentClientExpiration, 5 * 365 * 86400],
  ['max_inflight_messages 1', (c) => c.maxInflightMessages, 1],
  ['max_inflight_messages 0', (c) => c.maxInflightMessages, 0],
  ['max_inflight_bytes 65536', (c) => c.maxInflightBytes, 65536],
  ['max_queued_messages 0', (c) => c.maxQueuedMessages, 0],
  ['max_queued_messages 5000', (c) => c.maxQueuedMessages, 5000],
  ['max_queued_bytes 10485760', (c) => c.maxQueuedBytes, 10485760],
  ['sys_interval 0', (c) => c.sysInterval, 0],
  ['sys_interval 60', (c) => c.sysInterval, 60],
  ['connect_timeout 30', (c) => c.connectTimeout, 30],
  ['max_topic_levels 1', (c) => c.maxTopicLevels, 1],
  ['max_topic_levels 32768', (c) => c.maxTopicLevels, 32768],
  ['publisher_flow_control false', (c) => c.publisherFlowControl, false],
  // The limits of issue 12, each at its bounds.
  ['global_max_connections -1', (c) => c.globalMaxConnections, -1],
  ['global_max_connections 1', (c) => c.globalMaxConnections, 1],
  ['global_max_connections 2147483647', (c) => c.globalMaxConnections, 2147483647],
  ['max_connection_rate 0', (c) => c.maxConnectionRate, 0],
  ['max_connection_rate -1', (c) => c.maxConnectionRate, 0],
  ['max_connection_rate 1', (c) => c.maxConnectionRate, 1],
  ['max_connection_rate 1000000', (c) => c.maxConnectionRate, 1000000],
  ['max_connection_rate_per_address 0', (c) => c.maxConnectionRatePerAddress, 0],
  ['max_connection_rate_per_address -1', (c) => c.maxConnectionRatePerAddress, 0],
  ['max_connection_rate_per_address 1000000', (c) => c.maxConnectionRatePerAddress, 1000000],
  ['memory_limit 0', (c) => c.memoryLimit, 0],
  ['memory_limit 1', (c) => c.memoryLimit, 1],
  ['memory_limit 9007199254740991', (c) => c.memoryLimit, Number.MAX_SAFE_INTEGER],
  ['max_subscriptions_per_client -1', (c) => c.maxSubscriptionsPerClient, -1],
  ['max_subscriptions_per_client 1', (c) => c.maxSubscriptionsPerClient, 1],
  ['max_subscriptions_per_client 2147483647', (c) => c.maxSubscriptionsPerClient, 2147483647],
  ['max_topic_length 1', (c) => c.maxTopicLength, 1],
  ['max_topic_length 65535', (c) => c.maxTopicLength, 65535],
  ['overload_protection true', (c) => c.overloadProtection, true],
  ['overload_protection false', (c) => c.overloadProtection, false],
  ['max_event_loop_lag 0', (c) => c.maxEventLoopLag, 0],
  ['max_event_loop_lag 60000', (c) => c.maxEventLoopLag, 60000],
  ['publisher_flow_control true', (c) => c.publisherFlowControl, true],
  ['upgrade_outgoing_qos true', (c) => c.upgradeOutgoingQos, true],
  ['set_tcp_nodelay false', (c) => c.setTcpNodelay, false],
  ['allow_anonymous true', (c) => c.allowAnonymous, true],
  ['allow_anonymous false', (c) => c.allowAnonymous, false],
  ['allow_zero_length_clientid false', (c) => c.allowZeroLengthClientId, false],
  ['auto_id_prefix moat-', (c) => c.autoIdPrefix, 'moat-'],
  ['per_listener_settings true', (c) => c.perListenerSettings, true],
  ['per_listener_settings false', (c) => c.perListenerSettings, false],
  ['log_dest stdout', (c) => c.log.destinations, ['stdout']],
  ['log_dest none', (c) => c.log.destinations, []],
  ['log_dest file /var/log/moat.log', (c) => [c.log.destinations, c.log.file], [['file'], '/var/log/moat.log']],
  ['log_type debug', (c) => c.log.types, ['debug']],
  ['log_type none', (c) => c.log.types, []],
  ['log_type all', (c) => c.log.types.length, 9],
  ['log_timestamp false', (c) => c.log.timestamp, false],
  ['log_timestamp_format %Y-%m-%dT%H:%M:%S', (c) => c.log.timestampFormat, '%Y-%m-%dT%H:%M:%S'],
  ['connection_messages false', (c) => c.log.connectionMessages, false],
];

for (const [line, pick, expected] of globalCases) {
  test(`option: "${line}"`, () => {
    assert.deepEqual(pick(parse(`${line}\n`)), expected);
  });
}

// Listener-scoped options, written inside a listener block.
const listenerCases: readonly [line: string, key: 'protocol' | 'maxConnections' | 'maxTopicAlias', expected: unknown][] = [
  ['protocol mqtt', 'protocol', 'mqtt'],
  ['max_connections 6000', 'maxConnections', 6000],
  ['max_connections -1', 'maxConnections', -1],
  ['max_topic_alias 0', 'maxTopicAlias', 0],
  ['max_topic_alias 65535', 'maxTopicAlias', 65535],
];

for (const [line, key, expected] of listenerCases) {
  test(`listener option: "${line}"`, () => {
    const c = parse(`listener 1883\n${line}\n`);
    assert.equal(c.listeners[0]?.[key], expected);
  });
}

test('log_dest accumulates over lines; none clears; order is canonical', () => {
  assert.deepEqual(parse('log_dest stdout\nlog_dest stderr\n').log.destinations, ['stdout', 'stderr']);
  assert.deepEqual(parse('log_dest stderr\nlog_dest stdout\n').log.destinations, ['stdout', 'stderr']);
  const c = parse('log_dest file /tmp/a.log\nlog_dest none\nlog_dest stdout\n');
  assert.deepEqual(c.log.destinations, ['stdout']);
  assert.equal(c.log.file, undefined);
});

test('log_dest file keeps a path with spaces', () => {
  assert.equal(parse('log_dest file /var/log/my logs/moat.log\n').log.file, '/var/log/my logs/moat.log');
});

test('log_type accumulates over lines', () => {
  assert.deepEqual(parse('log_type error\nlog_type subscribe\nlog_type warning\n').log.types, ['error', 'warning', 'subscribe']);
});

test('log_timestamp_format keeps spaces (rest of the line)', () => {
  assert.equal(parse('log_timestamp_format %Y-%m-%d %H:%M:%S\n').log.timestampFormat, '%Y-%m-%d %H:%M:%S');
});

test('a later line overrides an earlier one', () => {
  assert.equal(parse('max_keepalive 60\nmax_keepalive 120\n').maxKeepalive, 120);
});

test('syntax: trailing whitespace, CRLF, tabs, BOM and leading spaces are accepted', () => {
  const c = parse('\uFEFFmax_keepalive 60   \r\n  sys_interval\t30\r\n\r\nmax_queued_messages  200\t\n');
  assert.equal(c.maxKeepalive, 60);
  assert.equal(c.sysInterval, 30);
  assert.equal(c.maxQueuedMessages, 200);
});

test('syntax: a "#" comment after a single value is ignored, as mosquitto does', () => {
  const c = parse('listener 1883 # plain\nmax_connections 6000        # 20% headroom\nmax_queued_messages 10 #no space\n');
  assert.equal(c.listeners[0]?.maxConnections, 6000);
  assert.equal(c.listeners[0]?.port, 1883);
  assert.equal(c.listeners[0]?.host, undefined);
  assert.equal(c.maxQueuedMessages, 10);
});

test('syntax: a free-text value keeps " # ..." like mosquitto, with a warning', () => {
  const c = parse('log_timestamp_format %H:%M:%S # local time\n');
  assert.equal(c.log.timestampFormat, '%H:%M:%S # local time');
  assert.match(c.warnings[0]?.message ?? '', /^moat\.conf:1: log_timestamp_format value "%H:%M:%S # local time" contains " #"/);
});

test('warning: max_keepalive below 10 seconds', () => {
  const c = parse('max_keepalive 5\n');
  assert.equal(c.maxKeepalive, 5);
  assert.match(c.warnings[0]?.message ?? '', /^moat\.conf:1: max_keepalive 5 is below 10 seconds/);
});

test('CONFIG_DEFAULTS matches mosquitto 2.0 defaults that matter for compatibility', () => {
  assert.equal(CONFIG_DEFAULTS.maxInflightMessages, 20);
  assert.equal(CONFIG_DEFAULTS.maxQueuedMessages, 1000);
  assert.equal(CONFIG_DEFAULTS.maxKeepalive, 65535);
  assert.equal(CONFIG_DEFAULTS.maxTopicAlias, 10);
  assert.equal(CONFIG_DEFAULTS.autoIdPrefix, 'auto-');
});
