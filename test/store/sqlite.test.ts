// The SQLite store passes the Store contract, on a temporary file and on ':memory:', and keeps what
// it committed across a close and a reopen of the same file.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, test } from 'node:test';
import Database from 'better-sqlite3';
import { SCHEMA_VERSION, SqliteStore, migrate } from '../../src/store/sqlite.js';
import { message, storeContract } from './contract.js';

const dir = mkdtempSync(join(tmpdir(), 'moat-sqlite-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;
const freshFile = (): string => join(dir, `store-${++files}.db`);

storeContract('sqlite file', () => new SqliteStore(freshFile()));
storeContract('sqlite :memory:', () => new SqliteStore(':memory:'));

test('sqlite: durable, WAL mode, synchronous NORMAL by default and FULL when asked, schema version set', async () => {
  const file = freshFile();
  const normal = new SqliteStore(file);
  assert.equal(normal.durable, true);
  assert.equal(normal.sync, 'normal');
  await normal.close();
  const full = new SqliteStore(file, { sync: 'full' });
  assert.equal(full.sync, 'full');
  await full.close();
  const db = new Database(file, { readonly: true });
  try {
    assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
    assert.equal(db.pragma('user_version', { simple: true }), SCHEMA_VERSION);
  } finally {
    db.close();
  }
});

test('sqlite: what was flushed is there after close and reopen; what was written and closed too', async () => {
  const file = freshFile();
  const first = new SqliteStore(file);
  first.putRetained(message('keep/1', 'one'));
  first.saveSession({ clientId: 'c', expiryInterval: 60, subscriptions: [], will: undefined, disconnectedAt: 5 });
  first.enqueue('c', { id: 1, message: message('q', 'queued', { retain: false }), qos: 1, retain: false, subscriptionIdentifiers: undefined });
  await first.flush();
  first.putAwaitingPubrel('c', 77);
  await first.close();
  first.putRetained(message('after/close')); // ignored, no throw

  const second = new SqliteStore(file);
  try {
    assert.equal(second.getRetained('keep/1')?.payload.toString(), 'one');
    assert.equal(second.retainedBytes, 3);
    const loaded = await second.loadSession('c');
    assert.equal(loaded?.session.disconnectedAt, 5);
    assert.deepEqual(loaded?.queued.map((q) => q.message.payload.toString()), ['queued']);
    assert.deepEqual(loaded?.awaitingPubrel, [77]);
    assert.equal(second.getRetained('after/close'), undefined);
  } finally {
    await second.close();
  }
});

test('sqlite: writes not flushed are committed at the end of the event-loop turn', async () => {
  const file = freshFile();
  const store = new SqliteStore(file);
  try {
    store.putRetained(message('turn', 'end'));
    await new Promise((resolve) => setImmediate(resolve));
    await new Promise((resolve) => setImmediate(resolve));
    const reader = new Database(file, { readonly: true });
    try {
      assert.equal(reader.prepare('SELECT count(*) FROM retained').pluck().get(), 1);
    } finally {
      reader.close();
    }
  } finally {
    await store.close();
  }
});

test('sqlite: migrations run forward from the file version; a file from a newer schema is refused with the fix', () => {
  const db = new Database(':memory:');
  try {
    const ran: number[] = [];
    migrate(db, [() => ran.push(1), () => ran.push(2)]);
    assert.deepEqual(ran, [1, 2]);
    migrate(db, [() => ran.push(1), () => ran.push(2), () => ran.push(3)]);
    assert.deepEqual(ran, [1, 2, 3]);
    assert.equal(db.pragma('user_version', { simple: true }), 3);
    assert.throws(() => migrate(db, [() => undefined]), { code: 'MOAT_ERR_STORE_SCHEMA', message: /schema version 3, newer than this moat's 1/ });
  } finally {
    db.close();
  }
});

for (const sync of ['normal', 'full'] as const) {
  test(`sqlite (${sync}): what flush() committed survives kill -9 of the process; what was written after it and not committed does not`, async () => {
    const file = freshFile();
    const module = fileURLToPath(new URL('../../src/store/sqlite.js', import.meta.url));
    const script = `
      const { SqliteStore } = await import(${JSON.stringify(module)});
      const store = new SqliteStore(${JSON.stringify(file)}, { sync: ${JSON.stringify(sync)} });
      store.putRetained({ topic: 'kept', payload: Buffer.from('acked'), qos: 1, retain: true, properties: undefined, expiresAt: 0, origin: 'p' });
      store.saveSession({ clientId: 'c', expiryInterval: 60, subscriptions: [], will: undefined, disconnectedAt: 1 });
      for (let id = 1; id <= 1000; id++) store.enqueue('c', { id, message: { topic: 'q', payload: Buffer.from(String(id)), qos: 1, retain: false, properties: undefined, expiresAt: 0, origin: 'p' }, qos: 1, retain: false, subscriptionIdentifiers: undefined });
      await store.flush();
      store.putRetained({ topic: 'lost', payload: Buffer.from('never flushed'), qos: 1, retain: true, properties: undefined, expiresAt: 0, origin: 'p' });
      process.kill(process.pid, 'SIGKILL');
    `;
    const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 30_000 });
    assert.equal(child.signal, 'SIGKILL', child.stderr);
    const store = new SqliteStore(file);
    try {
      assert.equal(store.getRetained('kept')?.payload.toString(), 'acked');
      assert.equal(store.getRetained('lost'), undefined);
      const loaded = await store.loadSession('c');
      assert.equal(loaded?.queued.length, 1000);
      assert.equal(loaded?.queued.at(-1)?.message.payload.toString(), '1000');
    } finally {
      await store.close();
    }
  });
}

test('sqlite: a write is pending until the turn commits it; a flush() waits for that one commit', async () => {
  const store = new SqliteStore(freshFile());
  try {
    assert.equal(store.pending, false);
    store.putRetained(message('pending/1'));
    store.putRetained(message('pending/2'));
    assert.equal(store.pending, true);
    const [first, second] = [store.flush(), store.flush()];
    assert.equal(first, second, 'one commit for the turn, shared');
    await first;
    assert.equal(store.pending, false);
  } finally {
    await store.close();
  }
});
