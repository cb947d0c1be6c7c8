// The broker engine. It owns no sockets: `handle(stream)` takes any Duplex (TCP, TLS, WebSocket,
// an in-memory pair in tests). It keeps the session registry and the will/expiry life cycle, and
// its operations (publish, subscribe, unsubscribe, openSession) are where routing state changes,
// the Store keeps retained messages and the Bus reaches other nodes.
import type { Duplex } from 'node:stream';
import type { AccessControl } from '../auth/access-control.js';
import { Authenticator } from '../auth/authenticator.js';
import { samePasswordHash } from '../auth/password-file.js';
import { ReasonCode } from '../codec/reason-codes.js';
import type { ProtocolVersion, QoS, Will } from '../codec/types.js';
import { Connection, type ConnectionInfo } from './connection.js';
import { DropLedger } from './drops.js';
import { installEventLog } from './event-log.js';
import { authReporter, emit } from './events.js';
import type { Logger } from './logger.js';
import { brokerMessage, type Access, type Message } from './message.js';
import { parseBrokerOptions, type BrokerOptions, type ResolvedBrokerOptions } from './options.js';
import { LongTimer } from './long-timer.js';
import { ConnectionAdmission } from './limits.js';
import { LoadWatch } from './overload.js';
import { RefusalLedger } from './refusals.js';
import type { BrokerEventFields } from './events.js';
import { RetainedMessages } from './retained.js';
import { DeadlineSweep } from './keepalive.js';
import { Router } from './router.js';
import { willDelay, willMessage } from './will.js';
import type { Bus, BusMessage, SessionClaim } from '../cluster/bus.js';
import { LocalBus } from '../cluster/local-bus.js';
import { MemoryStore } from '../store/memory.js';
import type { Store, StoredSession } from '../store/store.js';
import type { SubscriptionEntry } from './session.js';
import { NEVER_EXPIRES, Session, SessionContext } from './session.js';
import { adoptLostNode } from './lost-node.js';
import { brokerStats, type BrokerCounters, type BrokerStats } from './stats.js';

export type { BrokerCounters, BrokerStats } from './stats.js';

/** How often expired messages are purged from offline queues and retained topics. */
const PURGE_INTERVAL_MS = 60_000;

/** What a CONNECT asks of openSession. */
export interface SessionRequest {
  readonly clientId: string;
  readonly cleanStart: boolean;
  /** Session Expiry Interval, seconds (capped by persistent_client_expiration). */
  readonly expiryInterval: number;
  /** The will, its topic as the broker keeps it (mount point applied). */
  readonly will: Will | undefined;
  readonly access: Access | undefined;
}

export class Broker {
  readonly options: ResolvedBrokerOptions;
  readonly logger: Logger;
  readonly router: Router;
  readonly retained: RetainedMessages;
  /** Retained messages (sessions, queues and in-flight state join it with the durable store). */
  readonly store: Store<Message>;
  /** Fan-out to other broker nodes; a LocalBus on its own for one node. */
  readonly bus: Bus;
  /** The store when it is durable: sessions are then written through it and loaded from it at CONNECT. */
  readonly #durable: Store<Message> | undefined;
  /**
   * A durable store shared with nodes that can be lost (a bus with liveness): sessions of other
   * nodes are found in it, and every will is kept in it, so the node told of a loss publishes them.
   */
  readonly #shared: boolean;
  readonly authenticator: Authenticator;
  /** Messages accepted and then not delivered, by reason and client (logged, rate-limited). */
  readonly drops: DropLedger;
  /** Refusals by the configured limits, by reason (every one an event; the log rate-limited). */
  readonly refusals: RefusalLedger;
  /** global_max_connections and the connection rates; each listener's max_connections comes with its connections. */
  readonly admission: ConnectionAdmission;
  /** memory_limit and overload protection: undefined when neither is configured. */
  readonly load: LoadWatch | undefined;
  readonly counters: BrokerCounters = {
    messagesReceived: 0,
    messagesReceivedByQos: [0, 0, 0],
    messagesSent: 0,
    messagesSentByQos: [0, 0, 0],
    publishBytesReceived: 0,
    publishBytesSent: 0,
    packetsReceived: 0,
    packetsSent: 0,
    bytesReceived: 0,
    bytesSent: 0,
    socketsOpened: 0,
    connectsReceived: 0,
    peakConnections: 0,
  };
  readonly startedAt = Date.now();
  readonly #sessions = new Map<string, Session>();
  /**
   * Connections with no session attached: before CONNECT, refused, taken over, closing. A connected
   * one is reached through its session (#everyConnection): one hash table entry per client, not two.
   */
  readonly #unattached = new Set<Connection>();
  #connectedCount = 0;
  readonly #sessionContext: SessionContext;
  #closed = false;
  /** Connect timeouts and keep alive for every connection, from one timer (keepalive.ts). */
  readonly #deadlines = new DeadlineSweep((now) => this.#sweep(now));
  #turn = 0;
  #turnArmed = false;
  /** When expired messages are next removed from offline queues and the retained store. */
  #nextPurgeAt = Date.now() + PURGE_INTERVAL_MS;
  #turnStartedAt = Date.now();

  constructor(options: BrokerOptions = {}) {
    this.options = parseBrokerOptions(options);
    this.logger = this.options.logger;
    this.store = options.store ?? new MemoryStore<Message>();
    this.bus = options.bus ?? new LocalBus();
    this.#durable = this.store.durable ? this.store : undefined;
    this.#shared = this.#durable !== undefined && this.bus.liveNodes !== undefined;
    this.router = new Router(this.options.upgradeOutgoingQos);
    this.retained = new RetainedMessages(this.store);
    this.bus.attach({
      message: (envelope) => this.#fromBus(envelope),
      claim: (claim) => this.#claimed(claim),
      nodeLost: (node, clientIds) => void this.#nodeLost(node, clientIds),
    });
    installEventLog();
    this.drops = new DropLedger((fields) => emit(this, 'publishDropped', fields), this.options.dropLogIntervalMs);
    this.refusals = new RefusalLedger(
      { refused: (fields) => emit(this, 'limitRefused', fields), summary: (fields) => emit(this, 'limitSummary', fields) },
      this.options.dropLogIntervalMs,
    );
    this.admission = new ConnectionAdmission(this.options);
    this.#sessionContext = new SessionContext(this.options, this.drops, this.#durable);
    const { memoryLimit, overloadProtection, maxEventLoopLagMs } = this.options;
    this.load =
      memoryLimit > 0 || overloadProtection
        ? new LoadWatch({
            memoryLimit,
            overloadProtection,
            maxEventLoopLagMs,
            onHold: (held, cause, bytes, memory, lagMs) => {
              const connection = held as Connection;
              emit(this, 'overloadHeld', { clientId: connection.clientId || undefined, address: connection.remoteAddress, cause, bytes, memory, lagMs });
            },
            onRelease: (held, heldMs) => {
              const connection = held as Connection;
              emit(this, 'overloadReleased', { clientId: connection.clientId || undefined, address: connection.remoteAddress, heldMs });
            },
          })
        : undefined;
    this.authenticator = new Authenticator({ failureLimit: this.options.authFailureLimit, banMs: this.options.authBanMs, report: authReporter(this), limits: this.options });
  }

  /** Serves one client over `stream` until either side closes it. */
  handle(stream: Duplex, info: ConnectionInfo = {}): Connection {
    const connection = new Connection(this, stream, info);
    this.#unattached.add(connection);
    this.counters.socketsOpened++;
    const slots = info.slots;
    const verdict = this.admission.admit(slots, connection.remoteAddress);
    if (verdict !== 'admit') {
      // Refused: answered at CONNECT (connect.ts), unless too many refusals already wait for theirs.
      if (this.admission.holdRefusal(verdict, slots)) connection.slot = verdict;
      else {
        connection.slot = 'drop';
        this.refuse({ limit: verdict, value: this.admission.value(verdict, slots), listener: info.listener, address: connection.remoteAddress, clientId: undefined, answered: false });
        connection.close(undefined, verdict);
      }
    }
    if (!this.#closed) this.#deadlines.start();
    if (this.#closed) connection.close(ReasonCode.ServerShuttingDown, 'server shutting down');
    return connection;
  }

  /** Expired messages out of memory and the store, so an offline queue or a retained topic nobody reads does not keep them [MQTT-3.3.2-5]. */
  #purgeExpired(now: number): void {
    this.#nextPurgeAt = now + PURGE_INTERVAL_MS;
    for (const session of this.#sessions.values()) if (session.connection === undefined) session.dropExpired(now);
    this.retained.purgeExpired(now);
  }

  #sweep(now: number): void {
    // No copy of 10,000s of entries four times a second: a deadline closes a connection without
    // moving it between the two (a closing one leaves #unattached; a session may end: Map and Set
    // iteration allow deletes).
    for (const connection of this.#unattached) connection.checkDeadlines(now);
    for (const session of this.#sessions.values()) session.connection?.checkDeadlines(now);
    this.drops.flush(now);
    this.refusals.flush(now);
    if (now >= this.#nextPurgeAt) this.#purgeExpired(now);
    this.admission.sweep(now);
  }

  /**
   * Every open connection, each once, taken before any is acted on: closing one moves it between
   * the sessions and #unattached, and ends sessions.
   */
  #everyConnection(): Connection[] {
    const all = [...this.#unattached];
    for (const session of this.#sessions.values()) if (session.connection !== undefined) all.push(session.connection);
    return all;
  }

  /** Counts a refusal by a configured limit and reports it (moat:limit:refused; the log rate-limited). */
  refuse(refusal: Omit<BrokerEventFields['limitRefused'], 'logged'>): void {
    this.refusals.record(refusal);
  }

  /** memory_limit is exceeded: PUBLISH is refused or dropped. One property read per PUBLISH. */
  get overMemoryLimit(): boolean {
    return this.load?.overMemoryLimit === true;
  }

  /**
   * The current event-loop turn, for per-turn budgets: it changes once per turn in which anyone
   * asked (one setImmediate per busy turn, none when idle).
   */
  get turn(): number {
    if (!this.#turnArmed) {
      this.#turnArmed = true;
      this.#turnStartedAt = Date.now();
      setImmediate(Broker.#endTurn, this);
    }
    return this.#turn;
  }

  /** Date.now() when the current turn was first asked for: one clock read per turn, not per packet. */
  get turnStartedAt(): number {
    return this.#turnStartedAt;
  }

  static #endTurn(broker: Broker): void {
    broker.#turn++;
    broker.#turnArmed = false;
  }

  /** A snapshot of the engine's numbers (stats.ts). */
  stats(): BrokerStats {
    return brokerStats(this);
  }

  get connectedCount(): number {
    return this.#connectedCount;
  }

  get sessionCount(): number {
    return this.#sessions.size;
  }

  getSession(clientId: string): Session | undefined {
    return this.#sessions.get(clientId);
  }

  /** Every session, connected or not, in the order they were made (read-only: the admin API lists them). */
  sessions(): IterableIterator<Session> {
    return this.#sessions.values();
  }

  /** False once close() was called: new connections are turned away (the admin API's /readyz). */
  get accepting(): boolean {
    return !this.#closed;
  }

  /** persistent_client_expiration caps every session's expiry, including 3.1.1 "never". */
  capSessionExpiry(requested: number): number {
    const cap = this.options.persistentClientExpiration;
    return cap === undefined || requested <= cap ? requested : cap;
  }

  /**
   * Opens the session for `clientId` on `connection`: takes over a connected client [MQTT-3.1.4-3]
   * (here, and on other nodes through the bus), resumes a session unless clean start, or creates
   * one; gives it the connection's will and access, and writes it to a durable store.
   */
  openSession(connection: Connection, request: SessionRequest): { session: Session; sessionPresent: boolean } {
    const { clientId, cleanStart, expiryInterval } = request;
    let session = this.#sessions.get(clientId);
    const previous = session?.connection;
    if (session !== undefined && previous !== undefined) {
      emit(this, 'sessionTakeover', { clientId, address: connection.remoteAddress });
      this.#detach(previous, session, true);
      previous.close(ReasonCode.SessionTakenOver, 'session taken over');
    }
    if (session?.willTimer !== undefined) {
      // A new connection for the client id inside the will delay: no will, whether it resumes the
      // session or starts clean [MQTT-3.1.2-8]. Mosquitto 2.0 does the same.
      emit(this, 'willCancelled', { clientId });
      session.willTimer.cancel();
      session.willTimer = undefined;
      session.will = undefined;
    }
    let sessionPresent = false;
    if (session !== undefined && (cleanStart || session.expiryInterval === 0)) {
      this.#endSession(session);
      session = undefined;
    }
    if (session === undefined) {
      session = new Session(clientId, connection.protocolVersion, expiryInterval, this.#sessionContext);
      this.#sessions.set(clientId, session);
    } else {
      sessionPresent = true;
      session.clearTimers();
      session.expiryInterval = expiryInterval;
      session.protocolVersion = connection.protocolVersion;
    }
    session.connection = connection;
    connection.session = session;
    this.#unattached.delete(connection);
    this.bus.claimSession(clientId);
    this.#connectedCount++;
    if (this.#connectedCount > this.counters.peakConnections) this.counters.peakConnections = this.#connectedCount;
    session.will = request.will;
    session.access = request.access;
    this.saveSession(session);
    return { session, sessionPresent };
  }

  /**
   * After `control`'s password file was reloaded: disconnects the clients it had logged in whose entry
   * is gone or changed (Mosquitto 2 does the same on SIGHUP). Comparing entries, not re-checking
   * passwords, keeps no password in memory and costs no PBKDF2 per connected client.
   */
  revokeStaleLogins(control: AccessControl): number {
    let revoked = 0;
    for (const connection of this.#everyConnection()) {
      const hash = connection.loginHash;
      if (hash === undefined || connection.state !== 'connected' || connection.session?.access?.control !== control) continue;
      const current = connection.username === undefined ? undefined : control.passwords?.lookup(connection.username);
      if (current !== undefined && samePasswordHash(current, hash)) continue;
      const reason = current === undefined ? 'the user was removed from the password file' : "the user's password was changed";
      emit(this, 'loginRevoked', { clientId: connection.clientId, username: connection.username, address: connection.remoteAddress, reason });
      connection.close(ReasonCode.NotAuthorized, reason);
      revoked++;
    }
    return revoked;
  }

  /** After `control`'s rules were reloaded: drops queued messages its sessions may no longer read. */
  dropUnreadable(control: AccessControl): number {
    let dropped = 0;
    for (const session of this.#sessions.values()) if (session.access?.control === control) dropped += session.dropUnreadable();
    return dropped;
  }

  /** Called by Connection once its stream has closed, whatever the cause. */
  connectionClosed(connection: Connection): void {
    const session = connection.session;
    const attached = session !== undefined && session.connection === connection;
    // Counted once: the first call finds it attached or in #unattached, a second call neither.
    if (attached || this.#unattached.delete(connection)) {
      this.admission.release(connection.slot, connection.info.slots);
      this.load?.forget(connection);
    }
    if (!attached) return;
    this.#detach(connection, session, false);
    emit(this, 'clientDisconnected', { clientId: session.clientId, graceful: connection.graceful });
  }

  /**
   * The connection leaves its session: will and expiry start counting [MQTT-3.1.2-8, MQTT-3.1.2-23].
   * `open`: it has not closed yet (a takeover), so it goes back among the unattached until it has.
   */
  #detach(connection: Connection, session: Session, open: boolean): void {
    session.connection = undefined;
    connection.session = undefined;
    if (open) this.#unattached.add(connection);
    this.#connectedCount--;
    // In a cluster the node still holds the offline session (queues for it): released when it ends,
    // so if this node dies the survivor told adopts it too.
    if (!this.#shared) this.bus.releaseSession(session.clientId);
    // Offline, it queues up to its limit and drops the rest: nobody waits on it.
    session.openGate();
    const will = session.will;
    session.will = undefined;
    if (will !== undefined && !connection.graceful) {
      const delay = willDelay(will, session.expiryInterval);
      if (delay === 0) this.publishWill(session.clientId, will, session.access);
      else {
        session.will = will;
        session.willTimer = new LongTimer(delay * 1000, () => this.#willDelayElapsed(session));
      }
    }
    if (session.expiryInterval === 0) {
      this.#endSession(session);
      return;
    }
    this.saveSession(session);
    if (session.expiryInterval !== NEVER_EXPIRES) {
      session.expiryTimer = new LongTimer(session.expiryInterval * 1000, () => this.#sessionExpired(session));
    }
  }

  #willDelayElapsed(session: Session): void {
    const will = session.will;
    session.will = undefined;
    session.willTimer = undefined;
    if (will !== undefined && session.connection === undefined) this.publishWill(session.clientId, will, session.access);
  }

  #sessionExpired(session: Session): void {
    if (session.connection !== undefined || this.#sessions.get(session.clientId) !== session) return;
    emit(this, 'sessionExpired', { clientId: session.clientId });
    this.#endSession(session);
  }

  /** Removes a session; a will still waiting on its delay goes out now [MQTT-3.1.3-9]. */
  #endSession(session: Session): void {
    const pendingWill = session.willTimer !== undefined ? session.will : undefined;
    session.clearTimers();
    session.will = undefined;
    for (const filter of session.subscriptions.keys()) this.bus.removeInterest(filter);
    this.router.removeSession(session);
    session.clearState();
    this.#durable?.deleteSession(session.clientId);
    if (this.#sessions.get(session.clientId) === session) this.#sessions.delete(session.clientId);
    this.bus.releaseSession(session.clientId);
    if (pendingWill !== undefined) this.publishWill(session.clientId, pendingWill, session.access);
  }

  publishWill(clientId: string, will: Will, source: Access | undefined): void {
    emit(this, 'willPublished', { clientId, topic: will.topic });
    this.publish(willMessage(clientId, will, source));
  }

  /**
   * The one way a message enters the broker: client PUBLISHes, wills, $SYS and embedders. Returns
   * how many of this node's sessions it went to (queues of offline sessions included).
   */
  publish(message: Message): number {
    this.retained.store(message); // 1. the retained message, in the store
    // 2. other nodes whose subscribers want it; who serves each $share group. Not $SYS: each node's are its own.
    const shared = message.topic.startsWith('$SYS/') ? undefined : this.bus.publish(message);
    return this.router.route(message, shared); // 3. this node's sessions
  }

  /** Whether a PUBLISH that reached no session here has a subscriber on another node (else v5 0x10). */
  hasRemoteSubscribers(topic: string): boolean {
    return this.bus.othersInterested(topic);
  }

  /** Adds or replaces a subscription of `session`; true when the filter is new to it. */
  subscribe(session: Session, entry: SubscriptionEntry): boolean {
    const isNew = this.#addSubscription(session, entry);
    this.saveSession(session);
    return isNew;
  }

  /** The session, the router and the bus's interest learn the subscription. */
  #addSubscription(session: Session, entry: SubscriptionEntry): boolean {
    const isNew = session.setSubscription(entry);
    this.router.subscribe(entry);
    if (isNew) this.bus.addInterest(entry.filter);
    return isNew;
  }

  /** Removes the subscription of `session` to `filter` (as stored); false when there was none. */
  unsubscribe(session: Session, filter: string): boolean {
    if (!session.deleteSubscription(filter)) return false;
    this.router.unsubscribe(session, filter);
    this.bus.removeInterest(filter);
    this.saveSession(session);
    return true;
  }

  /**
   * Writes the session's record (subscriptions, expiry, will) to a durable store; nothing without
   * one. A session that ends with its connection is written only in a cluster and only with a will.
   */
  saveSession(session: Session): void {
    if (this.#durable === undefined || (session.expiryInterval === 0 && !(this.#shared && session.will !== undefined))) return;
    this.#durable.saveSession(session.record(session.connection === undefined ? Date.now() : undefined));
  }

  /**
   * Before CONNECT opens `clientId`'s session: with a durable store and no session of that id here,
   * the stored one is loaded (a promise, during which the connection is admitting), or deleted
   * when the client starts clean. Undefined when there is nothing to wait for.
   */
  loadSession(clientId: string, cleanStart: boolean, protocolVersion: ProtocolVersion): Promise<void> | undefined {
    const store = this.#durable;
    if (store === undefined || this.#sessions.has(clientId)) return undefined;
    if (cleanStart) {
      store.deleteSession(clientId);
      return undefined;
    }
    return store.loadSession(clientId).then((stored) => {
      if (stored !== undefined && !this.#sessions.has(clientId)) this.#restore(store, stored, protocolVersion, Date.now());
    });
  }

  /**
   * At start, with a durable store of this node alone: every stored session back in memory, its
   * subscriptions routed again, so messages for a client still offline after a restart are queued
   * as before the restart. Expired ones are deleted; a session the crash left "connected" counts as
   * disconnected now. Resolves with how many were restored and how many had expired.
   */
  async restoreSessions(): Promise<{ restored: number; expired: number }> {
    const store = this.#durable;
    let restored = 0;
    let expired = 0;
    if (store === undefined) return { restored, expired };
    const now = Date.now();
    for await (const record of store.sessions()) {
      if (this.#sessions.has(record.clientId)) continue;
      const stored = await store.loadSession(record.clientId);
      if (stored === undefined) continue;
      // Version 5 until the client connects and says its own (openSession sets it).
      if (this.#restore(store, stored, 5, now) !== undefined) restored++;
      else expired++;
    }
    return { restored, expired };
  }

  /** Makes the offline session of `stored`, or deletes it when it has expired (undefined). */
  #restore(store: Store<Message>, stored: StoredSession<Message>, protocolVersion: ProtocolVersion, now: number): Session | undefined {
    const record = stored.session;
    const disconnectedAt = record.disconnectedAt ?? now;
    // Left "connected" by a crash: its expiry runs from now, written so that a second crash keeps that clock.
    if (record.disconnectedAt === undefined) store.saveSession({ ...record, disconnectedAt });
    const expiresAt = record.expiryInterval === NEVER_EXPIRES ? Infinity : disconnectedAt + record.expiryInterval * 1000;
    if (expiresAt <= now) {
      store.deleteSession(record.clientId); // it expired while nobody held it
      emit(this, 'sessionExpired', { clientId: record.clientId });
      return undefined;
    }
    const session = new Session(record.clientId, protocolVersion, record.expiryInterval, this.#sessionContext);
    for (const subscription of record.subscriptions) this.#addSubscription(session, { ...subscription, session });
    session.restoreMessages(stored);
    session.dropExpired(now);
    // Offline until openSession attaches it, which cancels this.
    if (expiresAt !== Infinity) session.expiryTimer = new LongTimer(expiresAt - now, () => this.#sessionExpired(session));
    this.#sessions.set(record.clientId, session);
    return session;
  }

  /** A message another node published: only routed here (its retained part is the store's business). */
  #fromBus(envelope: BusMessage): void {
    this.router.route(envelope.message as Message, envelope.sharedFilters);
  }

  /**
   * The client id connected on another node: a connection of it here is taken over [MQTT-3.1.4-3].
   * With a shared store the session is the claiming node's now (it loaded it from the store before
   * claiming): this node's copy, connected or offline, leaves memory without a write, so this node
   * neither queues for it nor saves, expires or deletes what the other node owns.
   */
  #claimed(claim: SessionClaim): void {
    const session = this.#sessions.get(claim.clientId);
    if (session === undefined) return;
    const connection = session.connection;
    if (connection !== undefined) emit(this, 'sessionTakeover', { clientId: claim.clientId, address: connection.remoteAddress });
    if (!this.#shared) {
      // Each node keeps its own sessions: the one here goes offline as after any lost connection.
      connection?.close(ReasonCode.SessionTakenOver, 'session taken over on another node');
      return;
    }
    if (connection !== undefined) {
      session.connection = undefined;
      connection.session = undefined;
      this.#unattached.add(connection); // until its stream has closed
      this.#connectedCount--;
      const will = session.will;
      // A takeover ends the connection abnormally: a will without delay goes out, as on one node
      // (openSession); one with a delay is cancelled, the client being back within it [MQTT-3.1.2-8].
      if (will !== undefined && willDelay(will, session.expiryInterval) === 0) this.publishWill(session.clientId, will, session.access);
      connection.close(ReasonCode.SessionTakenOver, 'session taken over on another node');
    } else if (session.willTimer !== undefined) {
      emit(this, 'willCancelled', { clientId: session.clientId });
    }
    this.#letGo(session);
  }

  /**
   * Forgets `session` here (timers, routes, interest, messages) and leaves the store's copy to its
   * new owner. No flush: what this node wrote for it goes out at the end of this turn anyway, and
   * the new owner loaded its copy before claiming, so an earlier commit would not put more in it
   * (docs/ARCHITECTURE.md, the window); flush() would also take a failed commit's report away from
   * the acknowledgement waiting for it.
   */
  #letGo(session: Session): void {
    session.clearTimers();
    session.will = undefined;
    session.openGate();
    for (const filter of session.subscriptions.keys()) this.bus.removeInterest(filter);
    this.router.removeSession(session);
    session.clearState();
    if (this.#sessions.get(session.clientId) === session) this.#sessions.delete(session.clientId);
  }

  /** Another node died holding `clientIds` (this node is the only one told): lost-node.ts adopts what it left. */
  async #nodeLost(node: string, clientIds: readonly string[]): Promise<void> {
    const store = this.#durable;
    if (store === undefined) return;
    const { wills, delayedWills, adopted } = await adoptLostNode(
      {
        store,
        closed: () => this.#closed,
        holds: (clientId) => this.#sessions.has(clientId),
        restore: (stored) => this.#restore(store, stored, 5, Date.now()),
        publishWill: (clientId, will) => this.publishWill(clientId, will, undefined),
        claim: (clientId) => this.bus.claimSession(clientId),
        delayWill: (session, will, delaySeconds) => {
          session.will = will;
          session.willTimer = new LongTimer(delaySeconds * 1000, () => this.#willDelayElapsed(session));
        },
        save: (session) => this.saveSession(session),
        storeError: (clientId, error) => emit(this, 'storeError', { clientId, operation: 'load the session of a lost node', err: error instanceof Error ? error.message : String(error) }),
      },
      clientIds,
    );
    this.logger.warn(
      { event: 'cluster_node_lost', node, clients: clientIds.length, wills, delayedWills, adopted },
      `cluster node ${node} was lost holding ${clientIds.length} clients: ${wills} wills published, ${delayedWills} waiting for their delay, ${adopted} persistent sessions adopted here until their clients reconnect`,
    );
  }

  /** Convenience for embedders: publish with defaults. */
  publishSimple(topic: string, payload: Buffer | string, qos: QoS = 0, retain = false): number {
    return this.publish(brokerMessage(topic, payload, { qos, retain }));
  }

  /** Disconnects everyone (v5: DISCONNECT 0x8B Server shutting down) and stops all timers. */
  close(): void {
    this.#closed = true;
    this.#deadlines.stop();
    this.load?.close();
    for (const connection of this.#everyConnection()) connection.close(ReasonCode.ServerShuttingDown, 'server shutting down');
    for (const session of this.#sessions.values()) session.clearTimers();
    this.authenticator.close();
    // The store stays open: whoever opened it closes it after the broker, so its last writes commit.
    void this.bus.close();
  }
}
