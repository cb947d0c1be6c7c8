// `moat pub`/`moat sub` with --cafile against TLS listeners of moat and Mosquitto: the same flags
// as mosquitto_pub/mosquitto_sub, the same output.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { RunningBroker } from '../kit/broker.js';
import { makeTestCertificates, type TlsFiles } from '../kit/certs.js';
import { MOSQUITTO_PUB, MOSQUITTO_SUB } from '../kit/clients.js';
import { moatCommand, startMoat } from '../kit/moat.js';
import { startMosquitto } from '../kit/mosquitto.js';
import { freePort } from '../kit/ports.js';
import { spawnTracked } from '../kit/process.js';

let dir: string;
let files: TlsFiles;
const brokers: RunningBroker[] = [];
const targets: Array<{ name: string; port: number }> = [];

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'moat-cli-tls-'));
  files = makeTestCertificates(dir);
  const tls = `cafile ${files.ca}\ncertfile ${files.cert}\nkeyfile ${files.key}\n`;
  const moat = await startMoat({ config: `listener 0 127.0.0.1\nallow_anonymous true\n${tls}` });
  brokers.push(moat);
  targets.push({ name: 'moat', port: moat.port });
  // startMosquitto adds its own plain listener; the TLS one is this second listener.
  const tlsPort = await freePort();
  brokers.push(await startMosquitto({ config: `listener ${tlsPort} 127.0.0.1\n${tls}` }));
  targets.push({ name: 'mosquitto', port: tlsPort });
});

after(async () => {
  await Promise.all(brokers.map((b) => b.stop()));
  rmSync(dir, { recursive: true, force: true });
});

function tool(name: 'moat' | 'mosquitto', kind: 'pub' | 'sub', args: string[]): { command: string; args: string[] } {
  if (name === 'moat') return moatCommand([kind, ...args]);
  return { command: '/usr/bin/stdbuf', args: ['-oL', kind === 'pub' ? MOSQUITTO_PUB : MOSQUITTO_SUB, ...args] };
}

test('moat pub/sub --cafile and mosquitto_pub/sub --cafile print the same over TLS', { timeout: 60_000 }, async () => {
  for (const target of targets) {
    for (const subTool of ['moat', 'mosquitto'] as const) {
      for (const pubTool of ['moat', 'mosquitto'] as const) {
        const topic = `tls/${randomUUID()}`;
        const common = ['-h', 'localhost', '-p', String(target.port), '--cafile', files.ca];
        const sub = tool(subTool, 'sub', [...common, '-t', topic, '-v', '-C', '1', '-W', '10', '-q', '1', '-d']);
        const subscriber = await spawnTracked(sub.command, sub.args, { name: `${subTool} sub` });
        // -d makes both tools say when the SUBACK came back: publish only then.
        await subscriber.waitForLine((line) => line.startsWith('Subscribed (mid'), 10_000, 'the SUBACK');
        const pub = tool(pubTool, 'pub', [...common, '-t', topic, '-m', 'over tls', '-q', '1']);
        const publisher = await spawnTracked(pub.command, pub.args, { name: `${pubTool} pub` });
        assert.equal((await publisher.exited).code, 0, `${pubTool} pub: ${publisher.logs.join('\n')}`);
        const exit = await subscriber.exited;
        assert.equal(exit.code, 0, `${subTool} sub: ${subscriber.logs.join('\n')}`);
        const messages = subscriber.stdout.filter((line) => line.startsWith(topic));
        assert.deepEqual(messages, [`${topic} over tls`], `${subTool} sub / ${pubTool} pub on ${target.name}`);
      }
    }
  }
});
