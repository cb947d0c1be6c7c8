// /metrics of a real moat process, parsed by a real Prometheus text-format parser
// (parse-prometheus-text-format): every family parses, has help and a type, and the values equal
// what the test did (clients connected, PUBLISH by QoS both ways, a wrong password counted as an
// auth failure and as a refusal by its reason), next to /api/stats's numbers and its 80% alert.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { formatPasswordHash, hashPassword } from '../../src/auth/password-file.js';
import { connectMqttJs, type ConnectedClient } from '../kit/index.js';
import { adminRequest, parsePrometheus, sample, startAdminMoat, type AdminMoat, type MetricFamily } from './helper.js';

const dir = mkdtempSync(join(tmpdir(), 'moat-admin-metrics-'));
const running: AdminMoat[] = [];
const clients: ConnectedClient[] = [];
after(async () => {
  await Promise.all(clients.map((c) => c.drop()));
  await Promise.all(running.map((r) => r.moat.stop()));
  rmSync(dir, { recursive: true, force: true });
});

async function scrape(admin: AdminMoat): Promise<MetricFamily[]> {
  const answer = await adminRequest(`${admin.base}/metrics`);
  assert.equal(answer.status, 200);
  assert.match(String(answer.headers['content-type']), /^text\/plain; version=0\.0\.4/);
  return parsePrometheus(answer.text);
}

test('/metrics parses with a Prometheus parser and its values equal what the clients did', async () => {
  const passwords = join(dir, 'passwd');
  writeFileSync(passwords, `alice:${formatPasswordHash(await hashPassword('secret', { iterations: 1000 }))}\n`);
  // Open (no token) on loopback: the Prometheus scrape needs nothing but the URL here.
  const admin = await startAdminMoat(`listener 0 127.0.0.1\nmax_connections 10\nallow_anonymous true\npassword_file ${passwords}\nadmin_listener 0 127.0.0.1\n`);
  running.push(admin);
  assert.ok(admin.moat.logs.some((l) => l.includes('"insecure_listener"') && l.includes('the admin listener on') && l.includes('has no token')), 'the start-up log says the admin listener is open');

  const empty = await scrape(admin);
  assert.equal(sample(empty, 'moat_connections'), 0);
  assert.equal(sample(empty, 'moat_messages_received_total', { qos: '1' }), 0);

  const subscriber = await connectMqttJs(admin.moat, { clientId: 'sub' });
  clients.push(subscriber);
  await subscriber.client.subscribeAsync('m/#', { qos: 2 });
  const publisher = await connectMqttJs(admin.moat, { clientId: 'pub', username: 'alice', password: 'secret' });
  const idle = await Promise.all([connectMqttJs(admin.moat, { clientId: 'idle-1', protocolVersion: 4 }), connectMqttJs(admin.moat, { clientId: 'idle-2' })]);
  clients.push(publisher, ...idle);
  const byQos = [5, 3, 2] as const;
  for (const qos of [0, 1, 2] as const) for (let i = 0; i < byQos[qos]; i++) await publisher.client.publishAsync(`m/${qos}`, `x${i}`, { qos });
  await subscriber.waitForMessages(10);
  await assert.rejects(connectMqttJs(admin.moat, { clientId: 'intruder', username: 'alice', password: 'wrong' }), /Bad User Name or Password|134|refused/i);

  // The subscriber's last PUBACK / PUBCOMP may still be on its way: scrape once the broker has it.
  let families = await scrape(admin);
  for (let tries = 0; sample(families, 'moat_inflight_messages') !== 0 && tries < 50; tries++) {
    await new Promise((resolve) => setTimeout(resolve, 20));
    families = await scrape(admin);
  }
  const names = families.map((f) => f.name);
  assert.equal(new Set(names).size, names.length, 'each family once');
  for (const family of families) {
    assert.match(family.name, /^[a-zA-Z_:][a-zA-Z0-9_:]*$/);
    assert.ok(family.help.length > 0, `${family.name} has help`);
    assert.ok(['COUNTER', 'GAUGE', 'HISTOGRAM', 'SUMMARY'].includes(family.type), `${family.name}: ${family.type}`);
    // Node's own families may have no label set yet (nodejs_active_requests by type); moat's have samples.
    if (family.name.startsWith('moat_')) assert.ok(family.metrics.length > 0, `${family.name} has samples`);
    if (family.type === 'COUNTER') assert.match(family.name, /_total$/, `${family.name}: a counter ends in _total`);
  }
  for (const name of ['nodejs_eventloop_lag_seconds', 'nodejs_eventloop_lag_p99_seconds', 'nodejs_heap_size_used_bytes', 'process_resident_memory_bytes']) assert.ok(names.includes(name), `${name} is exposed`);

  assert.equal(sample(families, 'moat_connections'), 4);
  assert.equal(sample(families, 'moat_connections_limit'), 10);
  assert.equal(sample(families, 'moat_connections_peak'), 4);
  assert.equal(sample(families, 'moat_subscriptions'), 1);
  for (const qos of [0, 1, 2] as const) {
    assert.equal(sample(families, 'moat_messages_received_total', { qos: String(qos) }), byQos[qos], `received at QoS ${qos}`);
    assert.equal(sample(families, 'moat_messages_sent_total', { qos: String(qos) }), byQos[qos], `sent at QoS ${qos}`);
  }
  assert.equal(sample(families, 'moat_auth_failures_total'), 1);
  assert.equal(sample(families, 'moat_connections_refused_total', { reason: 'bad_user_name_or_password' }), 1);
  assert.equal(sample(families, 'moat_connects_received_total'), 5);
  assert.equal(sample(families, 'moat_messages_dropped_total', { reason: 'queue_full' }), 0);
  assert.equal(sample(families, 'moat_limit_refusals_total', { limit: 'max_connections' }), 0);
  assert.equal(sample(families, 'moat_queued_messages'), 0);
  assert.equal(sample(families, 'moat_inflight_messages'), 0);
  assert.equal(sample(families, 'moat_info', { version: '0.1.0' }), 1);
  assert.ok((sample(families, 'moat_received_bytes_total') ?? 0) > 10 * 4, 'bytes in');
  assert.ok((sample(families, 'moat_sent_bytes_total') ?? 0) > 10 * 4, 'bytes out');
  assert.equal(families.find((f) => f.name === 'moat_tls_handshake_duration_seconds')?.type, 'HISTOGRAM');

  const stats = (await adminRequest(`${admin.base}/api/stats`)).json as Record<string, Record<string, unknown> | number>;
  assert.deepEqual(stats['connections'], { connected: 4, limit: 10, peak: 4, percent: 40, alert: false });
  assert.deepEqual(stats['messages'], { received: 10, sent: 10 });
  assert.deepEqual(stats['refused'], { total: 1, byReason: { bad_user_name_or_password: 1 } });
  assert.equal(stats['authFailures'], 1);
  assert.equal(stats['tlsHandshakeFailures'], 0);

  // 8 of 10: the capacity alert (80%).
  clients.push(...(await Promise.all([1, 2, 3, 4].map((i) => connectMqttJs(admin.moat, { clientId: `more-${i}` })))));
  const full = (await adminRequest(`${admin.base}/api/stats`)).json as Record<string, unknown>;
  assert.deepEqual(full['connections'], { connected: 8, limit: 10, peak: 8, percent: 80, alert: true });
});
