// Issue 9, defect 1: durations past Node's 2^31-1 ms timer limit. A Session Expiry Interval of
// 2,147,484 s (one second past 24.8 days) used to make setTimeout fire after 1 ms, so the session,
// its subscriptions and its queued messages vanished at once. Every duration a client controls is
// tried at the overflow edge and at its protocol maximum.
import assert from 'node:assert/strict';
import { after, before, mock, test } from 'node:test';
import { LongTimer, MAX_TIMEOUT_MS } from '../../src/broker/long-timer.js';
import type { Subscription } from '../../src/codec/types.js';
import { connect, startBroker } from './helper.js';

const OVERFLOW_EDGE = 2_147_484; // seconds: the first whole second above 2^31-1 ms
const PROTOCOL_MAX = 0xfffffffe; // 0xFFFFFFFF means "never" and takes no timer at all
const sub = (filter: string): Subscription => ({ filter, qos: 1, noLocal: false, retainAsPublished: false, retainHandling: 0 });

const warnings: Error[] = [];
const onWarning = (warning: Error): void => {
  warnings.push(warning);
};
before(() => process.on('warning', onWarning));
after(() => {
  process.off('warning', onWarning);
  assert.deepEqual(warnings.filter((w) => w.name === 'TimeoutOverflowWarning').map((w) => w.message), []);
});

for (const seconds of [OVERFLOW_EDGE, PROTOCOL_MAX]) {
  for (const via of ['CONNECT', 'DISCONNECT'] as const) {
    test(`session expiry ${seconds} s set via ${via} keeps the session and its queued QoS 1 messages`, async () => {
      const broker = startBroker();
      const id = `long-${via}-${seconds}`;
      const expiryOnConnect = via === 'CONNECT' ? seconds : 60;
      const first = await connect(broker, id, { clean: true, properties: { sessionExpiryInterval: expiryOnConnect } }, 5);
      first.client.send({ type: 'subscribe', packetId: 1, subscriptions: [sub('long/#')] });
      await first.client.next('suback');
      first.client.send(via === 'DISCONNECT' ? { type: 'disconnect', reasonCode: 0, properties: { sessionExpiryInterval: seconds } } : { type: 'disconnect' });
      await first.client.waitClosed();

      const { client: publisher } = await connect(broker, `${id}-pub`);
      publisher.send({ type: 'publish', topic: 'long/x', payload: Buffer.from('kept'), qos: 1, retain: false, dup: false, packetId: 1 });
      await publisher.next('puback');
      await new Promise((resolve) => setTimeout(resolve, 50)); // an overflowed timer fires after 1 ms

      const session = broker.getSession(id);
      assert.ok(session !== undefined, 'the session is still there');
      const deadline = session.expiryTimer?.deadline ?? 0;
      assert.ok(Math.abs(deadline - (Date.now() + seconds * 1000)) < 5_000, `expires in ${seconds} s, not sooner (deadline ${deadline})`);

      const second = await connect(broker, id, { clean: false, properties: { sessionExpiryInterval: seconds } }, 5);
      assert.equal(second.connack.sessionPresent, true);
      const message = await second.client.next('publish');
      assert.equal(message.payload.toString(), 'kept');
      broker.close();
    });
  }

  test(`will delay ${seconds} s: the will waits instead of going out at once`, async () => {
    const broker = startBroker();
    const { client: watcher } = await connect(broker, `watch-${seconds}`, {}, 5);
    watcher.send({ type: 'subscribe', packetId: 1, subscriptions: [sub('wills/#')] });
    await watcher.next('suback');
    const will = { topic: 'wills/late', payload: Buffer.from('gone'), qos: 1 as const, retain: false, properties: { willDelayInterval: seconds } };
    const { client } = await connect(broker, `will-${seconds}`, { will, properties: { sessionExpiryInterval: 0xffffffff } }, 5);
    client.stream.destroy(); // no DISCONNECT: the will is due, after its delay
    await watcher.nothing('publish', 150);
    const session = broker.getSession(`will-${seconds}`);
    assert.ok(session?.willTimer?.pending, 'the will timer is armed');
    assert.ok(Math.abs((session?.willTimer?.deadline ?? 0) - (Date.now() + seconds * 1000)) < 5_000);
    broker.close();
  });
}

test('persistent_client_expiration of 100 years caps a 3.1.1 session without expiring it at once', async () => {
  const hundredYears = 100 * 365 * 86_400; // 3,153,600,000 s: above 2^31-1 ms many times over
  const broker = startBroker({ persistentClientExpiration: hundredYears });
  const first = await connect(broker, 'century', { clean: false });
  first.client.send({ type: 'subscribe', packetId: 1, subscriptions: [sub('c/#')] });
  await first.client.next('suback');
  first.client.send({ type: 'disconnect' });
  await first.client.waitClosed();
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.ok(broker.getSession('century') !== undefined);
  const second = await connect(broker, 'century', { clean: false });
  assert.equal(second.connack.sessionPresent, true);
  broker.close();
});

test('message expiry 0xFFFFFFFF is forwarded, not expired', async () => {
  const broker = startBroker();
  const { client: subscriber } = await connect(broker, 'reader', {}, 5);
  subscriber.send({ type: 'subscribe', packetId: 1, subscriptions: [sub('m')] });
  await subscriber.next('suback');
  const { client: publisher } = await connect(broker, 'writer', {}, 5);
  publisher.send({ type: 'publish', topic: 'm', payload: Buffer.from('x'), qos: 1, retain: true, dup: false, packetId: 1, properties: { messageExpiryInterval: 0xffffffff } });
  const live = await subscriber.next('publish');
  assert.ok((live.properties?.messageExpiryInterval ?? 0) >= 0xffffffff - 2);
  // The retained copy too, for a later subscriber.
  const { client: late } = await connect(broker, 'late', {}, 5);
  late.send({ type: 'subscribe', packetId: 1, subscriptions: [sub('m')] });
  const retained = await late.next('publish');
  assert.ok((retained.properties?.messageExpiryInterval ?? 0) >= 0xffffffff - 2);
  broker.close();
});

test('keep alive 65535 s (1.5 x = 27 h) is accepted and not enforced early', async () => {
  const broker = startBroker();
  const { client, connack } = await connect(broker, 'sleepy', { keepalive: 65535 }, 5);
  assert.equal(connack.reasonCode, 0);
  await new Promise((resolve) => setTimeout(resolve, 400)); // two sweeps
  assert.equal(client.closed, false);
  broker.close();
});

test('LongTimer fires once, at its deadline, across several 2^31-1 ms steps', () => {
  mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 0 });
  try {
    let fired = 0;
    const delay = 3 * MAX_TIMEOUT_MS + 12_345;
    const timer = new LongTimer(delay, () => fired++);
    mock.timers.tick(MAX_TIMEOUT_MS);
    mock.timers.tick(MAX_TIMEOUT_MS);
    mock.timers.tick(MAX_TIMEOUT_MS);
    assert.equal(fired, 0);
    assert.equal(timer.pending, true);
    mock.timers.tick(12_344);
    assert.equal(fired, 0);
    mock.timers.tick(1);
    assert.equal(fired, 1);
    assert.equal(timer.pending, false);
    mock.timers.tick(10 * MAX_TIMEOUT_MS);
    assert.equal(fired, 1);
  } finally {
    mock.timers.reset();
  }
});

test('LongTimer.cancel stops a long wait', () => {
  mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 0 });
  try {
    let fired = 0;
    const timer = new LongTimer(2 * MAX_TIMEOUT_MS, () => fired++);
    mock.timers.tick(MAX_TIMEOUT_MS + 5);
    timer.cancel();
    mock.timers.tick(3 * MAX_TIMEOUT_MS);
    assert.equal(fired, 0);
  } finally {
    mock.timers.reset();
  }
});
