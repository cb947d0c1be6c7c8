// Durable by default (issue 13): where the persistence file goes (persistence_location and
// persistence_file as in mosquitto.conf, else moat's state directory), what a restarted server
// brings back (offline sessions subscribed again before anything listens, so a message for a client
// still offline is queued; retained messages), sessions a crash left "connected" and expired ones,
// a second broker on the same file refused, Mosquitto's own mosquitto.db refused in words, and
// `persistence false`.
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { connect, type ReceivedMessage } from '../../src/client/index.js';
import { MoatError } from '../../src/codec/errors.js';
import { parseConfig } from '../../src/config/index.js';
import { persistencePath, stateDirectory } from '../../src/server/persistence.js';
import { startServer, type Server } from '../../src/server/start-server.js';
import { SqliteStore } from '../../src/store/sqlite.js';
import { MOSQUITTO_BINARY } from '../kit/mosquitto.js';
import { freePort } from '../kit/ports.js';
import { spawnTracked } from '../kit/process.js';
import { until } from '../kit/wait.js';
import { moatCommand } from '../kit/moat.js';
import { recordingLogger } from '../kit/logger.js';

const dir = mkdtempSync(join(tmpdir(), 'moat-persistence-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function configIn(location: string, extra = ''): ReturnType<typeof parseConfig> {
  return parseConfig(`listener 0 127.0.0.1\nallow_anonymous true\npersistence_location ${location}\n${extra}`, join(location, 'moat.conf'));
}

const urlOf = (server: Server): string => `mqtt://127.0.0.1:${server.listeners[0]?.port ?? 0}`;

test('persistence file: persistence_location + persistence_file, a path, the state directory, persistence false', () => {
  const base = { persistence: true, persistenceFile: undefined, persistenceLocation: undefined };
  const env = { XDG_STATE_HOME: '/state' };
  assert.equal(stateDirectory(env), '/state/moat');
  assert.equal(stateDirectory({ XDG_STATE_HOME: 'relative' }).endsWith('/.local/state/moat'), true, 'a relative XDG_STATE_HOME is ignored, as the spec says');
  assert.equal(persistencePath(base, env), '/state/moat/moat.db');
  assert.equal(persistencePath({ ...base, persistenceFile: 'other.db' }, env), '/state/moat/other.db');
  assert.equal(persistencePath({ ...base, persistenceFile: '/srv/moat.db' }, env), '/srv/moat.db');
  assert.equal(persistencePath({ ...base, persistenceLocation: '/var/lib/moat/' }, env), '/var/lib/moat/moat.db');
  assert.equal(persistencePath({ ...base, persistenceLocation: '/var/lib/moat', persistenceFile: 'x.db' }, env), '/var/lib/moat/x.db');
  assert.equal(persistencePath({ ...base, persistence: false }, env), undefined);
});

test('config: persistence options as Mosquitto writes them; autosave_interval warns; persistence_sync checked', () => {
  const config = parseConfig('persistence true\npersistence_location /var/lib/mosquitto/\npersistence_file moat.db\nautosave_interval 1800\npersistence_sync full\n', 'mosquitto.conf');
  assert.deepEqual([config.persistence, config.persistenceLocation, config.persistenceFile, config.persistenceSync], [true, '/var/lib/mosquitto/', 'moat.db', 'full']);
  assert.match(config.warnings[0]?.message ?? '', /autosave_interval is not needed with moat: it commits what it acknowledges .* Fix: remove the line/);
  assert.equal(config.warnings[0]?.line, 4);
  assert.equal(parseConfig('retained_persistence false\n', 'old.conf').persistence, false);
  const defaults = parseConfig('', 'empty.conf');
  assert.deepEqual([defaults.persistence, defaults.persistenceSync], [true, 'normal']);
  assert.throws(() => parseConfig('persistence_sync always\n', 'bad.conf'), /bad\.conf:1: persistence_sync .*always.* Fix: write e\.g\. "persistence_sync normal"/);
  assert.throws(() => parseConfig('persistence maybe\n', 'bad.conf'), /bad\.conf:1: persistence /);
});

test('restart: an offline session is subscribed again before anything listens, so a message published while its client is still away is queued; retained messages come back', async () => {
  const location = mkdtempSync(join(dir, 'restart-'));
  const first = recordingLogger();
  let server = await startServer(configIn(location), { logger: first.logger });
  const opened = first.records.find((r) => r.fields['event'] === 'store_opened');
  assert.equal(opened?.fields['file'], join(location, 'moat.db'));
  assert.equal(opened?.fields['sync'], 'normal');
  assert.match(opened?.msg ?? '', /persistence in .*moat\.db \(persistence_sync normal\): 0 sessions and 0 retained messages restored/);
  const sub = await connect(urlOf(server), { clientId: 'away', clean: false, properties: { sessionExpiryInterval: 3600 }, reconnect: false });
  await sub.subscribe('plant/#', { qos: 1 });
  await sub.end();
  const pub = await connect(urlOf(server), { clientId: 'pub', reconnect: false });
  await pub.publish('plant/config', 'v1', { qos: 1, retain: true });
  await pub.end();
  await server.close();

  const second = recordingLogger();
  server = await startServer(configIn(location), { logger: second.logger });
  try {
    const reopened = second.records.find((r) => r.fields['event'] === 'store_opened');
    assert.deepEqual([reopened?.fields['sessions'], reopened?.fields['retained']], [1, 1]);
    // Published before the subscriber is back: queued for it only because its subscription was restored at start.
    const later = await connect(urlOf(server), { clientId: 'pub', reconnect: false });
    await later.publish('plant/temp', '21.5', { qos: 1 });
    await later.end();
    const received: ReceivedMessage[] = [];
    const back = await connect(urlOf(server), { clientId: 'away', clean: false, properties: { sessionExpiryInterval: 3600 }, reconnect: false, onMessage: (m) => void received.push(m) });
    try {
      assert.equal(back.sessionPresent, true);
      await until(() => received.some((m) => m.topic === 'plant/temp'), 5000, 'the message queued while the client was away');
      assert.equal(received.find((m) => m.topic === 'plant/temp')?.payload.toString(), '21.5');
      const fresh: ReceivedMessage[] = [];
      const viewer = await connect(urlOf(server), { clientId: 'viewer', reconnect: false, onMessage: (m) => void fresh.push(m) });
      await viewer.subscribe('plant/config');
      await until(() => fresh.length === 1, 5000, 'the retained message');
      assert.deepEqual([fresh[0]?.payload.toString(), fresh[0]?.retain], ['v1', true]);
      await viewer.end();
    } finally {
      await back.end();
    }
  } finally {
    await server.close();
  }
});

test('start: a session a crash left "connected" counts as disconnected now; expired sessions are deleted and counted', async () => {
  const location = mkdtempSync(join(dir, 'crash-left-'));
  const file = join(location, 'moat.db');
  const seed = new SqliteStore(file);
  const subscription = { filter: 'a/#', qos: 1 as const, noLocal: false, retainAsPublished: false, retainHandling: 0 as const, subscriptionIdentifier: undefined };
  seed.saveSession({ clientId: 'left-connected', expiryInterval: 60, subscriptions: [subscription], will: undefined, disconnectedAt: undefined });
  seed.saveSession({ clientId: 'long-gone', expiryInterval: 60, subscriptions: [subscription], will: undefined, disconnectedAt: Date.now() - 61_000 });
  seed.saveSession({ clientId: 'never-expires', expiryInterval: 0xffffffff, subscriptions: [subscription], will: undefined, disconnectedAt: 1 });
  await seed.close();

  const before = Date.now();
  const { logger, records } = recordingLogger();
  const server = await startServer(configIn(location), { logger });
  try {
    const opened = records.find((r) => r.fields['event'] === 'store_opened');
    assert.deepEqual([opened?.fields['sessions'], opened?.fields['expiredSessions']], [2, 1]);
    assert.deepEqual([...server.broker.sessions()].map((s) => s.clientId).sort(), ['left-connected', 'never-expires']);
  } finally {
    await server.close();
  }
  const after = new SqliteStore(file);
  try {
    assert.equal(await after.loadSession('long-gone'), undefined);
    const left = await after.loadSession('left-connected');
    assert.ok(left !== undefined && left.session.disconnectedAt !== undefined && left.session.disconnectedAt >= before, 'its clock starts at the restart');
  } finally {
    await after.close();
  }
});

test('a second broker on the same persistence file is refused at start in words, and the first keeps serving', async () => {
  const location = mkdtempSync(join(dir, 'locked-'));
  const server = await startServer(configIn(location), { logger: recordingLogger().logger });
  try {
    await assert.rejects(startServer(configIn(location), { logger: recordingLogger().logger }), (error: unknown) => {
      assert.ok(error instanceof MoatError);
      assert.equal(error.code, 'MOAT_ERR_STORE_LOCKED');
      assert.match(error.message, /moat\.db: another moat broker has this persistence file open \(it is locked\); stop that broker, or give this one its own persistence_location or persistence_file/);
      return true;
    });
    const client = await connect(urlOf(server), { clientId: 'still-here', reconnect: false });
    await client.end();
  } finally {
    await server.close();
  }
});

test("Mosquitto's own mosquitto.db is refused in words, not mistaken for moat's", async () => {
  // A real one: Debian's Mosquitto with persistence true writes it when it stops. It runs as user
  // mosquitto when started as root, so its directory must be open to that user.
  const location = mkdtempSync(join(tmpdir(), 'moat-mosquitto-db-'));
  after(() => rmSync(location, { recursive: true, force: true }));
  chmodSync(location, 0o777);
  const port = await freePort();
  const conf = join(location, 'mosquitto.conf');
  writeFileSync(conf, `listener ${port} 127.0.0.1\nallow_anonymous true\npersistence true\npersistence_location ${location}/\n`);
  chmodSync(conf, 0o644);
  const mosquitto = await spawnTracked(MOSQUITTO_BINARY, ['-c', conf], { name: 'mosquitto' });
  await until(() => mosquitto.logs.some((l) => l.includes('running')) || mosquitto.exitResult !== undefined, 10_000, 'mosquitto running');
  await mosquitto.stop('SIGTERM');
  assert.ok(existsSync(join(location, 'mosquitto.db')), mosquitto.formatLogs());
  await assert.rejects(startServer(configIn(location, 'persistence_file mosquitto.db\n'), { logger: recordingLogger().logger }), (error: unknown) => {
    assert.ok(error instanceof MoatError);
    assert.equal(error.code, 'MOAT_ERR_STORE_FILE');
    assert.match(error.message, /mosquitto\.db is Mosquitto's own persistence file, which moat does not read; set persistence_file to a new name/);
    return true;
  });
});

test('a persistence_location that does not exist is refused in words', async () => {
  await assert.rejects(startServer(configIn(join(dir, 'no-such-dir')), { logger: recordingLogger().logger }), (error: unknown) => {
    assert.ok(error instanceof MoatError);
    assert.equal(error.code, 'MOAT_ERR_STORE_FILE');
    assert.match(error.message, /no-such-dir\/moat\.db: the persistence file cannot be opened .*check that its directory exists/);
    return true;
  });
});

test('persistence false: memory only, said in the log, no file anywhere', async () => {
  const location = mkdtempSync(join(dir, 'off-'));
  const { logger, records } = recordingLogger();
  const server = await startServer(configIn(location, 'persistence false\n'), { logger });
  await server.close();
  assert.ok(records.some((r) => r.fields['event'] === 'persistence_off' && /kept in memory only/.test(r.msg ?? '')));
  assert.equal(existsSync(join(location, 'moat.db')), false);
});

test('moat broker -p PORT with no config: its file is moat-PORT.db in the state directory, named in the start-up log', async () => {
  const state = mkdtempSync(join(dir, 'xdg-'));
  const port = await freePort();
  const { command, args } = moatCommand(['broker', '-p', String(port)]);
  const moat = await spawnTracked(command, args, { name: 'moat', env: { ...process.env, XDG_STATE_HOME: state } });
  try {
    const line = await moat.waitForLine((l) => l.includes('"store_opened"'), 10_000, 'the store_opened line');
    const expected = join(state, 'moat', `moat-${port}.db`);
    assert.equal((JSON.parse(line) as { file?: string }).file, expected);
    assert.ok(existsSync(expected));
  } finally {
    await moat.stop();
  }
});
