// SIGHUP re-reads the certificates of TLS listeners (mqtts and wss) without dropping connected
// clients: after certificates from another CA replace the files, a client that was connected keeps
// working, a new client trusting the new CA connects, and one trusting only the old CA is refused.
// A reload whose file is broken keeps the old certificate and names the file.
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import mqtt from 'mqtt';
import { makeTestCertificates, type TlsFiles } from '../kit/certs.js';
import { startMoat, type RunningMoat } from '../kit/moat.js';
import { until } from '../kit/wait.js';

let root: string;
let a: TlsFiles;
let b: TlsFiles;
let live: { cert: string; key: string };
let broker: RunningMoat;
let mqttsPort: number;
let wssPort: number;

const count = (event: string): number => broker.logs.filter((l) => l.includes(`"event":"${event}"`)).length;

before(async () => {
  root = mkdtempSync(join(tmpdir(), 'moat-reload-'));
  const dirA = mkdtempSync(join(root, 'a-'));
  const dirB = mkdtempSync(join(root, 'b-'));
  a = makeTestCertificates(dirA);
  b = makeTestCertificates(dirB);
  // The broker reads these paths; the test overwrites them like a certificate renewal does.
  live = { cert: join(root, 'live-cert.pem'), key: join(root, 'live-key.pem') };
  copyFileSync(a.cert, live.cert);
  copyFileSync(a.key, live.key);
  broker = await startMoat({
    config: [
      'allow_anonymous true',
      'listener 0 127.0.0.1',
      `certfile ${live.cert}`,
      `keyfile ${live.key}`,
      'listener 0 127.0.0.1',
      'protocol websockets',
      `certfile ${live.cert}`,
      `keyfile ${live.key}`,
      '',
    ].join('\n'),
  });
  await until(() => broker.listeners.length >= 2, 10_000, 'two listening lines');
  mqttsPort = broker.listeners.find((l) => l.protocol === 'mqtts')?.port ?? 0;
  wssPort = broker.listeners.find((l) => l.protocol === 'wss')?.port ?? 0;
  assert.ok(mqttsPort > 0 && wssPort > 0, JSON.stringify(broker.listeners));
});

after(async () => {
  await broker?.stop();
  rmSync(root, { recursive: true, force: true });
});

const options = (ca: string): mqtt.IClientOptions => ({ ca: readFileSync(ca), protocolVersion: 5, reconnectPeriod: 0, connectTimeout: 3000 });

async function roundTrip(client: mqtt.MqttClient, topic: string): Promise<void> {
  await client.subscribeAsync(topic, { qos: 1 });
  const got = new Promise<string>((resolve) => {
    const onMessage = (t: string, payload: Buffer): void => {
      if (t !== topic) return;
      client.off('message', onMessage);
      resolve(payload.toString());
    };
    client.on('message', onMessage);
  });
  await client.publishAsync(topic, `on ${topic}`, { qos: 1 });
  assert.equal(await got, `on ${topic}`);
}

test('SIGHUP swaps the certificate: connected clients stay, new handshakes use the new one', async () => {
  const kept = await mqtt.connectAsync(`mqtts://localhost:${mqttsPort}`, options(a.ca));
  const keptWs = await mqtt.connectAsync(`wss://localhost:${wssPort}/mqtt`, options(a.ca));
  let dropped = false;
  kept.on('close', () => (dropped = true));
  keptWs.on('close', () => (dropped = true));
  try {
    await roundTrip(kept, 'reload/before');

    copyFileSync(b.cert, live.cert);
    copyFileSync(b.key, live.key);
    const before = count('tls_reloaded');
    process.kill(broker.pid, 'SIGHUP');
    await until(() => count('tls_reloaded') >= before + 2, 5000, 'two tls_reloaded lines');

    assert.equal(dropped, false, 'no client was disconnected');
    assert.equal(kept.connected && keptWs.connected, true);
    await roundTrip(kept, 'reload/after');
    await roundTrip(keptWs, 'reload/after-ws');

    for (const url of [`mqtts://localhost:${mqttsPort}`, `wss://localhost:${wssPort}/mqtt`]) {
      const fresh = await mqtt.connectAsync(url, options(b.ca));
      await roundTrip(fresh, 'reload/new');
      await fresh.endAsync();
      await assert.rejects(mqtt.connectAsync(url, options(a.ca)), Error, `${url} with the old CA`);
    }
  } finally {
    await kept.endAsync();
    await keptWs.endAsync();
  }
});

test('a reload with a broken certificate file names it and keeps the old certificate', async () => {
  writeFileSync(live.cert, 'not a certificate\n');
  const before = count('tls_reload_failed');
  process.kill(broker.pid, 'SIGHUP');
  await until(() => count('tls_reload_failed') >= before + 2, 5000, 'two tls_reload_failed lines');
  const line = broker.logs.filter((l) => l.includes('"tls_reload_failed"')).at(-1) ?? '';
  assert.ok(line.includes(live.cert), line);
  // Still serving certificate B.
  const client = await mqtt.connectAsync(`mqtts://localhost:${mqttsPort}`, options(b.ca));
  await client.endAsync();
  copyFileSync(b.cert, live.cert);
});
