// TLS listener interop: Debian's mosquitto_pub/sub with --cafile, MQTT.js over mqtts://, and
// session resumption (a reconnect skips the full handshake).
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { connect as tlsConnect, type ConnectionOptions } from 'node:tls';
import mqtt from 'mqtt';
import { makeTestCertificates, type TlsFiles } from '../kit/certs.js';
import { runMosquittoPub, startMosquittoSub } from '../kit/clients.js';
import { startMoat, type RunningMoat } from '../kit/moat.js';

let dir: string;
let files: TlsFiles;
let broker: RunningMoat;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'moat-tls-'));
  files = makeTestCertificates(dir);
  broker = await startMoat({
    config: `listener 0 127.0.0.1\nallow_anonymous true\ncafile ${files.ca}\ncertfile ${files.cert}\nkeyfile ${files.key}\n`,
  });
});

after(async () => {
  await broker?.stop();
  rmSync(dir, { recursive: true, force: true });
});

test('mosquitto_sub and mosquitto_pub with --cafile exchange a message over TLS', async () => {
  const tls = ['-h', 'localhost', '-p', String(broker.port), '--cafile', files.ca];
  const sub = await startMosquittoSub([...tls, '-t', 'tls/#', '-v', '-C', '1', '-W', '10']);
  await runMosquittoPub([...tls, '-t', 'tls/hello', '-m', 'over tls', '-q', '1']);
  await sub.waitForMessages(1, 5000);
  assert.deepEqual(sub.messages, ['tls/hello over tls']);
  await sub.stop();
});

test('MQTT.js connects over mqtts:// and a wrong CA is refused', async () => {
  const client = await mqtt.connectAsync(`mqtts://localhost:${broker.port}`, { ca: readFileSync(files.ca), protocolVersion: 5, reconnectPeriod: 0 });
  await client.subscribeAsync('tls/js');
  const got = new Promise<string>((resolve) => client.once('message', (_topic, payload) => resolve(payload.toString())));
  await client.publishAsync('tls/js', 'hi');
  assert.equal(await got, 'hi');
  await client.endAsync();
  await assert.rejects(mqtt.connectAsync(`mqtts://localhost:${broker.port}`, { protocolVersion: 5, reconnectPeriod: 0, connectTimeout: 3000 }));
});

test('a reconnect resumes the TLS session instead of a full handshake', async () => {
  const handshake = (session?: Buffer) =>
    new Promise<{ reused: boolean; session: Buffer | undefined }>((resolve, reject) => {
      const options: ConnectionOptions = {
        host: '127.0.0.1',
        port: broker.port,
        ca: readFileSync(files.ca),
        servername: 'localhost',
        maxVersion: 'TLSv1.2',
      };
      const socket = tlsConnect(session === undefined ? options : { ...options, session }, () => {
        const reused = socket.isSessionReused();
        const saved = socket.getSession();
        socket.end();
        resolve({ reused, session: saved });
      });
      socket.on('error', reject);
    });
  const first = await handshake();
  assert.equal(first.reused, false);
  const second = await handshake(first.session);
  assert.equal(second.reused, true);
});
