import assert from 'node:assert/strict';
import { test } from 'node:test';
import { connect, MoatError, MqttError, parseClientOptions } from '../../src/client/index.js';
import { startBroker, startFakeServer } from './helper.js';

for (const protocolVersion of [4, 5] as const) {
  test(`connect over TCP with protocol version ${protocolVersion} resolves after CONNACK`, async () => {
    const server = await startBroker();
    const client = await connect(server.url, { protocolVersion, clientId: `c-v${protocolVersion}` });
    assert.equal(client.connected, true);
    assert.equal(client.protocolVersion, protocolVersion);
    assert.equal(client.clientId, `c-v${protocolVersion}`);
    assert.equal(client.sessionPresent, false);
    assert.equal(server.broker.getSession(`c-v${protocolVersion}`)?.connection?.protocolVersion, protocolVersion);
    await client.end();
    assert.equal(client.connected, false);
    await server.close();
  });
}

test('default options: MQTT 5, a random moat- client id, clean start, keepalive 60', async () => {
  const options = parseClientOptions();
  assert.equal(options.protocolVersion, 5);
  assert.match(options.clientId, /^moat-[0-9a-f]{16}$/);
  assert.notEqual(parseClientOptions().clientId, options.clientId);
  assert.equal(options.clean, true);
  assert.equal(options.keepalive, 60);
  assert.equal(options.connectTimeoutMs, 30_000);
  assert.ok(Object.isFrozen(options));
});

test('a bad option is rejected with an error naming it', async () => {
  assert.throws(() => parseClientOptions({ keepalive: -1 }), /keepalive must be a whole number from 0 to 65535, got -1/);
  assert.throws(() => parseClientOptions({ protocolVersion: 3 as 4 }), /protocolVersion must be 4 \(MQTT 3\.1\.1\) or 5/);
  assert.throws(() => parseClientOptions({ will: { topic: 'a/#', payload: 'x' } }), /will\.topic is not a valid topic name/);
  assert.throws(() => parseClientOptions({ keepAlive: 5 } as never), /Unknown client option "keepAlive"/);
  await assert.rejects(connect('mqtt://127.0.0.1:1', { connectTimeoutMs: 0 }), (error: MoatError) => {
    assert.equal(error.code, 'MOAT_ERR_INVALID_OPTION');
    assert.match(error.message, /connectTimeoutMs/);
    return true;
  });
});

test('v5 empty client id: the assigned client identifier becomes client.clientId', async () => {
  const server = await startBroker();
  const client = await connect(server.url, { clientId: '' });
  assert.match(client.clientId, /^auto-/);
  await client.end();
  await server.close();
});

test('refused CONNECT (v5) rejects with MqttError 0x87 Not authorized', async () => {
  const server = await startBroker({ allowAnonymous: false });
  await assert.rejects(connect(server.url, { protocolVersion: 5 }), (error: unknown) => {
    assert.ok(error instanceof MqttError);
    assert.ok(error instanceof MoatError);
    assert.equal(error.code, 'MOAT_ERR_CONNACK');
    assert.equal(error.reasonCode, 0x87);
    assert.match(error.message, /^0x87 Not authorized: /);
    return true;
  });
  await server.close();
});

test('refused CONNECT (3.1.1) rejects with MqttError return code 5', async () => {
  const server = await startBroker({ allowAnonymous: false });
  await assert.rejects(connect(server.url, { protocolVersion: 4 }), (error: unknown) => {
    assert.ok(error instanceof MqttError);
    assert.equal(error.reasonCode, 5);
    assert.match(error.message, /not authorized/i);
    return true;
  });
  await server.close();
});

test('connect times out against a TCP server that never answers, within connectTimeoutMs', async () => {
  const silent = await startFakeServer();
  const started = Date.now();
  await assert.rejects(connect(silent.url, { connectTimeoutMs: 200 }), (error: MoatError) => {
    assert.equal(error.code, 'MOAT_ERR_CONNECT_TIMEOUT');
    assert.match(error.message, /TCP connection to 127\.0\.0\.1:\d+ opened, but no CONNACK came within 200 ms \(connectTimeoutMs\)/);
    return true;
  });
  const elapsed = Date.now() - started;
  assert.ok(elapsed >= 190 && elapsed < 1500, `took ${elapsed} ms`);
  assert.equal(silent.connections[0]?.received[0]?.type, 'connect');
  await silent.close();
});

test('a refused TCP connection rejects with MOAT_ERR_CONNECT and the cause', async () => {
  const silent = await startFakeServer();
  const port = new URL(silent.url).port;
  await silent.close();
  await assert.rejects(connect(`mqtt://127.0.0.1:${port}`), (error: MoatError) => {
    assert.equal(error.code, 'MOAT_ERR_CONNECT');
    assert.match(error.message, /ECONNREFUSED.*Is the broker running/);
    assert.ok(error.cause instanceof Error);
    return true;
  });
});

// mqtts://, ws:// and wss:// are tested in transport.test.ts.
test('a non-MQTT scheme is named as such', async () => {
  await assert.rejects(connect('http://127.0.0.1'), (error: MoatError) => {
    assert.equal(error.code, 'MOAT_ERR_UNSUPPORTED_SCHEME');
    assert.match(error.message, /"http:\/\/" is not an MQTT URL scheme; use mqtt:\/\/, mqtts:\/\/, ws:\/\/ or wss:\/\//);
    return true;
  });
  await assert.rejects(connect('127.0.0.1:1883'), /write it as mqtt:\/\/host:port|not an MQTT URL scheme/);
});

test('the server closing before CONNACK rejects connect() with a clear message', async () => {
  const rude = await startFakeServer((packet, connection) => {
    if (packet.type === 'connect') connection.socket.end();
  });
  await assert.rejects(connect(rude.url), /closed the connection before sending CONNACK/);
  await rude.close();
});

test('CONNECT carries username, password, will and v5 properties', async () => {
  const fake = await startFakeServer((packet, connection) => {
    if (packet.type === 'connect') connection.send({ type: 'connack', sessionPresent: true, reasonCode: 0 });
  });
  const client = await connect(fake.url, {
    clientId: 'full',
    clean: false,
    keepalive: 30,
    username: 'u',
    password: 'p',
    will: { topic: 'wills/full', payload: 'gone', qos: 1, retain: true },
    properties: { sessionExpiryInterval: 120 },
  });
  assert.equal(client.sessionPresent, true);
  const sent = fake.connections[0]?.received[0];
  assert.ok(sent?.type === 'connect');
  assert.equal(sent.clientId, 'full');
  assert.equal(sent.clean, false);
  assert.equal(sent.keepalive, 30);
  assert.equal(sent.username, 'u');
  assert.equal(sent.password?.toString(), 'p');
  assert.equal(sent.will?.topic, 'wills/full');
  assert.equal(sent.will?.payload.toString(), 'gone');
  assert.equal(sent.will?.qos, 1);
  assert.equal(sent.will?.retain, true);
  assert.equal(sent.properties?.sessionExpiryInterval, 120);
  await client.end();
  assert.equal(fake.connections[0]?.received.at(-1)?.type, 'disconnect');
  await fake.close();
});
