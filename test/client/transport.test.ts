// The client over mqtts://, ws:// and wss://, against real brokers: moat's TLS listener (a moat
// process), and for WebSocket a test-only ws→TCP bridge in front of an in-process moat broker —
// moat has no WebSocket listener yet and Debian's mosquitto 2.0.11 here is built without
// websockets ("Unable to start any listening sockets" for `protocol websockets`).
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import type { IncomingHttpHeaders } from 'node:http';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { connect as netConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { TLSSocket } from 'node:tls';
import { createWebSocketStream, WebSocketServer } from 'ws';
import { connect, MoatError, parseClientOptions, type MqttClient } from '../../src/client/index.js';
import { openTransport, parseBrokerUrl, type Transport } from '../../src/client/transport.js';
import { emitConnectionWarnings, isLoopback, isPublicBroker, warningsFor } from '../../src/client/warnings.js';
import { makeClientCertificate, makeTestCertificates, type TlsFiles } from '../kit/certs.js';
import { startMoat, type RunningMoat } from '../kit/moat.js';
import { startBroker, within, type TestBroker } from './helper.js';

const dir = mkdtempSync(join(tmpdir(), 'moat-transport-'));
const otherDir = mkdtempSync(join(tmpdir(), 'moat-transport-other-'));
let files: TlsFiles;
let ca: string;
let moat: RunningMoat | undefined;
let moatMtls: RunningMoat | undefined;

const tlsConfig = (f: TlsFiles, extra = ''): string => `listener 0 127.0.0.1\nallow_anonymous true\ncafile ${f.ca}\ncertfile ${f.cert}\nkeyfile ${f.key}\n${extra}`;
const mqttsUrl = (broker: RunningMoat | undefined, host = '127.0.0.1'): string => {
  assert.ok(broker, 'moat did not start');
  return `mqtts://${host}:${broker.port}`;
};

/** Subscribes, publishes to itself at QoS 1 and returns the payload that came back. */
async function roundTrip(client: MqttClient, topic: string): Promise<string> {
  const messages = client.messages(topic);
  assert.deepEqual(await client.subscribe(topic, { qos: 1 }), [1]);
  await client.publish(topic, `hello over ${topic}`, { qos: 1 });
  const { value } = await within(3000, messages.next(), `a message on ${topic}`);
  assert.ok(value);
  return value.payload.toString();
}

before(async () => {
  files = makeTestCertificates(dir);
  ca = readFileSync(files.ca, 'utf8');
  makeTestCertificates(otherDir);
  [moat, moatMtls] = await Promise.all([startMoat({ config: tlsConfig(files) }), startMoat({ config: tlsConfig(files, 'require_certificate true\n') })]);
});
after(async () => {
  await Promise.all([moat?.stop(), moatMtls?.stop()]);
  rmSync(dir, { recursive: true, force: true });
  rmSync(otherDir, { recursive: true, force: true });
});

describe('mqtts://', () => {
  test('connects with tls.ca and round-trips a QoS 1 message', async () => {
    const client = await connect(mqttsUrl(moat), { tls: { ca } });
    assert.equal(await roundTrip(client, 'tls/round-trip'), 'hello over tls/round-trip');
    await client.end();
  });

  test('verifies the host name: localhost (DNS SAN) connects, a servername the certificate lacks is rejected', async () => {
    const client = await connect(mqttsUrl(moat, 'localhost'), { tls: { ca: Buffer.from(ca) } });
    await client.end();
    await assert.rejects(connect(mqttsUrl(moat), { tls: { ca, servername: 'wrong.example' } }), (error: MoatError) => {
      assert.equal(error.code, 'MOAT_ERR_CONNECT');
      assert.match(error.message, /not valid for this host name/);
      return true;
    });
  });

  test('a server certificate from another CA is rejected with a clear error; so is one checked against no CA', async () => {
    const otherCa = readFileSync(join(otherDir, 'ca.pem'), 'utf8');
    for (const tls of [{ ca: otherCa }, { ca: [otherCa] }, {}]) {
      await assert.rejects(connect(mqttsUrl(moat), { tls, connectTimeoutMs: 5000 }), (error: MoatError) => {
        assert.equal(error.code, 'MOAT_ERR_CONNECT');
        assert.match(error.message, /^Could not connect to mqtts:\/\/127\.0\.0\.1:\d+: .*certificate.*not signed by a CA this client trusts: pass the CA that signed it as tls\.ca/);
        return true;
      });
    }
  });

  test('rejectUnauthorized: false connects without a CA; it must be an explicit boolean', async () => {
    const client = await connect(mqttsUrl(moat), { tls: { rejectUnauthorized: false } });
    assert.equal(await roundTrip(client, 'tls/insecure'), 'hello over tls/insecure');
    await client.end();
    assert.equal(parseClientOptions().tls.rejectUnauthorized, true);
    assert.equal(parseClientOptions({ tls: {} }).tls.rejectUnauthorized, true);
    for (const value of ['false', 0, null]) {
      assert.throws(() => parseClientOptions({ tls: { rejectUnauthorized: value as never } }), /tls\.rejectUnauthorized must be true or false/);
    }
  });

  test('a client certificate is presented to a listener with require_certificate; without one the connect fails', async () => {
    const { cert, key } = makeClientCertificate(dir, files, 'device-1');
    const client = await connect(mqttsUrl(moatMtls), { tls: { ca, cert: readFileSync(cert), key: readFileSync(key, 'utf8') } });
    assert.equal(await roundTrip(client, 'tls/mtls'), 'hello over tls/mtls');
    await client.end();
    await assert.rejects(connect(mqttsUrl(moatMtls), { tls: { ca }, connectTimeoutMs: 5000 }), (error: MoatError) => {
      assert.equal(error.code, 'MOAT_ERR_CONNECT');
      return true;
    });
  });

  test('tls options are checked: PEM contents, cert with key, minVersion', () => {
    assert.throws(() => parseClientOptions({ tls: { ca: 42 as never } }), /tls\.ca must be PEM text/);
    assert.throws(() => parseClientOptions({ tls: { ca: [ca, 1 as never] } }), /tls\.ca\[1\] must be PEM text/);
    assert.throws(() => parseClientOptions({ tls: { cert: 'x' } }), /tls\.cert and tls\.key go together/);
    assert.throws(() => parseClientOptions({ tls: { minVersion: 'TLSv1.1' as never } }), /tls\.minVersion must be 'TLSv1\.2' or 'TLSv1\.3'/);
    assert.throws(() => parseClientOptions({ tls: { caFile: 'x' } as never }), /Unknown client option tls\.caFile/);
    const resolved = parseClientOptions({ tls: { ca } });
    assert.equal(resolved.tls.minVersion, 'TLSv1.2');
    assert.deepEqual(resolved.tls.ca, [ca]);
    assert.ok(Object.isFrozen(resolved.tls));
  });

  test('the client keeps working with minVersion TLSv1.3', async () => {
    const client = await connect(mqttsUrl(moat), { tls: { ca, minVersion: 'TLSv1.3' } });
    await client.end();
  });
});

/** Opens a TLS transport and resolves after the handshake, with its duration and the first session. */
async function handshake(url: string, session?: Buffer): Promise<{ ms: number; reused: boolean; session: Buffer | undefined; transport: Transport }> {
  const started = process.hrtime.bigint();
  const transport = openTransport(parseBrokerUrl(url), parseClientOptions({ tls: { ca } }), session);
  const socket = transport.stream as TLSSocket;
  socket.resume(); // TLS 1.3 tickets are read like data: keep reading, as the client does
  await new Promise<void>((resolve, reject) => {
    socket.once('secureConnect', resolve);
    socket.once('error', reject);
  });
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  // TLS 1.3 tickets arrive just after the handshake.
  const next = await within(2000, new Promise<Buffer>((resolve) => transport.onSession(resolve)), 'a TLS session ticket');
  socket.destroy();
  return { ms, reused: transport.sessionReused(), session: next, transport };
}

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
};

describe('TLS session reuse', () => {
  test('a second connect passing the first one\'s session resumes it (isSessionReused)', async () => {
    const first = await handshake(mqttsUrl(moat));
    assert.equal(first.reused, false);
    assert.ok(first.session);
    const second = await handshake(mqttsUrl(moat), first.session);
    assert.equal(second.reused, true);
  });

  test('full vs resumed handshake time (median of 20 each)', async (t) => {
    const full: number[] = [];
    const resumed: number[] = [];
    let session = (await handshake(mqttsUrl(moat))).session;
    for (let i = 0; i < 20; i++) {
      full.push((await handshake(mqttsUrl(moat))).ms);
      const r = await handshake(mqttsUrl(moat), session);
      assert.equal(r.reused, true);
      resumed.push(r.ms);
      session = r.session;
    }
    const f = median(full);
    const r = median(resumed);
    t.diagnostic(`TLS handshake to moat on loopback (TCP + TLS 1.3, P-256): full median ${f.toFixed(2)} ms, resumed median ${r.toFixed(2)} ms (${(f / r).toFixed(2)}x)`);
    // No assertion on the ratio: on loopback with P-256 the difference is small and load makes it noisy.
  });
});

interface Bridge {
  readonly port: number;
  readonly requests: Array<{ url: string | undefined; headers: IncomingHttpHeaders; protocol: string }>;
  close(): Promise<void>;
}

/** A test-only WebSocket listener: each connection (subprotocol mqtt) is piped to `target`'s TCP port. */
async function startWsBridge(target: TestBroker, tlsFiles?: TlsFiles): Promise<Bridge> {
  const server: HttpServer = tlsFiles === undefined ? createHttpServer() : createHttpsServer({ cert: readFileSync(tlsFiles.cert), key: readFileSync(tlsFiles.key) });
  const wss = new WebSocketServer({ server, path: '/mqtt', handleProtocols: (protocols) => (protocols.has('mqtt') ? 'mqtt' : false) });
  const requests: Bridge['requests'] = [];
  const targetPort = Number(new URL(target.url).port);
  wss.on('connection', (ws, request) => {
    requests.push({ url: request.url, headers: request.headers, protocol: ws.protocol });
    const duplex = createWebSocketStream(ws);
    const tcp = netConnect({ host: '127.0.0.1', port: targetPort });
    duplex.pipe(tcp).pipe(duplex);
    const close = (): void => {
      duplex.destroy();
      tcp.destroy();
    };
    duplex.on('error', close).on('close', close);
    tcp.on('error', close).on('close', close);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  assert.ok(address !== null && typeof address === 'object');
  return {
    port: address.port,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        for (const client of wss.clients) client.terminate();
        wss.close();
        server.close(() => resolve());
      }),
  };
}

describe('ws:// and wss://', () => {
  let broker: TestBroker | undefined;
  let ws: Bridge | undefined;
  let wss: Bridge | undefined;
  before(async () => {
    broker = await startBroker();
    ws = await startWsBridge(broker);
    wss = await startWsBridge(broker, files);
  });
  after(async () => {
    await Promise.all([ws?.close(), wss?.close()]);
    await broker?.close();
  });

  test('ws:// round trip: path /mqtt by default, subprotocol mqtt, extra headers sent', async () => {
    assert.ok(ws);
    const client = await connect(`ws://127.0.0.1:${ws.port}`, { ws: { headers: { 'x-moat-test': 'yes' } } });
    assert.equal(await roundTrip(client, 'ws/round-trip'), 'hello over ws/round-trip');
    await client.end();
    const request = ws.requests.at(-1);
    assert.equal(request?.url, '/mqtt');
    assert.equal(request?.protocol, 'mqtt');
    assert.equal(request?.headers['sec-websocket-protocol'], 'mqtt');
    assert.equal(request?.headers['x-moat-test'], 'yes');
  });

  test('ws:// with a path in the URL or ws.path that the server does not serve fails with the HTTP status', async () => {
    assert.ok(ws);
    await assert.rejects(connect(`ws://127.0.0.1:${ws.port}/other`), (error: MoatError) => {
      assert.equal(error.code, 'MOAT_ERR_CONNECT');
      assert.match(error.message, /Unexpected server response: 400/);
      return true;
    });
    await assert.rejects(connect(`ws://127.0.0.1:${ws.port}`, { ws: { path: '/nope' } }), /Unexpected server response/);
    assert.throws(() => parseClientOptions({ ws: { path: 'mqtt' } }), /ws\.path must be a path starting with "\/"/);
  });

  test('wss:// round trip, with the CA checked like mqtts://', async () => {
    assert.ok(wss);
    const client = await connect(`wss://127.0.0.1:${wss.port}/mqtt`, { tls: { ca } });
    assert.equal(await roundTrip(client, 'wss/round-trip'), 'hello over wss/round-trip');
    await client.end();
    await assert.rejects(connect(`wss://127.0.0.1:${wss.port}/mqtt`), /not signed by a CA this client trusts/);
  });

  test('wss:// reports its TLS session and resumes it', async () => {
    assert.ok(wss);
    const open = async (session?: Buffer): Promise<Transport> => {
      const transport = openTransport(parseBrokerUrl(`wss://127.0.0.1:${wss?.port ?? 0}`), parseClientOptions({ tls: { ca } }), session);
      transport.stream.on('error', () => undefined);
      await within(3000, new Promise<Buffer>((resolve) => transport.onSession(resolve)), 'a wss session');
      for (let i = 0; i < 100 && !transport.connected(); i++) await new Promise((resolve) => setTimeout(resolve, 10));
      assert.equal(transport.stage(), 'open');
      return transport;
    };
    const first = await open();
    first.stream.destroy();
    const second = await open(first.session());
    assert.equal(second.sessionReused(), true);
    second.stream.destroy();
  });
});

describe('warnings', () => {
  test('public broker detection by name', () => {
    for (const host of ['test.mosquitto.org', 'BROKER.HIVEMQ.COM', 'broker.emqx.io.', 'mqtt.eclipseprojects.io']) assert.equal(isPublicBroker(host), true, host);
    for (const host of ['mosquitto.org', 'broker.example.com', '127.0.0.1', 'my-test.mosquitto.org.example']) assert.equal(isPublicBroker(host), false, host);
  });

  test('loopback detection', () => {
    for (const host of ['localhost', 'LOCALHOST', 'box.localhost', '127.0.0.1', '127.1.2.3', '::1', '[::1]', '::ffff:127.0.0.1']) assert.equal(isLoopback(host), true, host);
    for (const host of ['10.0.0.1', '192.168.1.2', 'broker.local', '::', '0.0.0.0', 'localhost.example.com']) assert.equal(isLoopback(host), false, host);
  });

  test('warningsFor: public brokers on any scheme; credentials only over plaintext to a non-loopback host', () => {
    const codes = (url: string, options = {}): string[] => warningsFor(url, options).map((w) => w.code);
    assert.deepEqual(codes('mqtts://test.mosquitto.org:8883'), ['MOAT_PUBLIC_BROKER']);
    assert.deepEqual(codes('mqtt://broker.hivemq.com', { username: 'u', password: 'p' }), ['MOAT_PUBLIC_BROKER', 'MOAT_PLAINTEXT_CREDENTIALS']);
    assert.deepEqual(codes('mqtt://10.1.2.3', { username: 'u' }), ['MOAT_PLAINTEXT_CREDENTIALS']);
    assert.deepEqual(codes('ws://broker.example.com/mqtt', { password: Buffer.from('p') }), ['MOAT_PLAINTEXT_CREDENTIALS']);
    assert.deepEqual(codes('mqtt://10.1.2.3'), []);
    assert.deepEqual(codes('mqtts://10.1.2.3', { username: 'u', password: 'p' }), []);
    assert.deepEqual(codes('wss://broker.example.com', { username: 'u', password: 'p' }), []);
    assert.deepEqual(codes('mqtt://localhost:1883', { username: 'u', password: 'p' }), []);
    assert.deepEqual(codes('mqtt://[::1]:1883', { username: 'u', password: 'p' }), []);
    assert.match(warningsFor('mqtt://10.1.2.3', { username: 'u' })[0]?.message ?? '', /unencrypted.*Use mqtts:\/\//);
  });

  test('each warning is emitted once per process', async () => {
    const seen: Array<{ code: string | undefined; message: string }> = [];
    const listener = (warning: Error & { code?: string }): void => void seen.push({ code: warning.code, message: warning.message });
    process.on('warning', listener);
    try {
      emitConnectionWarnings('mqtt://test.mosquitto.org', { username: 'u', password: 'p' });
      emitConnectionWarnings('mqtt://broker.hivemq.com', { username: 'v' });
      emitConnectionWarnings('mqtts://test.mosquitto.org');
      // connect() runs the same check; a loopback broker with credentials warns about nothing.
      const broker = await startBroker();
      const client = await connect(broker.url.replace('127.0.0.1', 'localhost'), { username: 'u', password: 'p' });
      await client.end();
      await broker.close();
      await new Promise((resolve) => setImmediate(resolve));
      assert.deepEqual(seen.map((w) => w.code).sort(), ['MOAT_PLAINTEXT_CREDENTIALS', 'MOAT_PUBLIC_BROKER']);
      assert.match(seen.find((w) => w.code === 'MOAT_PUBLIC_BROKER')?.message ?? '', /test\.mosquitto\.org is a public MQTT broker/);
    } finally {
      process.off('warning', listener);
    }
  });
});
