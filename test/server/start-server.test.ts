// startServer: a parsed config becomes a running broker with real listeners (port 0 and loopback
// only), a publish/subscribe round trip through them, reload() re-reading the password file, the
// refusal of an unauthenticated non-loopback listener, a taken port (nothing left listening), and
// close() freeing the ports.
import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server as NetServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { formatPasswordHash, hashPassword } from '../../src/auth/password-file.js';
import { connect, type ReceivedMessage } from '../../src/client/index.js';
import { parseConfig } from '../../src/config/index.js';
import { ListenError, StartRefusedError } from '../../src/server/errors.js';
import { startServer, type Server } from '../../src/server/start-server.js';
import { recordingLogger } from '../kit/logger.js';

const dir = mkdtempSync(join(tmpdir(), 'moat-start-server-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** A password file; few iterations, the tests are not about hashing. */
async function writePasswords(file: string, users: Record<string, string>): Promise<void> {
  const lines = await Promise.all(Object.entries(users).map(async ([user, pw]) => `${user}:${formatPasswordHash(await hashPassword(pw, { iterations: 1000 }))}`));
  writeFileSync(file, `${lines.join('\n')}\n`);
}

/** Resolves with the server once `port` on 127.0.0.1 could be bound (so nothing else holds it). */
function bindPort(port: number): Promise<NetServer> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen({ port, host: '127.0.0.1', exclusive: true }, () => resolve(server));
  });
}

const closeNet = (server: NetServer): Promise<void> => new Promise((resolve) => server.close(() => resolve()));

test('startServer opens the listeners of a parsed config on real ports and serves a publish/subscribe round trip', async () => {
  const socketPath = join(dir, 'moat.sock');
  const config = parseConfig(
    `listener 0 127.0.0.1\nallow_anonymous true\nlistener 0 127.0.0.1\nprotocol websockets\nlistener 0 ${socketPath}\npersistence false\n`,
    join(dir, 'round-trip.conf'),
  );
  const { logger, records } = recordingLogger();
  const server = await startServer(config, { logger });
  try {
    assert.deepEqual(
      server.listeners.map((l) => l.protocol),
      ['mqtt', 'websockets', 'mqtt'],
    );
    const [tcp, ws, unix] = server.listeners;
    assert.ok(tcp !== undefined && ws !== undefined && unix !== undefined);
    assert.ok(tcp.port > 0 && ws.port > 0 && tcp.port !== ws.port, `ports ${tcp.port}, ${ws.port}`);
    assert.equal(tcp.host, '127.0.0.1');
    assert.equal(unix.host, socketPath);
    const listening = records.filter((r) => r.fields['event'] === 'listening');
    assert.deepEqual(
      listening.map((r) => r.msg),
      [`listening on 127.0.0.1:${tcp.port} (mqtt)`, `listening on 127.0.0.1:${ws.port} (websockets)`, `listening on ${socketPath} (mqtt)`],
    );

    let received!: (message: ReceivedMessage) => void;
    const message = new Promise<ReceivedMessage>((resolve) => (received = resolve));
    const subscriber = await connect(`mqtt://127.0.0.1:${tcp.port}`, { clientId: 'sub', reconnect: false, onMessage: (m) => received(m) });
    const publisher = await connect(`ws://127.0.0.1:${ws.port}/mqtt`, { clientId: 'pub', reconnect: false });
    try {
      assert.deepEqual(await subscriber.subscribe('round/+', { qos: 1 }), [1]);
      await publisher.publish('round/trip', 'hello', { qos: 1 });
      const got = await message;
      assert.equal(got.topic, 'round/trip');
      assert.equal(got.payload.toString(), 'hello');
    } finally {
      await Promise.all([subscriber.end(), publisher.end()]);
    }
  } finally {
    await server.close();
  }
});

test('reload() re-reads a changed password file: a user added to it can log in afterwards', async () => {
  const passwd = join(dir, 'passwd');
  await writePasswords(passwd, { alice: 'alice-pw' });
  const config = parseConfig(`listener 0 127.0.0.1\npassword_file ${passwd}\npersistence false\n`, join(dir, 'reload.conf'));
  const { logger, records } = recordingLogger();
  const server = await startServer(config, { logger });
  try {
    const url = `mqtt://127.0.0.1:${server.listeners[0]?.port}`;
    const alice = await connect(url, { clientId: 'alice', username: 'alice', password: 'alice-pw', reconnect: false });
    await assert.rejects(connect(url, { clientId: 'bob', username: 'bob', password: 'bob-pw', reconnect: false }));

    // alice's line stays as it was (a changed entry would log her out), bob's is added.
    appendFileSync(passwd, `bob:${formatPasswordHash(await hashPassword('bob-pw', { iterations: 1000 }))}\n`);
    assert.deepEqual(await server.reload(), { tlsReloaded: 0, tlsFailed: 0, accessReloaded: 1, accessFailed: 0 });
    assert.ok(records.some((r) => r.fields['event'] === 'auth_reloaded' && r.fields['users'] === 2));
    const bob = await connect(url, { clientId: 'bob', username: 'bob', password: 'bob-pw', reconnect: false });
    assert.ok(alice.connected, 'an unchanged user stays connected');
    await Promise.all([alice.end(), bob.end()]);
  } finally {
    await server.close();
  }
});

test('a non-loopback listener without authentication is refused with the refusal sentence, before anything listens', async () => {
  const file = join(dir, 'refused.conf');
  const config = parseConfig('# production\nlistener 0 0.0.0.0\npersistence false\n', file);
  const { logger, records } = recordingLogger();
  await assert.rejects(startServer(config, { logger }), (error: unknown) => {
    assert.ok(error instanceof StartRefusedError);
    assert.equal(error.code, 'MOAT_ERR_START_REFUSED');
    assert.equal(error.refusals.length, 1);
    assert.match(error.refusals[0] ?? '', /^listener 0\.0\.0\.0:any free port \(.*refused\.conf:2\) can be reached from other machines/);
    assert.match(error.message, /^refusing to start: listener 0\.0\.0\.0/);
    return true;
  });
  assert.equal(records.filter((r) => r.fields['event'] === 'listening').length, 0);
});

test('a listener whose port is taken makes startServer reject naming it and its file:line, and leaves nothing listening', async () => {
  const blocker = await bindPort(0);
  const address = blocker.address();
  assert.ok(address !== null && typeof address === 'object');
  const taken = address.port;
  try {
    const file = join(dir, 'taken.conf');
    const config = parseConfig(`allow_anonymous true\nlistener 0 127.0.0.1\nlistener ${taken} 127.0.0.1\npersistence false\n`, file);
    const { logger, records } = recordingLogger();
    await assert.rejects(startServer(config, { logger }), (error: unknown) => {
      assert.ok(error instanceof ListenError);
      assert.equal(error.code, 'MOAT_ERR_LISTEN');
      assert.equal(error.listener.port, taken);
      assert.ok(error.message.startsWith(`cannot listen on 127.0.0.1:${taken} (${file}:3): `), error.message);
      assert.match(error.message, /EADDRINUSE/);
      return true;
    });
    const failed = records.find((r) => r.fields['event'] === 'listen_failed');
    assert.equal(failed?.msg, `cannot listen on 127.0.0.1:${taken} (${file}:3)`);
    // The first listener had opened; it is closed again, so its port can be bound.
    const opened = records.find((r) => r.fields['event'] === 'listening');
    const port = opened?.fields['port'];
    assert.ok(typeof port === 'number' && port > 0);
    await closeNet(await bindPort(port));
  } finally {
    await closeNet(blocker);
  }
});

test('close() frees the ports: a new server binds the same port; closing twice is fine', async () => {
  const { logger } = recordingLogger();
  const first: Server = await startServer(parseConfig('listener 0 127.0.0.1\nallow_anonymous true\npersistence false\n', join(dir, 'first.conf')), { logger });
  const port = first.listeners[0]?.port;
  assert.ok(port !== undefined && port > 0);
  const client = await connect(`mqtt://127.0.0.1:${port}`, { clientId: 'closing', reconnect: false });
  const closed = new Promise<void>((resolve) => client.onDisconnect(() => resolve()));
  await first.close();
  await first.close();
  await closed;
  const second = await startServer(parseConfig(`listener ${port} 127.0.0.1\nallow_anonymous true\npersistence false\n`, join(dir, 'second.conf')), { logger });
  try {
    assert.equal(second.listeners[0]?.port, port);
  } finally {
    await second.close();
  }
});
