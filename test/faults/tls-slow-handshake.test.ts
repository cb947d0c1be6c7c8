// A slow TLS handshake (an ESP8266 takes ~6 s) must fit in the client's default connect timeout,
// and a short connectTimeoutMs must fail naming the TLS handshake as the step that hung. A TCP
// relay in front of moat's TLS listener holds the server's handshake bytes back for 6 s, then
// relays freely. (moat's own TLS handshake timeout is 30 s by default, and its connect_timeout of 10 s starts
// after the handshake, so neither interferes.)
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, connect as netConnect, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { connect, type MoatError } from '../../src/client/index.js';
import { makeTestCertificates } from '../kit/certs.js';
import { startMoat, type RunningMoat } from '../kit/moat.js';

const HOLD_MS = 6000;

interface Relay {
  readonly port: number;
  close(): Promise<void>;
}

/** Forwards to `port`; server→client bytes wait until `holdMs` after the client connected, then flow freely. */
async function startThrottlingRelay(port: number, holdMs: number): Promise<Relay> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = netConnect({ host: '127.0.0.1', port });
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => {
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream);
    const held: Buffer[] = [];
    let holding = true;
    upstream.on('data', (chunk: Buffer) => {
      if (holding) held.push(chunk);
      else client.write(chunk);
    });
    const timer = setTimeout(() => {
      holding = false;
      for (const chunk of held.splice(0)) client.write(chunk);
    }, holdMs);
    upstream.on('end', () => client.end());
    client.on('close', () => {
      clearTimeout(timer);
      upstream.destroy();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  assert.ok(address !== null && typeof address === 'object');
  return {
    port: address.port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

const dir = mkdtempSync(join(tmpdir(), 'moat-slow-tls-'));
let moat: RunningMoat | undefined;
let relay: Relay | undefined;
let ca = '';

before(async () => {
  const files = makeTestCertificates(dir);
  ca = readFileSync(files.ca, 'utf8');
  moat = await startMoat({ config: `listener 0 127.0.0.1\nallow_anonymous true\ncafile ${files.ca}\ncertfile ${files.cert}\nkeyfile ${files.key}\n` });
  relay = await startThrottlingRelay(moat.port, HOLD_MS);
});
after(async () => {
  await relay?.close();
  await moat?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const url = (): string => `mqtts://127.0.0.1:${relay?.port ?? 0}`;

test('a TLS handshake slowed to 6 s connects with the default connect timeout', { timeout: 20_000 }, async () => {
  const started = Date.now();
  const client = await connect(url(), { tls: { ca } });
  const elapsed = Date.now() - started;
  assert.ok(elapsed >= HOLD_MS - 50, `connected after ${elapsed} ms: the relay did not hold the handshake back`);
  assert.ok(client.connected);
  // The held bytes are through: the connection now works at normal speed.
  const messages = client.messages('slow/tls');
  await client.subscribe('slow/tls', { qos: 1 });
  await client.publish('slow/tls', 'after a slow handshake', { qos: 1 });
  const { value } = await messages.next();
  assert.equal(value?.payload.toString(), 'after a slow handshake');
  await client.end();
});

test('the same handshake with connectTimeoutMs 2000 fails within ~2 s, naming the TLS handshake', { timeout: 20_000 }, async () => {
  const started = Date.now();
  await assert.rejects(connect(url(), { tls: { ca }, connectTimeoutMs: 2000 }), (error: MoatError) => {
    assert.equal(error.code, 'MOAT_ERR_CONNECT_TIMEOUT');
    assert.match(error.message, /the TCP connection to 127\.0\.0\.1:\d+ opened, but the TLS handshake did not finish within 2000 ms \(connectTimeoutMs\)/);
    return true;
  });
  const elapsed = Date.now() - started;
  assert.ok(elapsed >= 1990 && elapsed < 3000, `rejected after ${elapsed} ms`);
});
