// SIGHUP (Server.reload()) re-reads the admin listener's admin_token_file and certificate: a new
// token is needed from then on; an unusable token file or certificate is logged and the old one
// stays in force.
import assert from 'node:assert/strict';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { BROKER_EVENTS } from '../../src/broker/events.js';
import { silentLogger } from '../../src/broker/logger.js';
import { parseConfig } from '../../src/config/index.js';
import { startServer } from '../../src/server/start-server.js';
import { makeTestCertificates } from '../kit/index.js';
import { adminRequest } from './helper.js';

const dir = mkdtempSync(join(tmpdir(), 'moat-admin-reload-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('reload: a new admin_token_file token replaces the old one; an unusable token file or certificate keeps the old one', async () => {
  const files = makeTestCertificates(dir);
  const ca = readFileSync(files.ca);
  const tokenFile = join(dir, 'token');
  const first = 'first-token-0123456789';
  const second = 'second-token-0123456789';
  writeFileSync(tokenFile, `${first}\n`);
  const server = await startServer(
    parseConfig(`listener 0 127.0.0.1\nallow_anonymous true\nadmin_listener 0\nadmin_token_file ${tokenFile}\nadmin_certfile ${files.cert}\nadmin_keyfile ${files.key}\npersistence false\n`, join(dir, 'moat.conf')),
    { logger: silentLogger },
  );
  const seen: Array<[string, unknown]> = [];
  const names = ['tlsReloaded', 'tlsReloadFailed', 'adminTokenReloaded', 'adminTokenReloadFailed'] as const;
  const listeners = names.map((name) => {
    const listener = (message: unknown): void => {
      if ((message as { broker: unknown }).broker === server.broker) seen.push([name, message]);
    };
    subscribe(BROKER_EVENTS[name], listener);
    return () => unsubscribe(BROKER_EVENTS[name], listener);
  });
  try {
    const stats = `https://localhost:${server.admin?.port}/api/stats`;
    assert.equal((await adminRequest(stats, { ca, token: first })).status, 200);

    writeFileSync(tokenFile, `${second}\n`);
    await server.reload();
    assert.deepEqual(seen.map(([name]) => name), ['tlsReloaded', 'adminTokenReloaded']);
    assert.equal((await adminRequest(stats, { ca, token: first })).status, 401);
    assert.equal((await adminRequest(stats, { ca, token: second })).status, 200);

    seen.length = 0;
    writeFileSync(tokenFile, 'short\n');
    writeFileSync(files.cert, 'not a certificate\n');
    await server.reload();
    assert.deepEqual(seen.map(([name]) => name), ['tlsReloadFailed', 'adminTokenReloadFailed']);
    assert.match((seen[1]?.[1] as { err: string }).err, /moat\.conf:4: the token in .* is 5 characters long/);
    assert.equal((seen[0]?.[1] as { file: string }).file, files.cert);
    // Both old ones still serve.
    assert.equal((await adminRequest(stats, { ca, token: second })).status, 200);
  } finally {
    for (const stop of listeners) stop();
    await server.close();
  }
});
