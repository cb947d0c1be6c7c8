// The admin JSON API of a real moat process: it refuses a missing or wrong bearer token (401 with
// WWW-Authenticate) and takes the right one; /api/clients lists exactly the connected clients
// (ids, user names, protocol versions, subscriptions, connected since), pages and sorts them;
// /api/clients/:id with an id holding "/", a space and non-ASCII; a disconnect (v5 DISCONNECT
// 0x98, the will published, gone from the list, logged with who asked); /api/subscriptions.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { IDisconnectPacket } from 'mqtt';
import { formatPasswordHash, hashPassword } from '../../src/auth/password-file.js';
import { connectMqttJs, until, type ConnectedClient } from '../kit/index.js';
import { adminRequest, startAdminMoat, type AdminMoat } from './helper.js';
import type { ClientDetail, ClientPage, ClientView } from '../../src/admin/shapes.js';

const dir = mkdtempSync(join(tmpdir(), 'moat-admin-api-'));
const token = randomBytes(32).toString('hex');
let admin: AdminMoat;
const clients: ConnectedClient[] = [];

before(async () => {
  const passwords = join(dir, 'passwd');
  writeFileSync(passwords, `alice:${formatPasswordHash(await hashPassword('secret', { iterations: 1000 }))}\n`);
  const tokenFile = join(dir, 'admin-token');
  writeFileSync(tokenFile, `${token}\n`, { mode: 0o600 });
  admin = await startAdminMoat(`listener 0 127.0.0.1\nallow_anonymous true\npassword_file ${passwords}\nadmin_listener 0\nadmin_token_file ${tokenFile}\n`);
});

after(async () => {
  await Promise.all(clients.map((c) => c.drop()));
  await admin?.moat.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** GET with the right token; `withToken` null sends none. */
const get = (path: string, withToken: string | null = token) => adminRequest(`${admin.base}${path}`, withToken === null ? {} : { token: withToken });

test('the admin API refuses a missing or a wrong token with 401 and WWW-Authenticate, and takes the right one', async () => {
  const missing = await get('/api/stats', null);
  assert.equal(missing.status, 401);
  assert.equal(missing.headers['www-authenticate'], 'Bearer realm="moat"');
  assert.match((missing.json as { error: string }).error, /Authorization: Bearer TOKEN/);
  const wrong = await get('/api/stats', `${token.slice(0, -1)}0`);
  assert.equal(wrong.status, 401);
  assert.equal(wrong.headers['www-authenticate'], 'Bearer realm="moat", error="invalid_token"');
  assert.match((wrong.json as { error: string }).error, /not this broker's admin token/);
  const basic = await adminRequest(`${admin.base}/api/clients`, { headers: { authorization: `Basic ${Buffer.from(`admin:${token}`).toString('base64')}` } });
  assert.equal(basic.status, 401);
  const metrics = await get('/metrics', 'not-the-token-at-all');
  assert.equal(metrics.status, 401);
  const right = await get('/api/stats');
  assert.equal(right.status, 200);
  assert.equal(right.headers['content-type'], 'application/json; charset=utf-8');
  assert.equal(right.headers['cache-control'], 'no-store');
  // The probes need no token: they say only "alive" and "ready".
  assert.deepEqual((await get('/healthz', null)).json, { status: 'ok' });
  assert.deepEqual((await get('/readyz', null)).json, { ready: true });
  // Every refusal is logged with the address it came from; the token never is.
  await until(() => admin.moat.logs.filter((l) => l.includes('"admin_auth_failed"')).length >= 4, 5000, 'four admin_auth_failed lines');
  const refusals = admin.moat.logs.filter((l) => l.includes('"admin_auth_failed"')).map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.deepEqual(refusals.map((r) => [r['reason'], r['path'], r['address']]), [['missing', '/api/stats', '127.0.0.1'], ['wrong', '/api/stats', '127.0.0.1'], ['missing', '/api/clients', '127.0.0.1'], ['wrong', '/metrics', '127.0.0.1']]);
  assert.ok(!admin.moat.logs.some((l) => l.includes(token)), 'the token is never logged');
});

type ClientJson = ClientView & Partial<Pick<ClientDetail, 'subscriptionFilters'>>;

const ODD_ID = 'beta/with space ü';

test('/api/clients matches the connected clients; pages, sorts; /api/clients/:id; /api/subscriptions', async () => {
  const start = Date.now() - 1000; // the ISO time has ms; the clocks are the same machine's
  const alpha = await connectMqttJs(admin.moat, { clientId: 'alpha', username: 'alice', password: 'secret', keepalive: 60, will: { topic: 'will/alpha', payload: Buffer.from('gone'), qos: 1, retain: false } });
  const beta = await connectMqttJs(admin.moat, { clientId: ODD_ID, protocolVersion: 4, keepalive: 0 });
  const gamma = await connectMqttJs(admin.moat, { clientId: 'gamma', keepalive: 30 });
  clients.push(alpha, beta, gamma);
  await alpha.client.subscribeAsync({ 'a/+': { qos: 1 }, 'b/#': { qos: 0 } });
  await beta.client.subscribeAsync('will/#', { qos: 1 });
  for (let i = 0; i < 3; i++) await gamma.client.publishAsync('b/x', `m${i}`, { qos: 1 });
  await alpha.waitForMessages(3);
  const end = Date.now() + 1000;

  const answer = await get('/api/clients');
  assert.equal(answer.status, 200);
  const list = answer.json as ClientPage;
  assert.deepEqual([list.total, list.offset, list.limit], [3, 0, 100]);
  assert.deepEqual(list.clients.map((c) => c.id), ['alpha', ODD_ID, 'gamma']);
  const [a, b, g] = list.clients as [ClientJson, ClientJson, ClientJson];
  assert.deepEqual([a.username, b.username, g.username], ['alice', null, null]);
  assert.deepEqual([a.protocolVersion, b.protocolVersion, g.protocolVersion], [5, 4, 5]);
  assert.deepEqual([a.subscriptions, b.subscriptions, g.subscriptions], [2, 1, 0]);
  assert.deepEqual([a.keepalive, b.keepalive, g.keepalive], [60, 0, 30]);
  assert.deepEqual([a.messagesOut, g.messagesIn], [3, 3]);
  for (const c of list.clients) {
    assert.equal(c.address, '127.0.0.1');
    assert.match(c.listener ?? '', /^mqtt:/);
    const since = Date.parse(c.connectedSince);
    assert.ok(since >= start && since <= end, `${c.id} connected at ${c.connectedSince}`);
    assert.equal(new Date(since).toISOString(), c.connectedSince, 'ISO 8601');
    assert.deepEqual([c.inflight, c.queued, c.dropped], [0, 0, 0]);
  }
  assert.ok(!answer.text.includes('secret') && !/password|hash/i.test(answer.text), 'no password or hash in the answer');

  // Paging and sorting.
  const page = (await get('/api/clients?limit=2&offset=1')).json as ClientPage;
  assert.deepEqual([page.total, page.offset, page.limit, page.clients.map((c) => c.id)], [3, 1, 2, [ODD_ID, 'gamma']]);
  assert.deepEqual(((await get('/api/clients?offset=3')).json as ClientPage).clients, []);
  assert.equal(((await get('/api/clients?limit=1000')).json as ClientPage).limit, 1000);
  const farthest = (await get(`/api/clients?offset=${Number.MAX_SAFE_INTEGER}`)).json as ClientPage;
  assert.deepEqual([farthest.total, farthest.offset, farthest.clients], [3, Number.MAX_SAFE_INTEGER, []]);
  const busiest = (await get('/api/clients?sort=messages')).json as ClientPage;
  assert.deepEqual(busiest.clients.map((c) => c.id).slice(0, 2).sort(), ['alpha', 'gamma']);
  assert.equal(busiest.clients[2]?.id, ODD_ID);
  assert.equal(((await get('/api/clients?sort=connected')).json as ClientPage).total, 3);
  for (const [query, why] of [
    ['limit=0', /limit must be a whole number 1-1000, got "0"/],
    ['limit=1001', /limit must be a whole number 1-1000/],
    ['offset=-1', /offset must be a whole number/],
    ['offset=1.5', /offset must be a whole number/],
    [`offset=${Number.MAX_SAFE_INTEGER + 1}`, /offset must be a whole number 0-9007199254740991/],
    ['offset=', /offset must be a whole number/],
    ['limit=ten', /limit must be a whole number/],
    ['sort=size', /sort must be one of id, messages, connected, got "size"/],
    ['limt=5', /unknown query parameter "limt"/],
  ] as const) {
    const bad = await get(`/api/clients?${query}`);
    assert.equal(bad.status, 400, query);
    assert.match((bad.json as { error: string }).error, why);
  }

  // One client, its id URL-encoded.
  const detail = await get(`/api/clients/${encodeURIComponent(ODD_ID)}`);
  assert.equal(detail.status, 200);
  const one = detail.json as ClientJson;
  assert.deepEqual({ ...one, subscriptionFilters: undefined }, { ...b, subscriptionFilters: undefined });
  assert.deepEqual(one.subscriptionFilters, [{ filter: 'will/#', qos: 1 }]);
  assert.deepEqual(((await get('/api/clients/alpha')).json as ClientJson).subscriptionFilters, [{ filter: 'a/+', qos: 1 }, { filter: 'b/#', qos: 0 }]);
  const absent = await get('/api/clients/nobody%20here');
  assert.equal(absent.status, 404);
  assert.match((absent.json as { error: string }).error, /no client with id "nobody here" is connected/);
  assert.equal((await get('/api/clients/%E0%A4%A')).status, 400);
  assert.equal((await get('/api/nothing')).status, 404);

  // Every subscription, offline sessions' included, by client id then filter.
  const subs = (await get('/api/subscriptions')).json as { total: number; subscriptions: unknown[] };
  assert.deepEqual(subs, { total: 3, offset: 0, limit: 100, subscriptions: [{ clientId: 'alpha', filter: 'a/+', qos: 1 }, { clientId: 'alpha', filter: 'b/#', qos: 0 }, { clientId: ODD_ID, filter: 'will/#', qos: 1 }] });
  assert.deepEqual(((await get('/api/subscriptions?offset=2&limit=1')).json as { subscriptions: unknown[] }).subscriptions, [{ clientId: ODD_ID, filter: 'will/#', qos: 1 }]);
  assert.equal((await get('/api/subscriptions?sort=id')).status, 400);

  const stats = (await get('/api/stats')).json as Record<string, unknown>;
  assert.deepEqual(stats['connections'], { connected: 3, limit: -1, peak: 3, percent: null, alert: false });
  assert.equal(stats['subscriptions'], 3);
  assert.deepEqual(stats['messages'], { received: 3, sent: 3 });
});

test('POST /api/clients/:id/disconnect: the v5 client gets DISCONNECT 0x98, its will goes out, it leaves the list, the log says who', async () => {
  const alpha = clients[0] as ConnectedClient;
  const beta = clients[1] as ConnectedClient;
  const told = new Promise<IDisconnectPacket>((resolve) => alpha.client.once('disconnect', resolve));
  assert.equal((await adminRequest(`${admin.base}/api/clients/alpha/disconnect`, { token })).status, 405, 'GET is not a disconnect');
  assert.equal((await adminRequest(`${admin.base}/api/clients/alpha/disconnect`, { method: 'POST' })).status, 401);
  const done = await adminRequest(`${admin.base}/api/clients/alpha/disconnect`, { method: 'POST', token });
  assert.equal(done.status, 200);
  assert.deepEqual(done.json, { disconnected: true });
  const packet = await told;
  assert.equal(packet.reasonCode, 0x98);
  assert.equal(packet.properties?.reasonString, 'disconnected by an administrator');
  const will = await beta.waitForMessages((m) => m.some((x) => x.topic === 'will/alpha'));
  assert.equal(will.find((x) => x.topic === 'will/alpha')?.payload, 'gone');
  const list = (await get('/api/clients')).json as ClientPage;
  assert.deepEqual(list.clients.map((c) => c.id), [ODD_ID, 'gamma']);
  assert.equal((await adminRequest(`${admin.base}/api/clients/alpha/disconnect`, { method: 'POST', token })).status, 404);

  // A 3.1.1 client has no DISCONNECT from the server: its socket is closed.
  const closed = new Promise<void>((resolve) => beta.client.stream.once('close', () => resolve()));
  assert.equal((await adminRequest(`${admin.base}/api/clients/${encodeURIComponent(ODD_ID)}/disconnect`, { method: 'POST', token })).status, 200);
  await closed;
  assert.deepEqual(((await get('/api/clients')).json as ClientPage).clients.map((c) => c.id), ['gamma']);

  await until(() => admin.moat.logs.filter((l) => l.includes('"admin_disconnect"')).length === 2, 5000, 'two admin_disconnect lines');
  const line = JSON.parse(admin.moat.logs.find((l) => l.includes('"admin_disconnect"')) ?? '{}') as Record<string, unknown>;
  assert.deepEqual([line['clientId'], line['username'], line['by'], line['level']], ['alpha', 'alice', '127.0.0.1', 40]);
});
