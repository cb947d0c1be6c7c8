// The client survives a broker killed with SIGKILL and restarted on the same port: it reconnects by
// itself with back-off and full jitter, resends unacknowledged QoS 1 with DUP, resubscribes when
// the restarted broker has no session, and a fleet of clients spreads its reconnects over the
// jitter window instead of arriving at once.
import assert from 'node:assert/strict';
import { createServer, Socket, type Server } from 'node:net';
import { test } from 'node:test';
import { connect, type MqttClient } from '../../src/client/index.js';
import { backoffCap } from '../../src/client/reconnect.js';
import { startMoat, type RunningMoat } from '../kit/moat.js';
import { freePort } from '../kit/ports.js';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function waitFor(what: string, ms: number, check: () => boolean): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(10);
  }
}

function listen(server: Server, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port }, () => resolve());
  });
}

/**
 * A TCP proxy in front of the broker for the publisher. While `open` is false it closes every new
 * connection at once (the publisher sees "closed before CONNACK" and backs off); it also lets the
 * test order the reconnects without relying on timing.
 */
async function gate(targetPort: number): Promise<{ port: number; open: boolean; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const state = { port: 0, open: true, close: async () => undefined as void };
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    if (!state.open) {
      socket.destroy();
      return;
    }
    const upstream = new Socket();
    upstream.on('error', () => socket.destroy());
    socket.on('error', () => upstream.destroy());
    upstream.on('close', () => socket.destroy());
    socket.on('close', () => upstream.destroy());
    upstream.connect(targetPort, '127.0.0.1', () => {
      socket.pipe(upstream);
      upstream.pipe(socket);
    });
  });
  await listen(server, 0);
  const address = server.address();
  state.port = typeof address === 'object' && address !== null ? address.port : 0;
  state.close = () =>
    new Promise<void>((resolve) => {
      for (const socket of sockets) socket.destroy();
      server.close(() => resolve());
    });
  return state;
}

test('SIGKILL and restart on the same port during 1,000 QoS 1 publishes: back-off with jitter, and every message the client is responsible for arrives', { timeout: 55_000 }, async (t) => {
  const port = await freePort();
  const config = `listener ${port} 127.0.0.1\nallow_anonymous true\n`;
  let moat: RunningMoat = await startMoat({ config });
  const proxy = await gate(port);
  const url = `mqtt://127.0.0.1:${port}`;

  const received = new Set<number>();
  const SUB_LAW = { initialDelayMs: 20, maxDelayMs: 100, multiplier: 2 };
  const PUB_LAW = { initialDelayMs: 100, maxDelayMs: 800, multiplier: 2 };
  const subscriberBack: number[] = [];
  const subscriber = await connect(url, {
    clientId: 'restart-subscriber',
    clean: false,
    properties: { sessionExpiryInterval: 300 },
    reconnect: SUB_LAW,
    onMessage: (m) => received.add(Number(m.payload.toString())),
  });
  subscriber.onConnect((connack) => subscriberBack.push(connack.sessionPresent ? 1 : 0));
  await subscriber.subscribe('load/#', { qos: 1 });

  const delays: Array<{ attempt: number; delayMs: number }> = [];
  const publisher = await connect(`mqtt://127.0.0.1:${proxy.port}`, { clientId: 'restart-publisher', reconnect: PUB_LAW, onReconnecting: (attempt, delayMs) => delays.push({ attempt, delayMs }) });
  let publisherBack = false;
  publisher.onConnect(() => (publisherBack = true));

  const TOTAL = 1000;
  const ackedAt = new Array<number>(TOTAL).fill(0);
  const results: Promise<void>[] = [];
  let killedAt = 0;
  let restarted: Promise<void> | undefined;
  try {
    for (let i = 0; i < TOTAL; i++) {
      results.push(publisher.publish(`load/${i % 10}`, String(i), { qos: 1 }).then(() => void (ackedAt[i] = Date.now())));
      if (i % 20 === 19) await sleep(2);
      if (i === 400) {
        // Kill mid-stream and restart on the same port. The gate keeps the publisher out until the
        // subscriber is back (onConnect fires after its resubscribe is acknowledged).
        restarted = (async () => {
          proxy.open = false;
          await moat.kill();
          killedAt = Date.now();
          moat = await startMoat({ config });
          await waitFor('the subscriber to reconnect and resubscribe', 15_000, () => subscriberBack.length > 0);
          proxy.open = true;
        })();
      }
    }
    await restarted;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error('the publishes did not all complete within 30 s')), 30_000)));
    await Promise.race([Promise.all(results), timeout]).finally(() => clearTimeout(timer));
    assert.ok(publisherBack, 'the publisher reconnected');
    assert.deepEqual(subscriberBack, [0], 'the restarted in-memory broker had no session: the subscriber resubscribed');
    await waitFor('deliveries', 5000, () => [...Array(TOTAL).keys()].every((i) => ackedAt[i] === undefined || ackedAt[i] <= killedAt || received.has(i)));

    // Why some messages may be missing, and which: moat has no persistence yet, so its sessions and
    // queues live in memory. A message the broker acknowledged (PUBACK, the publisher's promise
    // resolved) but had not yet written to the subscriber's socket when SIGKILL hit is gone with the
    // process: QoS 1 is at-least-once per hop, and the broker held the only copy. The client cannot
    // and must not resend what the broker acknowledged. So the test holds the client to what it is
    // responsible for:
    //  - every message NOT acknowledged by the killed broker (sent and unacked, or queued offline)
    //    must arrive: the publisher resends in-flight ones with DUP and flushes its offline queue,
    //    and the gate guarantees the subscriber has resubscribed before the publisher is let back in;
    //  - messages the killed broker acknowledged more than 1 s before the kill must have arrived
    //    (the subscriber reads them long before); only the last moment before the kill may lose some.
    const lost: number[] = [];
    for (let i = 0; i < TOTAL; i++) if (!received.has(i)) lost.push(i);
    const lostUnackedBeforeKill = lost.filter((i) => (ackedAt[i] as number) > killedAt);
    assert.deepEqual(lostUnackedBeforeKill, [], 'messages the client still held at the kill are all delivered');
    const lostEarly = lost.filter((i) => (ackedAt[i] as number) < killedAt - 1000);
    assert.deepEqual(lostEarly, [], 'messages acknowledged long before the kill were delivered');
    const resent = [...Array(TOTAL).keys()].filter((i) => (ackedAt[i] as number) > killedAt).length;
    assert.ok(resent > 0, 'some messages were completed by the restarted broker');
    // Lost messages, if any, are only those acked by the broker in the moment it died (logged).
    t.diagnostic(`${resent} messages completed after the restart; publisher back-off ${JSON.stringify(delays)}; ${lost.length} lost${lost.length > 0 ? ` (acked by the killed broker just before SIGKILL: ${lost.join(', ')})` : ''}`);

    // The publisher backed off by the law: attempt n waited within [0, cap(n)], and with jitter.
    assert.ok(delays.length >= 2, `the publisher retried (${delays.length} attempts)`);
    delays.forEach(({ attempt, delayMs }, i) => {
      assert.equal(attempt, i + 1);
      assert.ok(delayMs >= 0 && delayMs <= backoffCap(attempt, PUB_LAW), `attempt ${attempt}: ${delayMs} ms > cap ${backoffCap(attempt, PUB_LAW)}`);
    });
    assert.ok(delays.some(({ attempt, delayMs }) => delayMs !== backoffCap(attempt, PUB_LAW)), 'the delays are jittered, not the bare cap');
  } finally {
    await publisher.end();
    await subscriber.end();
    await proxy.close();
    await moat.stop();
  }
});

test('100 clients, broker killed: their first reconnect attempts spread over the jitter window, not the same millisecond', { timeout: 55_000 }, async () => {
  const port = await freePort();
  const config = `listener ${port} 127.0.0.1\nallow_anonymous true\n`;
  let moat: RunningMoat = await startMoat({ config });
  const WINDOW = 1000;
  const clients: MqttClient[] = [];
  const firstDelays: number[] = [];
  let reconnected = 0;
  const recorderSockets = new Set<Socket>();
  const recorder = createServer((socket) => {
    arrivals.push(Date.now());
    recorderSockets.add(socket); // hold it silent: one attempt per client inside the window
    socket.on('error', () => undefined);
  });
  const arrivals: number[] = [];
  try {
    for (let i = 0; i < 100; i++) {
      const client = await connect(moat.url, {
        reconnect: { initialDelayMs: WINDOW, maxDelayMs: 2000 },
        connectTimeoutMs: 10_000,
        onReconnecting: (attempt, delayMs) => attempt === 1 && firstDelays.push(delayMs),
      });
      client.onConnect(() => reconnected++);
      clients.push(client);
    }
    await moat.kill();
    const killedAt = Date.now();
    // Stand in for the broker on its port and record when each client's first attempt arrives.
    await listen(recorder, port);
    await waitFor('100 first attempts', WINDOW + 3000, () => arrivals.length >= 100);
    assert.equal(firstDelays.length, 100);
    assert.ok(firstDelays.every((d) => d >= 0 && d <= WINDOW));
    const sorted = [...arrivals].sort((a, b) => a - b);
    const spread = (sorted.at(-1) as number) - (sorted[0] as number);
    assert.ok(spread > 0.3 * WINDOW, `attempts spread over ${spread} ms of a ${WINDOW} ms window`);
    const buckets = new Map<number, number>();
    for (const t of arrivals) buckets.set(Math.floor((t - killedAt) / 10), (buckets.get(Math.floor((t - killedAt) / 10)) ?? 0) + 1);
    const busiest = Math.max(...buckets.values());
    assert.ok(busiest <= 10, `${busiest} attempts in one 10 ms bucket`);
    // Let them in: drop the held attempts, restart the broker; every client gets back by itself.
    await new Promise<void>((resolve) => {
      for (const socket of recorderSockets) socket.destroy();
      recorder.close(() => resolve());
    });
    moat = await startMoat({ config });
    await waitFor('all 100 clients to reconnect', 15_000, () => reconnected === 100);
  } finally {
    for (const socket of recorderSockets) socket.destroy();
    if (recorder.listening) recorder.close();
    await Promise.all(clients.map((c) => c.end()));
    await moat.stop();
  }
});
