// The admin listener over HTTPS (admin_certfile/admin_keyfile, a certificate from the test kit),
// the TLS handshake histogram and failures on /metrics for an mqtts listener, and /readyz saying
// 503 with the reason when a listener has closed or the broker is shutting down.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect as netConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { after, test } from 'node:test';
import { silentLogger } from '../../src/broker/logger.js';
import { parseConfig } from '../../src/config/index.js';
import { startServer } from '../../src/server/start-server.js';
import { makeTestCertificates, moatListener } from '../kit/index.js';
import { adminRequest, parsePrometheus, sample, startAdminMoat, type AdminMoat } from './helper.js';

const dir = mkdtempSync(join(tmpdir(), 'moat-admin-tls-'));
const running: AdminMoat[] = [];
after(async () => {
  await Promise.all(running.map((r) => r.moat.stop()));
  rmSync(dir, { recursive: true, force: true });
});

test('HTTPS admin listener; the TLS handshake histogram and failures count what the clients did', async () => {
  const files = makeTestCertificates(dir);
  const ca = readFileSync(files.ca);
  const token = randomBytes(24).toString('base64url');
  const admin = await startAdminMoat(
    `listener 0 127.0.0.1\ncertfile ${files.cert}\nkeyfile ${files.key}\nallow_anonymous true\nadmin_listener 0\nadmin_token ${token}\nadmin_certfile ${files.cert}\nadmin_keyfile ${files.key}\n`,
    'admin-https',
  );
  running.push(admin);
  assert.equal((await adminRequest(`${admin.base}/healthz`, { ca })).status, 200);
  assert.equal((await adminRequest(`${admin.base}/api/stats`, { ca })).status, 401);
  assert.equal((await adminRequest(`${admin.base}/api/stats`, { ca, token })).status, 200);
  // Plain HTTP to the HTTPS port gets no answer.
  await assert.rejects(adminRequest(admin.base.replace('https:', 'http:') + '/healthz'));

  const mqtts = await moatListener(admin.moat, 'mqtts');
  const handshakes = 3;
  for (let i = 0; i < handshakes; i++) {
    await new Promise<void>((resolve, reject) => {
      const socket = tlsConnect({ host: '127.0.0.1', port: mqtts.port, ca, servername: 'localhost' }, () => {
        socket.end();
        resolve();
      });
      socket.on('error', reject);
    });
  }
  const garbage = netConnect(mqtts.port, '127.0.0.1', () => garbage.write('this is not TLS\r\n\r\n'));
  garbage.on('error', () => {});
  await new Promise<void>((resolve) => garbage.once('close', () => resolve()));

  // The failure is counted when the server side gives up on the socket, which may be after our close.
  let families = parsePrometheus((await adminRequest(`${admin.base}/metrics`, { ca, token })).text);
  for (let tries = 0; sample(families, 'moat_tls_handshake_failures_total', { reason: 'error' }) !== 1 && tries < 50; tries++) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    families = parsePrometheus((await adminRequest(`${admin.base}/metrics`, { ca, token })).text);
  }
  assert.equal(sample(families, 'moat_tls_handshake_failures_total', { reason: 'error' }), 1);
  const histogram = families.find((f) => f.name === 'moat_tls_handshake_duration_seconds')?.metrics[0];
  assert.equal(Number(histogram?.count), handshakes, 'one observation per finished handshake (the admin listener\'s own are not counted)');
  assert.ok(Number(histogram?.sum) > 0);
  assert.equal(Number(histogram?.buckets?.['+Inf']), handshakes);
  assert.equal(sample(families, 'moat_tls_handshake_failures_total', { reason: 'timeout' }), 0);
  const stats = (await adminRequest(`${admin.base}/api/stats`, { ca, token })).json as Record<string, unknown>;
  assert.equal(stats['tlsHandshakeFailures'], 1);
});

test('/readyz is 200 while every listener is open and the broker accepts clients, else 503 saying why', async () => {
  const server = await startServer(parseConfig('listener 0 127.0.0.1\nallow_anonymous true\nlistener 0 127.0.0.1\nadmin_listener 0\npersistence false\n', join(dir, 'ready.conf')), { logger: silentLogger });
  try {
    const admin = server.admin;
    assert.ok(admin !== undefined);
    const base = `http://127.0.0.1:${admin.port}`;
    assert.deepEqual((await adminRequest(`${base}/readyz`)).json, { ready: true });
    const second = server.listeners[1];
    assert.ok(second !== undefined);
    await second.listening.close();
    const one = await adminRequest(`${base}/readyz`);
    assert.equal(one.status, 503);
    assert.deepEqual(one.json, { ready: false, reasons: [`listener mqtt 127.0.0.1:${second.port} (${join(dir, 'ready.conf')}:3) is not listening`] });
    server.broker.close();
    const both = await adminRequest(`${base}/readyz`);
    assert.equal(both.status, 503);
    assert.deepEqual((both.json as { reasons: string[] }).reasons[0], 'the broker is shutting down and accepts no connections');
    // Alive all the same.
    assert.equal((await adminRequest(`${base}/healthz`)).status, 200);
    // Wrong methods are told which one the path takes.
    const post = await adminRequest(`${base}/readyz`, { method: 'POST' });
    assert.deepEqual([post.status, post.headers['allow']], [405, 'GET, HEAD']);
  } finally {
    await server.close();
  }
  assert.equal(server.admin?.open, false, 'close() closes the admin listener');
});

test('an admin listener without a token answers loopback names only, and no web page', async () => {
  const server = await startServer(parseConfig('listener 0 127.0.0.1\nallow_anonymous true\nadmin_listener 0\npersistence false\n', join(dir, 'open.conf')), { logger: silentLogger });
  try {
    const base = `http://127.0.0.1:${server.admin?.port}`;
    assert.equal((await adminRequest(`${base}/api/stats`)).status, 200);
    assert.equal((await adminRequest(`${base}/api/stats`, { headers: { host: `localhost:${server.admin?.port}` } })).status, 200);
    const rebound = await adminRequest(`${base}/api/clients`, { headers: { host: 'attacker.example:80' } });
    assert.equal(rebound.status, 403);
    assert.match((rebound.json as { error: string }).error, /not a loopback name/);
    const page = await adminRequest(`${base}/api/clients/x/disconnect`, { method: 'POST', headers: { origin: 'http://attacker.example' } });
    assert.equal(page.status, 403);
    assert.match((page.json as { error: string }).error, /Origin/);
  } finally {
    await server.close();
  }
});
