// Broker events on diagnostics_channel (src/broker/events.ts): every channel of BROKER_EVENTS is
// subscribed to here and the action that emits it is performed, through the engine (in-memory
// duplex pairs) or a real listener (TCP, TLS, WebSocket on free loopback ports); each payload is
// checked for its broker and its fields. The last test fails when a channel has no test above.
import assert from 'node:assert/strict';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect as netConnect, createServer as netCreateServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { after, test } from 'node:test';
import { WebSocket } from 'ws';
import { AccessControl } from '../../src/auth/access-control.js';
import { AclFile } from '../../src/auth/acl-file.js';
import { Authenticator, DEFAULT_LOGIN_LIMITS } from '../../src/auth/authenticator.js';
import { formatPasswordHash, hashPassword, PasswordFile } from '../../src/auth/password-file.js';
import type { Broker } from '../../src/broker/broker.js';
import type { Subscription } from '../../src/codec/types.js';
import type { Message } from '../../src/broker/message.js';
import { MemoryStore } from '../../src/store/memory.js';
import { REFUSING_MAX } from '../../src/broker/limits.js';
import { encode } from '../../src/codec/encode.js';
import { authReporter, BROKER_EVENTS, type BrokerEvent, type BrokerEventPayload } from '../../src/broker/events.js';
import { silentLogger } from '../../src/broker/logger.js';
import { parseConfig } from '../../src/config/index.js';
import { startServer } from '../../src/server/start-server.js';
import { SysPublisher } from '../../src/observe/sys.js';
import { listenTcp } from '../../src/transport/tcp.js';
import { listenTls } from '../../src/transport/tls.js';
import { listenWebSocket } from '../../src/transport/ws.js';
import { makeTestCertificates } from '../kit/certs.js';
import { until } from '../kit/wait.js';
import { connect, duplexPair, open, startBroker } from './helper.js';

const FAILING_WORKER = new URL('../auth/fixtures/failing-hash-worker.js', import.meta.url);
const tested = new Set<BrokerEvent>();
const dir = mkdtempSync(join(tmpdir(), 'moat-events-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** Collects the payloads of `event` published for `broker` (any broker: undefined) until stop(). */
function capture<E extends BrokerEvent>(broker: Broker | undefined, event: E): { payloads: Array<BrokerEventPayload<E>>; stop(): void } {
  tested.add(event);
  const payloads: Array<BrokerEventPayload<E>> = [];
  const listener = (message: unknown): void => {
    const payload = message as BrokerEventPayload<E>;
    if (broker === undefined || payload.broker === broker) payloads.push(payload);
  };
  subscribe(BROKER_EVENTS[event], listener);
  return { payloads, stop: () => void unsubscribe(BROKER_EVENTS[event], listener) };
}

/** Waits for the first payload of `event` for `broker` that `action` causes. */
async function expectEvent<E extends BrokerEvent>(broker: Broker, event: E, action: () => unknown, timeoutMs = 5000): Promise<BrokerEventPayload<E>> {
  const seen = capture(broker, event);
  try {
    await action();
    await until(() => seen.payloads.length > 0, timeoutMs, `an event on ${BROKER_EVENTS[event]}`);
    const payload = seen.payloads[0] as BrokerEventPayload<E>;
    assert.equal(payload.broker, broker);
    return payload;
  } finally {
    seen.stop();
  }
}

/** A subscription with the v5 options at their defaults. */
function sub(filter: string, qos: 0 | 1 | 2 = 0): Subscription {
  return { filter, qos, noLocal: false, retainAsPublished: false, retainHandling: 0 };
}

async function passwords(users: Record<string, string>): Promise<PasswordFile> {
  const lines = await Promise.all(Object.entries(users).map(async ([user, password]) => `${user}:${formatPasswordHash(await hashPassword(password, { iterations: 1000 }))}`));
  return PasswordFile.parse(`${lines.join('\n')}\n`, 'passwd');
}

test('the channel names are one frozen table, all under moat:, none twice', () => {
  assert.ok(Object.isFrozen(BROKER_EVENTS));
  const names = Object.values(BROKER_EVENTS);
  assert.equal(new Set(names).size, names.length);
  for (const name of names) assert.match(name, /^moat:[a-z-]+:[a-z-]+$/);
});

test('client connected, subscribed, disconnected', async () => {
  const broker = startBroker();
  const connected = await expectEvent(broker, 'clientConnected', () => connect(broker, 'c1', { username: 'u', keepalive: 30 }, 5));
  assert.deepEqual({ ...connected, broker: undefined }, { broker: undefined, clientId: 'c1', username: 'u', address: '127.0.0.1', protocolVersion: 5, clean: true, keepalive: 30, sessionPresent: false });
  const { client } = await connect(broker, 'c2');
  const subscribed = await expectEvent(broker, 'subscribed', () =>
    client.send({ type: 'subscribe', packetId: 1, subscriptions: [sub('a/#', 1), sub('b', 0)] }),
  );
  assert.deepEqual([subscribed.clientId, subscribed.filters], ['c2', ['a/#', 'b']]);
  const disconnected = await expectEvent(broker, 'clientDisconnected', () => client.send({ type: 'disconnect' }));
  assert.deepEqual([disconnected.clientId, disconnected.graceful], ['c2', true]);
  broker.close();
});

test('takeover, will cancelled by a reconnect, will published, session expired', async () => {
  const broker = startBroker();
  const first = await connect(broker, 'dup');
  const takeover = await expectEvent(broker, 'sessionTakeover', () => connect(broker, 'dup'));
  assert.deepEqual([takeover.clientId, takeover.address], ['dup', '127.0.0.1']);
  assert.equal(await first.client.waitClosed(), true);

  const delayed = await connect(broker, 'w1', { clean: false, properties: { sessionExpiryInterval: 60 }, will: { topic: 'w/1', payload: Buffer.from('x'), qos: 0, retain: false, properties: { willDelayInterval: 30 } } }, 5);
  delayed.client.stream.destroy();
  await until(() => broker.getSession('w1')?.connection === undefined, 2000, 'w1 detached');
  const cancelled = await expectEvent(broker, 'willCancelled', () => connect(broker, 'w1', { clean: false }, 5));
  assert.equal(cancelled.clientId, 'w1');

  const willing = await connect(broker, 'w2', { will: { topic: 'w/2', payload: Buffer.from('bye'), qos: 0, retain: false } });
  const published = await expectEvent(broker, 'willPublished', () => willing.client.stream.destroy());
  assert.deepEqual([published.clientId, published.topic], ['w2', 'w/2']);

  const expiring = await connect(broker, 'e1', { properties: { sessionExpiryInterval: 1 } }, 5);
  const expired = await expectEvent(broker, 'sessionExpired', () => expiring.client.send({ type: 'disconnect', reasonCode: 0 }), 4000);
  assert.equal(expired.clientId, 'e1');
  broker.close();
});

test('connect refused, connect timeout, keep alive timeout', async () => {
  const broker = startBroker({ connectTimeoutMs: 200 });
  const refused = await expectEvent(broker, 'connectRefused', () => connect(broker, 'bad-will', { will: { topic: '', payload: Buffer.alloc(0), qos: 0, retain: false } }, 5));
  assert.equal(refused.clientId, 'bad-will');
  assert.equal(refused.reasonCode, 0x90);
  assert.match(refused.reason, /will topic/);
  const timedOut = await expectEvent(broker, 'connectTimeout', () => open(broker));
  assert.equal(timedOut.address, '127.0.0.1');
  const idle = await expectEvent(broker, 'keepaliveTimeout', () => connect(broker, 'idle', { keepalive: 1 }), 4000);
  assert.deepEqual([idle.clientId, idle.keepaliveMs], ['idle', 1500]);
  broker.close();
});

test('auth failed, banned, login revoked; publish and subscribe denied by the ACL', async () => {
  const control = AccessControl.of(await passwords({ alice: 'secret' }), AclFile.parse('user alice\ntopic read r/#\n', 'acl'));
  const broker = startBroker({ allowAnonymous: false, accessControl: control, authFailureLimit: 1 });
  const failed = capture(broker, 'authFailed');
  const banned = await expectEvent(broker, 'authBanned', () => connect(broker, 'm1', { username: 'alice', password: Buffer.from('wrong') }, 5));
  failed.stop();
  assert.equal(banned.username, 'alice');
  const refusal = failed.payloads[0];
  assert.ok(refusal !== undefined);
  assert.deepEqual([refusal.clientId, refusal.username, refusal.reasonCode, refusal.address], ['m1', 'alice', 0x86, '127.0.0.1']);

  const other = startBroker({ allowAnonymous: false, accessControl: control });
  const { client } = await connect(other, 'a1', { username: 'alice', password: Buffer.from('secret') }, 5);
  const publishDenied = await expectEvent(other, 'publishDenied', () => client.send({ type: 'publish', topic: 'w/1', qos: 1, packetId: 1, payload: Buffer.from('x'), retain: false, dup: false }));
  assert.deepEqual([publishDenied.clientId, publishDenied.username, publishDenied.topic], ['a1', 'alice', 'w/1']);
  const subscribeDenied = await expectEvent(other, 'subscribeDenied', () => client.send({ type: 'subscribe', packetId: 2, subscriptions: [sub('w/#', 0)] }));
  assert.deepEqual([subscribeDenied.clientId, subscribeDenied.filter], ['a1', 'w/#']);
  // The file-backed control a SIGHUP reloads: alice is removed from it.
  const passwordFile = join(dir, 'passwd');
  writeFileSync(passwordFile, `alice:${formatPasswordHash(await hashPassword('secret', { iterations: 1000 }))}\n`);
  const reloadable = await AccessControl.load(passwordFile, undefined);
  const third = startBroker({ allowAnonymous: false, accessControl: reloadable });
  await connect(third, 'a2', { username: 'alice', password: Buffer.from('secret') }, 5);
  writeFileSync(passwordFile, '');
  await reloadable.reload();
  const revoked = await expectEvent(third, 'loginRevoked', () => third.revokeStaleLogins(reloadable));
  assert.deepEqual([revoked.clientId, revoked.username], ['a2', 'alice']);
  assert.match(revoked.reason, /removed/);
  for (const b of [broker, other, third]) b.close();
});

test('auth busy, auth error and a failed hashing worker, reported by the Authenticator the broker wires', async () => {
  const broker = startBroker();
  const control = AccessControl.of(await passwords({ bob: 'pw' }), undefined);
  const rules = { allowAnonymous: false, control };
  const busyAuth = new Authenticator({ failureLimit: 0, banMs: 1000, report: authReporter(broker), limits: { ...DEFAULT_LOGIN_LIMITS, authHashWorkers: 1, authQueueLimit: 1 } });
  const attempt = (n: number) => ({ clientId: `b${n}`, username: 'bob', password: Buffer.from('pw'), address: `10.0.0.${n}` });
  const busy = await expectEvent(broker, 'authBusy', () => Promise.all([1, 2, 3].map((n) => busyAuth.login(rules, attempt(n)))));
  assert.equal(busy.reasonCode, 0x89);
  busyAuth.close();

  const failing = new Authenticator({ failureLimit: 0, banMs: 1000, report: authReporter(broker), hashWorkerUrl: FAILING_WORKER });
  const worker = capture(broker, 'hashWorkerFailed');
  const error = await expectEvent(broker, 'authError', () => failing.login(rules, { clientId: 'x', username: 'bob', password: Buffer.from('exit'), address: '10.0.0.9' }));
  worker.stop();
  assert.deepEqual([error.clientId, error.username, error.during], ['x', 'bob', 'password']);
  assert.ok(worker.payloads.length >= 1 && typeof worker.payloads[0]?.err === 'string');
  failing.close();
  broker.close();
});

test('publish refused, subscribe refused, publish dropped, protocol error, packet too large for the client', async () => {
  const broker = startBroker({ maxTopicLevels: 2 });
  const { client } = await connect(broker, 'p1', {}, 5);
  const publishRefused = await expectEvent(broker, 'publishRefused', () => client.send({ type: 'publish', topic: 'a/b/c', qos: 1, packetId: 1, payload: Buffer.from('x'), retain: false, dup: false }));
  assert.deepEqual([publishRefused.clientId, publishRefused.topic, publishRefused.reasonCode], ['p1', 'a/b/c', 0x90]);
  const subscribeRefused = await expectEvent(broker, 'subscribeRefused', () => client.send({ type: 'subscribe', packetId: 2, subscriptions: [sub('a/b/c', 0)] }));
  assert.deepEqual([subscribeRefused.filter, subscribeRefused.reasonCode], ['a/b/c', 0x8f]);
  const dropped = await expectEvent(broker, 'publishDropped', () => client.send({ type: 'publish', topic: '$SYS/x', qos: 1, packetId: 3, payload: Buffer.from('x'), retain: false, dup: false }));
  assert.equal(dropped.clientId, 'p1');
  assert.ok('reason' in dropped && dropped.reason === 'sys_topic' && dropped.count === 1);

  const small = await connect(broker, 'p2', { properties: { maximumPacketSize: 100 } }, 5);
  const tooLarge = await expectEvent(broker, 'packetTooLargeForClient', () =>
    small.client.send({ type: 'subscribe', packetId: 4, subscriptions: Array.from({ length: 200 }, (_, i) => sub(`t/${i}`, 0)) }),
  );
  assert.deepEqual([tooLarge.clientId, tooLarge.packet, tooLarge.maximumPacketSize], ['p2', 'suback', 100]);

  const broken = await connect(broker, 'p3', {}, 5);
  const protocol = await expectEvent(broker, 'protocolError', () => broken.client.sendRaw([0x82, 0x02, 0x00, 0x05]));
  assert.equal(protocol.clientId, 'p3');
  assert.equal(protocol.packet, 'subscribe');
  broker.close();
});

test('handler error and socket error cost only their connection', async () => {
  const broker = startBroker();
  const { client } = await connect(broker, 'h1');
  broker.router.subscribe = () => {
    throw new Error('a bug of ours');
  };
  const handler = await expectEvent(broker, 'handlerError', () => client.send({ type: 'subscribe', packetId: 1, subscriptions: [sub('x', 0)] }));
  assert.deepEqual([handler.clientId, handler.packet, (handler.err as Error).message], ['h1', 'subscribe', 'a bug of ours']);
  const [, brokerEnd] = duplexPair();
  broker.handle(brokerEnd, { remoteAddress: '192.0.2.1' });
  const socket = await expectEvent(broker, 'socketError', () => brokerEnd.destroy(new Error('ECONNRESET')));
  assert.deepEqual([socket.address, socket.err], ['192.0.2.1', 'ECONNRESET']);
  broker.close();
});

test('a bug in a CONNECT step after an asynchronous login costs only that connection (handler error)', async () => {
  const control = AccessControl.of(await passwords({ carol: 'pw', dave: 'pw' }), undefined);
  const broker = startBroker({ allowAnonymous: false, accessControl: control });
  const bystander = await connect(broker, 'bystander', { username: 'carol', password: Buffer.from('pw') }, 5);
  const openSession = broker.openSession.bind(broker);
  broker.openSession = () => {
    throw new Error('a bug after the password check');
  };
  // dave's password has not been checked yet, so his login is a hash off the event loop: asynchronous.
  const client = open(broker, 5);
  const handler = await expectEvent(broker, 'handlerError', () =>
    client.send({ type: 'connect', protocolName: 'MQTT', protocolVersion: 5, clean: true, keepalive: 0, clientId: 'victim', username: 'dave', password: Buffer.from('pw') }),
  );
  assert.deepEqual([handler.clientId, handler.packet, (handler.err as Error).message], ['victim', 'connect', 'a bug after the password check']);
  assert.equal(await client.waitClosed(), true);
  broker.openSession = openSession;
  bystander.client.send({ type: 'pingreq' });
  await bystander.client.next('pingresp');
  broker.close();
});

test('limit refused: past max_connections a CONNECT is answered 0x97; past the refusals that may wait, a socket is closed at once', async () => {
  const broker = startBroker({ allowAnonymous: true });
  const tcp = await listenTcp(broker, { host: '127.0.0.1', port: 0, maxConnections: 1, policy: { allowAnonymous: true } });
  const raw = (): Promise<Socket> =>
    new Promise((resolve) => {
      const socket = netConnect(tcp.port, '127.0.0.1', () => resolve(socket));
      socket.on('error', () => {});
    });
  const first = await raw();
  first.write(encode({ type: 'connect', protocolName: 'MQTT', protocolVersion: 5, clean: true, keepalive: 0, clientId: 'first' }, 5));
  let answer: Buffer | undefined;
  const answered = await expectEvent(broker, 'limitRefused', async () => {
    const second = await raw();
    second.on('data', (data: Buffer) => (answer = data));
    second.write(encode({ type: 'connect', protocolName: 'MQTT', protocolVersion: 5, clean: true, keepalive: 0, clientId: 'second' }, 5));
  });
  assert.deepEqual([answered.limit, answered.value, answered.clientId, answered.answered, answered.listener], ['max_connections', 1, 'second', true, `mqtt:0`]);
  await until(() => answer !== undefined, 2000, 'the CONNACK');
  assert.equal(answer?.[0], 0x20);
  assert.equal(answer?.[3], 0x97);
  // REFUSING_MAX sockets may wait for their CONNECT to be refused in words; the next is closed at once.
  const waiting = await Promise.all(Array.from({ length: REFUSING_MAX }, raw));
  const dropped = await expectEvent(broker, 'limitRefused', () => raw());
  assert.equal(dropped.answered, false);
  for (const socket of [first, ...waiting]) socket.destroy();
  await tcp.close();
  broker.close();
});

test('limit summary: refusals after the first of a reason are summed up once per interval, by reason', async () => {
  const broker = startBroker({ allowAnonymous: true, globalMaxConnections: 1, dropLogIntervalMs: 1 });
  await connect(broker, 'inside');
  const refusals = capture(broker, 'limitRefused');
  const summary = await expectEvent(broker, 'limitSummary', async () => {
    for (let i = 0; i < 3; i++) {
      const { connack } = await connect(broker, `over-${i}`, {}, 5);
      assert.equal(connack.reasonCode, 0x97);
    }
  });
  refusals.stop();
  assert.deepEqual(refusals.payloads.map((p) => [p.limit, p.value, p.clientId, p.logged]), [
    ['global_max_connections', 1, 'over-0', true],
    ['global_max_connections', 1, 'over-1', false],
    ['global_max_connections', 1, 'over-2', false],
  ]);
  assert.equal(summary.byReason.global_max_connections, summary.count);
  assert.ok(summary.count >= 1 && summary.count <= 2);
  broker.close();
});

test('overload held and released: while the event loop lags past max_event_loop_lag the flooding publisher is not read, then it is again', async () => {
  const broker = startBroker({ allowAnonymous: true, overloadProtection: true, maxEventLoopLagMs: 40 });
  const { client: flooder } = await connect(broker, 'flooder');
  let flooding = true;
  const flood = (): void => {
    if (!flooding) return;
    for (let i = 0; i < 20; i++) flooder.send({ type: 'publish', topic: 'flood', payload: Buffer.alloc(1000), qos: 0, retain: false, dup: false });
    setTimeout(flood, 5);
  };
  flood();
  // The lag: the event loop is blocked for 120 ms every 20 ms, as a CPU-bound broker would be.
  const blocker = setInterval(() => {
    const until = performance.now() + 120;
    while (performance.now() < until);
  }, 20);
  let held: BrokerEventPayload<'overloadHeld'>;
  try {
    held = await expectEvent(broker, 'overloadHeld', () => {}, 10_000);
  } finally {
    clearInterval(blocker);
  }
  assert.deepEqual([held.clientId, held.cause], ['flooder', 'event_loop_lag']);
  assert.ok(held.bytes > 0 && held.lagMs > 40, JSON.stringify({ bytes: held.bytes, lagMs: held.lagMs }));
  const released = await expectEvent(broker, 'overloadReleased', () => {}, 10_000);
  flooding = false;
  assert.equal(released.clientId, 'flooder');
  assert.ok(released.heldMs >= 0);
  broker.close();
});

test('capacity alert: set when connections reach the threshold of the limit, cleared below it with hysteresis', async () => {
  const broker = startBroker();
  const sys = new SysPublisher(broker, { intervalSeconds: 0, version: 'test', connectionLimit: 4, capacityAlertThreshold: 75 });
  const seen = capture(broker, 'capacityAlert');
  const clients = [];
  for (let i = 0; i < 3; i++) clients.push((await connect(broker, `cap-${i}`)).client);
  await until(() => seen.payloads.length > 0, 2000, 'the alert');
  const set = seen.payloads[0];
  assert.deepEqual([set?.state, set?.connected, set?.limit, set?.percent, set?.threshold, set?.alert], ['set', 3, 4, 75, 75, 'connections 3/4 (75.0%) crossed capacity_alert_threshold 75%']);
  // A limit of 4: one connection is 25 points, so the alert clears under 50%, not at 2 of 4.
  for (const client of clients.splice(0, 2)) {
    client.close();
    await client.waitClosed();
  }
  await until(() => seen.payloads.length > 1, 2000, 'the clear');
  seen.stop();
  assert.deepEqual(seen.payloads.map((p) => [p.state, p.connected]), [['set', 3], ['cleared', 1]]);
  sys.stop();
  broker.close();
});

test('listener error, WebSocket refused and WebSocket error on real listeners', async () => {
  const broker = startBroker({ allowAnonymous: true });
  const tcp = await listenTcp(broker, { host: '127.0.0.1', port: 0, policy: { allowAnonymous: true } });
  const listenerError = await expectEvent(broker, 'listenerError', () => tcp.server.emit('error', new Error('EMFILE')));
  assert.equal(listenerError.err, 'EMFILE');
  await tcp.close();

  const ws = await listenWebSocket(broker, { host: '127.0.0.1', port: 0, policy: { allowAnonymous: true } });
  const refused = await expectEvent(broker, 'websocketRefused', () => {
    const socket = new WebSocket(`ws://127.0.0.1:${ws.port}/mqtt`, 'chat');
    socket.on('error', () => {});
  });
  assert.equal(refused.subprotocol, 'chat');
  assert.equal(refused.address, '127.0.0.1');
  let answer: string | undefined;
  const wsError = await expectEvent(broker, 'websocketError', () => {
    const raw = netConnect(ws.port, '127.0.0.1', () => raw.write('GET /mqtt HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Protocol: mqtt\r\nSec-WebSocket-Version: 13\r\n\r\n'));
    raw.on('error', () => {});
    raw.on('data', (data: Buffer) => {
      answer = String(data).split('\r\n')[0];
      raw.destroy();
    });
  });
  assert.equal(wsError.address, '127.0.0.1');
  assert.match(wsError.err, /Sec-WebSocket-Key/i);
  // The bad handshake is answered and its socket closed (it used to stay open, holding close() up).
  await until(() => answer !== undefined, 2000, 'an HTTP answer to the bad handshake');
  assert.equal(answer, 'HTTP/1.1 400 Bad Request');
  await ws.close();
  broker.close();
});

test('TLS: a client refused for want of a certificate, a failed handshake, a psk_file warning', async () => {
  const files = makeTestCertificates(mkdtempSync(join(dir, 'tls-')));
  const broker = startBroker({ allowAnonymous: true });
  const base = { handshakeTimeout: 30, useIdentityAsUsername: false, useSubjectAsUsername: false } as const;
  const tls = await listenTls(broker, { host: '127.0.0.1', port: 0, tls: { ...base, cafile: files.ca, certfile: files.cert, keyfile: files.key, requireCertificate: true }, policy: { allowAnonymous: true } });
  const refused = await expectEvent(broker, 'tlsClientRefused', () => {
    const socket = tlsConnect({ host: '127.0.0.1', port: tls.port, ca: [readFileSync(files.ca)], servername: 'localhost' });
    socket.on('error', () => {});
    socket.on('secureConnect', () => socket.write(Buffer.from([0xc0, 0x00])));
  });
  assert.equal(refused.address, '127.0.0.1');
  assert.equal(refused.listenerPort, tls.port);
  assert.match(refused.reason, /no certificate/);
  const failed = await expectEvent(broker, 'tlsHandshakeFailed', () => {
    const raw = netConnect(tls.port, '127.0.0.1', () => raw.write('this is not TLS\r\n\r\n'));
    raw.on('error', () => {});
  });
  assert.equal(failed.address, '127.0.0.1');
  assert.notEqual(failed.reason, 'timeout');
  await tls.close();

  const pskFile = join(dir, 'psk');
  writeFileSync(pskFile, 'dev1:00112233\nno-colon-here\n');
  const warned = capture(broker, 'pskFileWarning');
  const psk = await listenTls(broker, { host: '127.0.0.1', port: 0, tls: { ...base, pskHint: 'moat', pskFile, requireCertificate: false }, policy: { allowAnonymous: true } });
  warned.stop();
  assert.equal(warned.payloads.length, 1);
  assert.equal(warned.payloads[0]?.file, pskFile);
  assert.match(warned.payloads[0]?.warning ?? '', /:2: this line is not IDENTITY:HEXKEY/);
  await psk.close();
  broker.close();
});

test('TLS: a finished handshake reports its duration, TLS version and resumption', async () => {
  const files = makeTestCertificates(mkdtempSync(join(dir, 'tls-done-')));
  const broker = startBroker({ allowAnonymous: true });
  const tls = await listenTls(broker, { host: '127.0.0.1', port: 0, tls: { handshakeTimeout: 30, useIdentityAsUsername: false, useSubjectAsUsername: false, certfile: files.cert, keyfile: files.key, requireCertificate: false }, policy: { allowAnonymous: true } });
  const done = await expectEvent(broker, 'tlsHandshakeCompleted', () => {
    const socket = tlsConnect({ host: '127.0.0.1', port: tls.port, ca: [readFileSync(files.ca)], servername: 'localhost' }, () => socket.end());
    socket.on('error', () => {});
  });
  assert.deepEqual([done.address, done.listenerPort, done.protocol, done.resumed], ['127.0.0.1', tls.port, 'TLSv1.3', false]);
  assert.ok(done.durationMs > 0 && Number.isFinite(done.durationMs), `durationMs ${done.durationMs}`);
  await tls.close();
  broker.close();
});

test('admin API: a request with a wrong token, a client disconnected by an administrator, the token file reloaded or kept', async () => {
  const token = 'a-token-of-at-least-sixteen-characters';
  const tokenFile = join(dir, 'admin-token');
  writeFileSync(tokenFile, `${token}\n`);
  const server = await startServer(parseConfig(`listener 0 127.0.0.1\nallow_anonymous true\nadmin_listener 0\nadmin_token_file ${tokenFile}\npersistence false\n`, join(dir, 'admin.conf')), { logger: silentLogger });
  const base = `http://127.0.0.1:${server.admin?.port}`;
  const refused = await expectEvent(server.broker, 'adminAuthFailed', () => fetch(`${base}/api/stats`, { headers: { authorization: 'Bearer wrong' } }));
  assert.deepEqual([refused.address, refused.method, refused.path, refused.reason], ['127.0.0.1', 'GET', '/api/stats', 'wrong']);
  const socket = netConnect(server.listeners[0]?.port ?? 0, '127.0.0.1');
  socket.on('error', () => {});
  socket.write(encode({ type: 'connect', protocolName: 'MQTT', protocolVersion: 5, clean: true, keepalive: 0, clientId: 'kicked', username: 'op' }, 5));
  await until(() => server.broker.getSession('kicked')?.connection?.connected === true, 2000, 'kicked connected');
  const kicked = await expectEvent(server.broker, 'adminDisconnect', () => fetch(`${base}/api/clients/kicked/disconnect`, { method: 'POST', headers: { authorization: `Bearer ${token}` } }));
  assert.deepEqual([kicked.clientId, kicked.username, kicked.address, kicked.by], ['kicked', 'op', '127.0.0.1', '127.0.0.1']);
  socket.destroy();
  const reloaded = await expectEvent(server.broker, 'adminTokenReloaded', () => server.reload());
  assert.equal(reloaded.file, tokenFile);
  writeFileSync(tokenFile, '\n');
  const kept = await expectEvent(server.broker, 'adminTokenReloadFailed', () => server.reload());
  assert.deepEqual([kept.file, /admin\.conf:4: admin_token_file .* is empty/.test(kept.err)], [tokenFile, true]);
  await server.close();
});

test('store error: a session the store cannot load refuses the client (0x88); a failed commit closes the publisher unacknowledged', async () => {
  class BrokenStore extends MemoryStore<Message> {
    override readonly pending = true;
    override loadSession(): Promise<undefined> {
      return Promise.reject(new Error('disk gone'));
    }
    override flush(): Promise<void> {
      return Promise.reject(new Error('disk full'));
    }
  }
  const broker = startBroker({ store: new BrokenStore({ durable: true }) });
  let refused: { connack: { reasonCode: number } } | undefined;
  const load = await expectEvent(broker, 'storeError', async () => {
    refused = await connect(broker, 'lost', { clean: false, properties: { sessionExpiryInterval: 60 } }, 5);
  });
  assert.deepEqual([load.clientId, load.operation, load.err], ['lost', 'load session', 'disk gone']);
  assert.equal(refused?.connack.reasonCode, 0x88);
  const { client } = await connect(broker, 'pub', {}, 5);
  const commit = await expectEvent(broker, 'storeError', () => client.send({ type: 'publish', topic: 't', payload: Buffer.from('x'), qos: 1, packetId: 1, retain: false, dup: false }));
  assert.deepEqual([commit.clientId, commit.operation, commit.err], ['pub', 'commit', 'disk full']);
  assert.equal(await client.waitClosed(), true);
  await client.nothing('puback', 10);
  broker.close();
});

test('server: listener started, insecure listener, password file warning, listener failed; reload skipped, auth and TLS reloaded or kept', async () => {
  const passwordFile = join(dir, 'server-passwd');
  writeFileSync(passwordFile, `alice:${formatPasswordHash(await hashPassword('pw', { iterations: 1000 }))}\nno-colon-line\n`);
  const started = capture(undefined, 'listenerStarted');
  const warned = capture(undefined, 'passwordFileWarning');
  const withPasswords = await startServer(parseConfig(`listener 0 127.0.0.1\npassword_file ${passwordFile}\npersistence false\n`, join(dir, 'a.conf')), { logger: silentLogger });
  started.stop();
  warned.stop();
  const own = started.payloads.filter((p) => p.broker === withPasswords.broker);
  assert.deepEqual(own.map((p) => [p.protocol, p.host, p.port]), [['mqtt', '127.0.0.1', withPasswords.listeners[0]?.port]]);
  assert.match(warned.payloads.find((p) => p.broker === withPasswords.broker)?.warning ?? '', /:2: this line is not USERNAME:HASH/);

  writeFileSync(passwordFile, `bob:${formatPasswordHash(await hashPassword('pw', { iterations: 1000 }))}\n`);
  const reloaded = await expectEvent(withPasswords.broker, 'authReloaded', () => withPasswords.reload());
  assert.deepEqual([reloaded.passwordFile, reloaded.users, reloaded.revoked], [passwordFile, 1, 0]);
  rmSync(passwordFile);
  const kept = await expectEvent(withPasswords.broker, 'authReloadFailed', () => withPasswords.reload());
  assert.match(kept.err, /does not exist/);
  await withPasswords.close();

  const insecure = capture(undefined, 'insecureListener');
  const nobody = await startServer(parseConfig('listener 0 127.0.0.1\nallow_anonymous false\npersistence false\n', join(dir, 'b.conf')), { logger: silentLogger });
  insecure.stop();
  assert.match(insecure.payloads.find((p) => p.broker === nobody.broker)?.warning ?? '', /no client can connect/);
  const skipped = await expectEvent(nobody.broker, 'reloadSkipped', () => nobody.reload());
  assert.equal(skipped.signal, 'SIGHUP');
  await nobody.close();

  const files = makeTestCertificates(mkdtempSync(join(dir, 'server-tls-')));
  const tls = await startServer(parseConfig(`listener 0 127.0.0.1\ncertfile ${files.cert}\nkeyfile ${files.key}\nallow_anonymous true\npersistence false\n`, join(dir, 'c.conf')), { logger: silentLogger });
  const tlsReloaded = await expectEvent(tls.broker, 'tlsReloaded', () => tls.reload());
  assert.deepEqual([tlsReloaded.protocol, tlsReloaded.certfile], ['mqtts', files.cert]);
  writeFileSync(files.cert, 'not a certificate\n');
  const tlsKept = await expectEvent(tls.broker, 'tlsReloadFailed', () => tls.reload());
  assert.equal(tlsKept.file, files.cert);
  await tls.close();

  const holder = netCreateServer();
  await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
  const taken = (holder.address() as { port: number }).port;
  const failed = capture(undefined, 'listenerFailed');
  await assert.rejects(startServer(parseConfig(`listener ${taken} 127.0.0.1\nallow_anonymous true\npersistence false\n`, join(dir, 'd.conf')), { logger: silentLogger }));
  failed.stop();
  await new Promise<void>((resolve) => holder.close(() => resolve()));
  const failure = failed.payloads.find((p) => p.port === taken);
  assert.ok(failure !== undefined);
  assert.match(failure.reason, /d\.conf:1/);
  assert.match(failure.err, /EADDRINUSE/);
});

test('docs/EVENTS.md lists every channel, and no other', () => {
  const doc = readFileSync(new URL('../../../docs/EVENTS.md', import.meta.url), 'utf8');
  const listed = [...doc.matchAll(/^\| `(moat:[^`]+)` \|/gm)].map((m) => m[1]);
  assert.deepEqual([...listed].sort(), Object.values(BROKER_EVENTS).sort());
});

test('every channel has a test above', () => {
  const untested = (Object.keys(BROKER_EVENTS) as BrokerEvent[]).filter((event) => !tested.has(event));
  assert.deepEqual(untested, []);
});
