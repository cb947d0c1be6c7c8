// The SQLite store: the Store contract on one SQLite file (better-sqlite3), so retained messages,
// sessions, offline queues and QoS 1/2 in-flight state survive a restart or a crash.
//
// Writes run at once, in call order, inside one open transaction; flush() commits it, and so does
// the end of the event-loop turn the first write happened in (the broker calls flush() only before
// an acknowledgement, but a session saved on disconnect must not wait for the next PUBLISH). One
// commit per turn, not per message. WAL mode: a commit appends to the log, readers never block.
// `synchronous NORMAL` (default) survives a process crash (kill -9): the commit is in the OS before
// flush() resolves; `FULL` also fsyncs the log at every commit, so it survives a power cut, at the
// cost of one fsync per turn.
//
// Retained messages are also kept in memory (loaded at open): every SUBSCRIBE looks them up
// synchronously. Messages, queue entries and in-flight records are written in store/encoding.ts's
// compact format (data fields only, never a wire copy or access object of this process); session
// records, one per CONNECT, as v8-serialized blobs.
import { closeSync, openSync, readSync } from 'node:fs';
import { serialize, deserialize } from 'node:v8';
import Database from 'better-sqlite3';
import { MoatError } from '../codec/errors.js';
import { decodeInflight, decodeMessage, decodeQueued, encodeInflight, encodeMessage, encodeQueued } from './encoding.js';
import type { InflightRecord, QueuedRecord, SessionRecord, Store, StoredMessage, StoredSession } from './store.js';
import { RetainedCache } from './retained-cache.js';

type Db = Database.Database;
type Statement = Database.Statement<unknown[], unknown>;

export interface SqliteStoreOptions {
  /** 'normal' (default) survives a process crash; 'full' also a power cut (fsync at every commit). */
  readonly sync?: 'normal' | 'full';
  /**
   * Hold the file's lock for as long as the store is open (SQLite's EXCLUSIVE locking mode), so a
   * second broker on the same file is refused at start instead of mixing its sessions in. The broker
   * opens its persistence file so; tests that read the file while it is open do not.
   */
  readonly exclusive?: boolean;
}

/**
 * Forward migrations: entry i takes a file at schema version i to version i + 1 (PRAGMA
 * user_version). A new schema change is a new entry at the end, never an edit of an old one.
 */
export const MIGRATIONS: ReadonlyArray<(db: Db) => void> = [
  (db) => {
    db.exec(`
      CREATE TABLE retained (topic TEXT PRIMARY KEY, message BLOB NOT NULL) WITHOUT ROWID;
      CREATE TABLE sessions (client_id TEXT PRIMARY KEY, record BLOB NOT NULL) WITHOUT ROWID;
      CREATE TABLE queued (client_id TEXT NOT NULL, id INTEGER NOT NULL, entry BLOB NOT NULL, PRIMARY KEY (client_id, id)) WITHOUT ROWID;
      CREATE TABLE inflight (client_id TEXT NOT NULL, packet_id INTEGER NOT NULL, entry BLOB NOT NULL, PRIMARY KEY (client_id, packet_id)) WITHOUT ROWID;
      CREATE TABLE awaiting_pubrel (client_id TEXT NOT NULL, packet_id INTEGER NOT NULL, PRIMARY KEY (client_id, packet_id)) WITHOUT ROWID;
    `);
  },
];

export const SCHEMA_VERSION = MIGRATIONS.length;

/** Brings the file to SCHEMA_VERSION, each step in its own transaction; refuses a file from a newer moat. */
export function migrate(db: Db, migrations: ReadonlyArray<(db: Db) => void> = MIGRATIONS): void {
  const version = db.pragma('user_version', { simple: true }) as number;
  if (version > migrations.length) {
    throw new MoatError('MOAT_ERR_STORE_SCHEMA', `${db.name}: the persistence file has schema version ${version}, newer than this moat's ${migrations.length}; run a newer moat or set another persistence_file`);
  }
  for (let next = version; next < migrations.length; next++) {
    const step = migrations[next];
    if (step === undefined) continue;
    db.transaction(() => {
      step(db);
      db.pragma(`user_version = ${next + 1}`);
    })();
  }
}

/** Why `file` cannot be the store, in words: locked by another broker, not a SQLite file (a Mosquitto one?), not openable. */
function openError(file: string, error: unknown): MoatError {
  const code = (error as { code?: unknown } | undefined)?.code;
  const detail = error instanceof Error ? error.message : String(error);
  if (code === 'SQLITE_BUSY' || code === 'SQLITE_LOCKED') {
    return new MoatError('MOAT_ERR_STORE_LOCKED', `${file}: another moat broker has this persistence file open (it is locked); stop that broker, or give this one its own persistence_location or persistence_file`, { cause: error });
  }
  if (code === 'SQLITE_NOTADB') {
    let head = '';
    try {
      const fd = openSync(file, 'r');
      try {
        const bytes = Buffer.alloc(16);
        readSync(fd, bytes, 0, 16, 0);
        head = bytes.toString('latin1');
      } finally {
        closeSync(fd);
      }
    } catch {
      // unreadable: the generic sentence below
    }
    const what = head.includes('mosquitto db') ? "is Mosquitto's own persistence file, which moat does not read" : 'is not a moat persistence file (not SQLite)';
    return new MoatError('MOAT_ERR_STORE_FILE', `${file} ${what}; set persistence_file to a new name (moat keeps its own file) and leave this one as it is`, { cause: error });
  }
  return new MoatError('MOAT_ERR_STORE_FILE', `${file}: the persistence file cannot be opened (${detail}); check that its directory exists and this user may write there, or set persistence_location`, { cause: error });
}

/** A failed commit, as the error the broker's acknowledgement path reports (the cause kept). */
function commitError(file: string, error: unknown): MoatError {
  const detail = error instanceof Error ? error.message : String(error);
  return new MoatError('MOAT_ERR_STORE_COMMIT', `${file}: the store could not commit its writes: ${detail}`, { cause: error });
}

export class SqliteStore<M extends StoredMessage = StoredMessage> implements Store<M> {
  readonly durable = true;
  readonly file: string;
  readonly #db: Db;
  readonly #retained = new RetainedCache<M>();
  #inTransaction = false;
  #commitScheduled = false;
  #closed = false;
  /** A commit at the end of a turn that failed with nobody waiting: the next flush() rejects with it, so nothing is acknowledged on it. */
  #failure: Error | undefined;
  /** The flush() calls of this turn: settled by the turn's one commit. */
  #turnCommit: { promise: Promise<void>; resolve: () => void; reject: (error: Error) => void } | undefined;
  readonly #sql: Record<
    | 'begin'
    | 'commit'
    | 'putRetained'
    | 'deleteRetained'
    | 'saveSession'
    | 'deleteSession'
    | 'deleteQueued'
    | 'deleteInflights'
    | 'deleteAwaiting'
    | 'getSession'
    | 'getQueued'
    | 'getInflight'
    | 'getAwaiting'
    | 'allSessions'
    | 'enqueue'
    | 'dequeue'
    | 'putInflight'
    | 'deleteInflight'
    | 'putAwaiting'
    | 'deleteAwaitingOne',
    Statement
  >;

  /** Opens (creating if needed) `file`, ':memory:' for a store that lives as long as the process. */
  constructor(file: string, options: SqliteStoreOptions = {}) {
    this.file = file;
    let db: Db;
    try {
      db = new Database(file);
    } catch (error) {
      throw openError(file, error);
    }
    this.#db = db;
    try {
      if (options.exclusive === true) db.pragma('locking_mode = EXCLUSIVE');
      db.pragma('journal_mode = WAL');
      db.pragma(`synchronous = ${options.sync === 'full' ? 'FULL' : 'NORMAL'}`);
      // Takes the lock now (EXCLUSIVE mode keeps it from the first write on), and finds a file that is not SQLite.
      db.exec('BEGIN IMMEDIATE; COMMIT');
      migrate(db);
    } catch (error) {
      db.close();
      throw error instanceof MoatError ? error : openError(file, error);
    }
    const hasSession = 'EXISTS (SELECT 1 FROM sessions WHERE client_id = ?)';
    const prepare = (sql: string): Statement => db.prepare(sql);
    // Statements returning one column give its value, not a row object.
    const column = (sql: string): Statement => db.prepare(sql).pluck();
    this.#sql = {
      begin: prepare('BEGIN'),
      commit: prepare('COMMIT'),
      putRetained: prepare('INSERT OR REPLACE INTO retained (topic, message) VALUES (?, ?)'),
      deleteRetained: prepare('DELETE FROM retained WHERE topic = ?'),
      saveSession: prepare('INSERT OR REPLACE INTO sessions (client_id, record) VALUES (?, ?)'),
      deleteSession: prepare('DELETE FROM sessions WHERE client_id = ?'),
      deleteQueued: prepare('DELETE FROM queued WHERE client_id = ?'),
      deleteInflights: prepare('DELETE FROM inflight WHERE client_id = ?'),
      deleteAwaiting: prepare('DELETE FROM awaiting_pubrel WHERE client_id = ?'),
      getSession: column('SELECT record FROM sessions WHERE client_id = ?'),
      getQueued: column('SELECT entry FROM queued WHERE client_id = ? ORDER BY id'),
      getInflight: column('SELECT entry FROM inflight WHERE client_id = ? ORDER BY packet_id'),
      getAwaiting: column('SELECT packet_id FROM awaiting_pubrel WHERE client_id = ? ORDER BY packet_id'),
      allSessions: column('SELECT record FROM sessions'),
      enqueue: prepare(`INSERT OR REPLACE INTO queued (client_id, id, entry) SELECT ?, ?, ? WHERE ${hasSession}`),
      dequeue: prepare('DELETE FROM queued WHERE client_id = ? AND id = ?'),
      putInflight: prepare(`INSERT OR REPLACE INTO inflight (client_id, packet_id, entry) SELECT ?, ?, ? WHERE ${hasSession}`),
      deleteInflight: prepare('DELETE FROM inflight WHERE client_id = ? AND packet_id = ?'),
      putAwaiting: prepare(`INSERT OR IGNORE INTO awaiting_pubrel (client_id, packet_id) SELECT ?, ? WHERE ${hasSession}`),
      deleteAwaitingOne: prepare('DELETE FROM awaiting_pubrel WHERE client_id = ? AND packet_id = ?'),
    };
    for (const row of db.prepare('SELECT message FROM retained').pluck().iterate() as Iterable<Buffer>) {
      const message = decodeMessage<M>(row);
      this.#retained.set(message);
    }
  }

  /** The connection's synchronous level as SQLite reports it (for the start-up log and tests). */
  get sync(): 'normal' | 'full' | 'other' {
    const level = this.#db.pragma('synchronous', { simple: true });
    return level === 1 ? 'normal' : level === 2 ? 'full' : 'other';
  }

  putRetained(message: M): void {
    if (!this.#write()) return;
    this.#sql.putRetained.run(message.topic, encodeMessage(message));
    this.#retained.set(message);
  }

  deleteRetained(topic: string): void {
    if (!this.#write()) return;
    this.#sql.deleteRetained.run(topic);
    this.#retained.delete(topic);
  }

  get pending(): boolean {
    return this.#inTransaction || this.#failure !== undefined;
  }

  getRetained(topic: string): M | undefined {
    return this.#retained.get(topic);
  }

  matchRetained(filter: string): Iterable<M> {
    return this.#retained.match(filter);
  }

  get retainedCount(): number {
    return this.#retained.count;
  }

  get retainedBytes(): number {
    return this.#retained.bytes;
  }

  saveSession(record: SessionRecord): void {
    if (!this.#write()) return;
    this.#sql.saveSession.run(record.clientId, serialize(record));
  }

  deleteSession(clientId: string): void {
    if (!this.#write()) return;
    this.#sql.deleteSession.run(clientId);
    this.#sql.deleteQueued.run(clientId);
    this.#sql.deleteInflights.run(clientId);
    this.#sql.deleteAwaiting.run(clientId);
  }

  loadSession(clientId: string): Promise<StoredSession<M> | undefined> {
    if (this.#closed) return Promise.resolve(undefined);
    const row = this.#sql.getSession.get(clientId) as Buffer | undefined;
    if (row === undefined) return Promise.resolve(undefined);
    return Promise.resolve({
      session: deserialize(row) as SessionRecord,
      queued: (this.#sql.getQueued.all(clientId) as Buffer[]).map((entry) => decodeQueued<M>(entry)),
      inflight: (this.#sql.getInflight.all(clientId) as Buffer[]).map((entry) => decodeInflight<M>(entry)),
      awaitingPubrel: this.#sql.getAwaiting.all(clientId) as number[],
    });
  }

  async *sessions(): AsyncIterable<SessionRecord> {
    if (this.#closed) return;
    // Read whole before yielding: the consumer may write (expire sessions) between items.
    const rows = this.#sql.allSessions.all() as Buffer[];
    for (const row of rows) yield deserialize(row) as SessionRecord;
  }

  enqueue(clientId: string, entry: QueuedRecord<M>): void {
    if (!this.#write()) return;
    this.#sql.enqueue.run(clientId, entry.id, encodeQueued(entry), clientId);
  }

  dequeue(clientId: string, id: number): void {
    if (!this.#write()) return;
    this.#sql.dequeue.run(clientId, id);
  }

  putInflight(clientId: string, record: InflightRecord<M>): void {
    if (!this.#write()) return;
    this.#sql.putInflight.run(clientId, record.packetId, encodeInflight(record), clientId);
  }

  deleteInflight(clientId: string, packetId: number): void {
    if (!this.#write()) return;
    this.#sql.deleteInflight.run(clientId, packetId);
  }

  putAwaitingPubrel(clientId: string, packetId: number): void {
    if (!this.#write()) return;
    this.#sql.putAwaiting.run(clientId, packetId, clientId);
  }

  deleteAwaitingPubrel(clientId: string, packetId: number): void {
    if (!this.#write()) return;
    this.#sql.deleteAwaitingOne.run(clientId, packetId);
  }

  /**
   * Resolves once the writes recorded so far are committed: at once when there are none, else with
   * the turn's one commit at its end, so every PUBLISH of a turn shares one commit instead of each
   * committing its own. Rejects if that commit fails.
   */
  flush(): Promise<void> {
    const failure = this.#failure;
    if (failure !== undefined) {
      this.#failure = undefined;
      return Promise.reject(failure);
    }
    if (!this.#inTransaction) return Promise.resolve();
    if (this.#turnCommit === undefined) {
      let resolve!: () => void;
      let reject!: (error: Error) => void;
      const promise = new Promise<void>((res, rej) => {
        resolve = res;
        reject = rej;
      });
      this.#turnCommit = { promise, resolve, reject };
    }
    return this.#turnCommit.promise;
  }

  /** Commits what is pending and closes the file; later writes are ignored (a broker's connections may still be closing). */
  close(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    try {
      this.#commitTurn();
    } finally {
      this.#closed = true;
      this.#retained.clear();
      this.#db.close();
    }
    return Promise.resolve();
  }

  /** Opens the turn's transaction on the first write, with its commit at the end of the turn; false once closed. */
  #write(): boolean {
    if (this.#closed) return false;
    if (!this.#inTransaction) {
      this.#sql.begin.run();
      this.#inTransaction = true;
      if (!this.#commitScheduled) {
        this.#commitScheduled = true;
        setImmediate(() => {
          this.#commitScheduled = false;
          if (this.#closed) return;
          this.#commitTurn();
        });
      }
    }
    return true;
  }

  /** The turn's commit, settling the flush() calls waiting for it. */
  #commitTurn(): void {
    const waiting = this.#turnCommit;
    this.#turnCommit = undefined;
    try {
      this.#commit();
      waiting?.resolve();
    } catch (error) {
      // Rolled back (see #commit). Nobody waiting: the next flush() before an acknowledgement reports it.
      const failure = commitError(this.file, error);
      if (waiting === undefined) this.#failure = failure;
      else waiting.reject(failure);
    }
  }

  #commit(): void {
    if (!this.#inTransaction || this.#closed) return;
    this.#inTransaction = false;
    try {
      this.#sql.commit.run();
    } catch (error) {
      if (this.#db.inTransaction) this.#db.exec('ROLLBACK');
      throw error;
    }
  }
}
