// The MQTT client: promises for each flow, typed callbacks and an async iterator for incoming
// messages, over one connection at a time. Protocol order on connect: options → URL → transport →
// CONNECT → CONNACK (all under connectTimeoutMs) → keep alive. After a connection that was up is
// lost, the client reconnects by itself (reconnect.ts: back-off with full jitter, reason-aware):
// each attempt opens a new transport/parser pair (a `Connection`); the session state lives on the
// client and survives: the Outbox (in-flight QoS 1/2, resent with DUP), the subscriptions (re-sent
// when the server kept no session), the offline queue (publish() while reconnecting) and the
// `messages()` iterators. The first connect() never retries: it rejects, as paho does.
// Given several broker URLs (failover.ts), each connect is a round over them: the one that last
// worked, then the others in order; a URL that fails hands over to the next at once, and only a
// round in which all failed waits the back-off (the first connect() rejects after one round).
import type { Duplex } from 'node:stream';
import { encode } from '../codec/encode.js';
import { MoatError, type ProtocolError } from '../codec/errors.js';
import { MAX_PACKET_SIZE } from '../codec/parser.js';
import { formatReason, ReasonCode } from '../codec/reason-codes.js';
import type { ConnackPacket, Packet, Properties, PublishPacket } from '../codec/types.js';
import { openConnection, writeCorked } from './connection.js';
import { callUser, connectError, connectTimeoutError, MqttError } from './errors.js';
import { Inbound } from './inbound.js';
import { Outbox, PacketIds, publishPacketIdOffset, Requests, type OutgoingPublish } from './inflight.js';
import { Keepalive } from './keepalive.js';
import { Listeners } from './listeners.js';
import type { ReceivedMessage } from './message-stream.js';
import { OfflineQueue } from './offline-queue.js';
import { parseClientOptions, type ClientOptions, type ResolvedClientOptions } from './options.js';
import { connectPacket, filterList, publishPacket, subscriptions, type PublishOptions, type SubscribeOptions, type UnsubscribeOptions } from './packets.js';
import { isNodeRefusal, parseBrokerUrls, resolveServerReference, roundError, ServerList, type Failure } from './failover.js';
import { adviseRetry, ReconnectTimer, type ReconnectingHandler, type RetryAdvice } from './reconnect.js';
import { SubscriptionBook } from './subscriptions.js';
import { TopicAliases } from './topic-alias.js';
import type { BrokerAddress } from './transport.js';
import type { Connection, ConnectHandler, DisconnectHandler, DisconnectReason, FailoverHandler, MessageHandler } from './types.js';
import { emitConnectionWarnings } from './warnings.js';

export type { PublishOptions, SubscribeOptions, UnsubscribeOptions } from './packets.js';
export type { ReconnectingHandler } from './reconnect.js';
export type { ConnectHandler, DisconnectHandler, DisconnectReason, FailoverEvent, FailoverHandler, MessageHandler } from './types.js';

/**
 * Connects to `urls` (mqtt://, mqtts://, ws:// or wss:// host:port; a list to fail over between
 * brokers, schemes may be mixed) and resolves once a server accepted the CONNECT.
 */
export function connect(urls: string | readonly string[], options?: ClientOptions): Promise<MqttClient> {
  return MqttClient.connect(urls, options);
}

const STOP: RetryAdvice = { action: 'stop', why: 'the client ended' };
const RETRY: RetryAdvice = { action: 'retry', hard: false };

export class MqttClient {
  readonly #options: ResolvedClientOptions;
  /** The broker URLs given, and which one worked last. */
  readonly #servers: ServerList;
  /** The URL of the current connection or attempt. */
  #address: BrokerAddress;
  /** A Server Reference from a DISCONNECT (0x9C, 0x9D): the first URL of the next reconnect round. */
  #reference: BrokerAddress | undefined;
  readonly #version: 4 | 5;
  readonly #ids = new PacketIds();
  readonly #outbox: Outbox;
  readonly #requests: Requests;
  readonly #inbound: Inbound;
  readonly #offline: OfflineQueue<OutgoingPublish>;
  /** Outgoing topic aliases of the current connection (MQTT 5), applied as PUBLISHes are written. */
  readonly #aliases = new TopicAliases();
  /** Granted subscriptions, re-sent after a reconnect that found no session. */
  readonly #subscriptions = new SubscriptionBook();
  readonly #listeners: Listeners;
  readonly #reconnect: ReconnectTimer;
  readonly #closed: Promise<void>;
  #resolveClosed!: () => void;
  #state: 'connecting' | 'connected' | 'reconnecting' | 'closed' = 'connecting';
  #conn: Connection | undefined;
  #ending = false;
  #clientId: string;
  #sessionPresent = false;
  #serverProperties: Readonly<Properties> = {};
  #disconnectReason: DisconnectReason | undefined;
  /** The newest TLS session each server gave (mqtts://, wss://; by URL); passed to openTransport on reconnect to resume. */
  readonly #tlsSessions = new Map<string, Buffer>();

  /** Use `connect()`. */
  private constructor(options: ResolvedClientOptions, servers: ServerList) {
    this.#options = options;
    this.#servers = servers;
    this.#address = servers.addresses[0] as BrokerAddress;
    this.#version = options.protocolVersion;
    this.#clientId = options.clientId;
    this.#inbound = new Inbound(options.protocolVersion === 5 ? (options.properties?.topicAliasMaximum ?? 0) : 0);
    this.#requests = new Requests(this.#ids, this.#version);
    this.#outbox = new Outbox(this.#ids, this.#version, (buffer, written) => this.#write(buffer, written), (publish) => this.#aliases.apply(publish.buffer, publish.callerAlias));
    this.#offline = new OfflineQueue(options.offlineQueue);
    this.#reconnect = new ReconnectTimer(options.reconnect, (handler, attempt, delayMs, error) => callUser(() => handler(attempt, delayMs, error), undefined));
    this.#closed = new Promise((resolve) => (this.#resolveClosed = resolve));
    this.#listeners = new Listeners(options.callbacks);
    const { onReconnecting } = options.callbacks;
    if (onReconnecting !== undefined) this.#reconnect.handlers.add(onReconnecting);
  }

  static async connect(urls: string | readonly string[], options: ClientOptions = {}): Promise<MqttClient> {
    const resolved = parseClientOptions(options);
    const addresses = parseBrokerUrls(urls);
    for (const address of addresses) emitConnectionWarnings(address.url, resolved);
    const client = new MqttClient(resolved, new ServerList(addresses));
    await client.#connectFirst();
    return client;
  }

  /** The broker URL of the latest accepted connection (with several URLs: the one failed over to). */
  get url(): string {
    return (this.#servers.lastWorked ?? this.#address).url;
  }

  /** The broker URLs given to connect(), in their order. */
  get urls(): readonly string[] {
    return this.#servers.addresses.map((address) => address.url);
  }

  /** The client identifier in use (the server's Assigned Client Identifier, if it gave one). */
  get clientId(): string {
    return this.#clientId;
  }

  get protocolVersion(): 4 | 5 {
    return this.#version;
  }

  /** CONNACK Session Present of the latest connection: the server resumed a stored session. */
  get sessionPresent(): boolean {
    return this.#sessionPresent;
  }

  /** The server's CONNACK properties (MQTT 5): receiveMaximum, maximumQoS, topicAliasMaximum, ... */
  get serverProperties(): Readonly<Properties> {
    return this.#serverProperties;
  }

  get connected(): boolean {
    return this.#state === 'connected';
  }

  /** True between a lost connection and the next CONNACK (or the final stop). */
  get reconnecting(): boolean {
    return this.#state === 'reconnecting';
  }

  /**
   * Publishes; resolves when the QoS flow completes (QoS 0: written to the socket, QoS 1: PUBACK,
   * QoS 2: PUBCOMP). Rejects with MqttError when the server answers PUBACK/PUBREC with a failure.
   * Beyond the server's Receive Maximum, messages wait in order. While reconnecting, messages wait
   * in the offline queue (bounded; see the offlineQueue option) and complete after the reconnect.
   */
  async publish(topic: string, payload: string | Buffer, options: PublishOptions = {}): Promise<void> {
    this.#checkOpen('publish');
    const packet = publishPacket(topic, payload, options, this.#version, this.#serverProperties);
    // A caller-chosen alias is applied when the packet is written (topic-alias.ts), so the in-flight
    // copy always holds the full topic and a resend on a new connection stays valid.
    const callerAlias = packet.properties?.topicAlias;
    if (callerAlias !== undefined) {
      if (packet.topic === '') {
        const known = this.#aliases.topicFor(callerAlias);
        if (known === undefined) {
          throw new MoatError('MOAT_ERR_INVALID_TOPIC', `publish(): topic alias ${callerAlias} has no topic on this connection yet; publish once with the topic and the alias.`);
        }
        packet.topic = known;
      }
      const { topicAlias: _alias, ...rest } = packet.properties ?? {};
      if (Object.keys(rest).length > 0) packet.properties = rest;
      else delete packet.properties;
    }
    const buffer = this.#encodeChecked(packet, 'publish()');
    const qos = packet.qos;
    return new Promise<void>((resolve, reject) => {
      const idOffset = qos > 0 ? publishPacketIdOffset(buffer) : 0;
      const publish: OutgoingPublish =
        callerAlias === undefined
          ? { qos, buffer, idOffset, resolve, reject, packetId: 0, awaiting: 'window' }
          : { qos, buffer, idOffset, resolve, reject, callerAlias, packetId: 0, awaiting: 'window' };
      if (this.#state === 'reconnecting') this.#offline.add(publish);
      else this.#outbox.enqueue(publish);
    });
  }

  /**
   * Subscribes to one or more filters with the same options; resolves with one SUBACK code per
   * filter: the granted QoS (0-2) or a failure code (≥ 0x80). Rejects only if no SUBACK comes.
   * Granted subscriptions are remembered and re-sent after a reconnect that found no session.
   */
  async subscribe(filters: string | readonly string[], options: SubscribeOptions = {}): Promise<number[]> {
    this.#checkOpen('subscribe');
    const list = filterList('subscribe', filters);
    const subs = subscriptions(list, options, this.#version);
    if (this.#state === 'reconnecting') await this.#listeners.whenConnected();
    const codes = await this.#sendSubscribe(list, subs, options);
    this.#subscriptions.remember(list, codes, options);
    return codes;
  }

  /** Unsubscribes; resolves with one UNSUBACK code per filter (3.1.1 has none: all 0x00 Success). */
  async unsubscribe(filters: string | readonly string[], options: UnsubscribeOptions = {}): Promise<number[]> {
    this.#checkOpen('unsubscribe');
    const list = filterList('unsubscribe', filters);
    this.#subscriptions.forget(list);
    if (this.#state === 'reconnecting') await this.#listeners.whenConnected();
    return this.#request('unsuback', list.length, (packetId) =>
      options.properties !== undefined && this.#version === 5
        ? { type: 'unsubscribe', packetId, filters: list, properties: options.properties }
        : { type: 'unsubscribe', packetId, filters: list },
    );
  }

  /**
   * Sends DISCONNECT (when connected), stops reconnecting and closes; resolves when the socket is
   * closed. Pending flows and queued messages are rejected.
   */
  async end(): Promise<void> {
    this.#ending = true;
    const reason = { reasonCode: 0, message: 'The client ended the connection (end()).' };
    if (this.#state === 'connected') {
      this.#lost(reason, STOP, 0);
    } else if (this.#state === 'reconnecting') {
      const conn = this.#conn;
      this.#finish(reason, conn?.stream);
      if (conn !== undefined) this.#failHandshake(conn, new MoatError('MOAT_ERR_CLIENT_CLOSED', 'end() was called while reconnecting.'));
    } else if (this.#state === 'connecting' && this.#conn !== undefined) {
      this.#failHandshake(this.#conn, new MoatError('MOAT_ERR_CLIENT_CLOSED', 'end() was called before the server answered CONNECT.'));
    }
    await this.#closed;
  }

  /** Calls `handler` for every incoming message; returns a function that removes it. */
  onMessage(handler: MessageHandler): () => void {
    return this.#listeners.onMessage(handler);
  }

  /**
   * Calls `handler` each time the connection ends (`reason.reconnecting` tells whether a reconnect
   * follows); registered after the client closed for good, it hears the final reason once.
   * Returns a function that removes it.
   */
  onDisconnect(handler: DisconnectHandler): () => void {
    return this.#listeners.onDisconnect(handler, this.#state === 'closed' ? this.#disconnectReason : undefined);
  }

  /**
   * Calls `handler` after every successful (re)connect, once lost subscriptions are restored.
   * The first connect happens before connect() resolves: use the onConnect option to hear it.
   */
  onConnect(handler: ConnectHandler): () => void {
    return this.#listeners.onConnect(handler);
  }

  /**
   * Calls `handler` each time a broker URL of the list fails (refused, timed out, a CONNACK such as
   * 0x88 Server unavailable) and the client tries the next one at once. Returns a function that removes it.
   */
  onFailover(handler: FailoverHandler): () => void {
    return this.#listeners.onFailover(handler);
  }

  /** Calls `handler` before each reconnect wait with the attempt number and the delay chosen. */
  onReconnecting(handler: ReconnectingHandler): () => void {
    this.#reconnect.handlers.add(handler);
    return () => this.#reconnect.handlers.delete(handler);
  }

  /**
   * Incoming messages (only those matching `filter`, if given) as an async iterator; it lives
   * through reconnects and ends when the client closes for good.
   */
  messages(filter?: string): AsyncIterableIterator<ReceivedMessage> {
    return this.#listeners.messages(filter, this.#state === 'closed');
  }

  // ---- connect -----------------------------------------------------------------------------

  /**
   * The first connect: one round over the URLs. A URL that fails, or refuses as a node may
   * (isNodeRefusal), hands over to the next; any other refusal rejects at once: every broker would
   * answer it the same way. Rejects after the last URL with why each failed (roundError).
   */
  async #connectFirst(): Promise<void> {
    const failures: Failure[] = [];
    let stream: Duplex | undefined;
    this.#servers.startRound();
    for (let address = this.#servers.next(); address !== undefined; address = this.#servers.next()) {
      if (this.#ending) break;
      this.#address = address;
      let conn: Connection | undefined;
      try {
        conn = this.#open();
        stream = conn.stream;
        await this.#handshake(conn);
        return;
      } catch (thrown) {
        const error = asError(thrown);
        const refusal = conn?.refusal;
        if (this.#ending || (refusal !== undefined && !isNodeRefusal(refusal.reasonCode, this.#version))) {
          this.#closeUnconnected(stream);
          throw error;
        }
        failures.push({ url: address.url, error });
        if (refusal !== undefined) this.#refer(adviseRetry('connack', refusal.reasonCode, this.#version, this.#policy(), refusal.properties), address);
        this.#failover(address, error);
      }
    }
    this.#closeUnconnected(stream);
    if (this.#ending) throw new MoatError('MOAT_ERR_CLIENT_CLOSED', 'end() was called before the server answered CONNECT.');
    throw roundError(failures);
  }

  /** The first connect failed for good: the client is closed without ever having been connected. */
  #closeUnconnected(stream: Duplex | undefined): void {
    this.#state = 'closed';
    this.#resolveWhenClosed(stream);
  }

  /** Tells the onFailover handlers that `from` failed, when another URL is left in the round. */
  #failover(from: BrokerAddress, error: Error): void {
    const next = this.#servers.peek();
    if (next !== undefined) this.#listeners.failover({ from: from.url, to: next.url, error });
  }

  /** A refusal with a Server Reference (0x9C, 0x9D): that server is tried next in this round. */
  #refer(advice: RetryAdvice, from: BrokerAddress): void {
    if (advice.action !== 'retry' || advice.serverReference === undefined) return;
    const target = resolveServerReference(advice.serverReference, from);
    if (target !== undefined) this.#servers.refer(target);
  }

  /** Opens a transport to the current address and makes it the current connection. */
  #open(): Connection {
    const address = this.#address;
    const conn = openConnection(address, this.#options, this.#tlsSessions.get(address.url), {
      current: (c) => this.#conn === c,
      session: (session) => {
        this.#tlsSessions.set(address.url, session);
      },
      packet: (c, packet) => this.#onPacket(c, packet),
      protocolError: (c, error) => this.#onProtocolError(c, error),
      streamError: (c, error) => this.#onStreamError(c, error),
      streamClose: (c) => this.#onStreamClose(c),
    });
    this.#conn = conn;
    this.#inbound.newConnection();
    return conn;
  }

  /** CONNECT on `conn`; resolves after a successful CONNACK, rejects on refusal, error or timeout. */
  #handshake(conn: Connection): Promise<void> {
    const options = this.#options;
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => this.#failHandshake(conn, connectTimeoutError(conn.address.host, conn.address.port, options.connectTimeoutMs, conn.transport.stage())), options.connectTimeoutMs);
      conn.handshake = {
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      };
      try {
        // A reconnect reuses the Assigned Client Identifier, so the server can find the session.
        this.#write(encode(connectPacket({ ...options, clientId: this.#clientId }), this.#version));
      } catch (error) {
        this.#failHandshake(conn, error instanceof Error ? error : new MoatError('MOAT_ERR_INTERNAL', String(error)));
      }
    });
  }

  #onConnack(conn: Connection, packet: ConnackPacket): void {
    if (packet.reasonCode !== 0) {
      conn.refusal = packet;
      this.#failHandshake(conn, MqttError.fromReason('connack', packet.reasonCode, this.#version, packet.properties));
      return;
    }
    const properties = packet.properties ?? {};
    this.#serverProperties = Object.freeze({ ...properties });
    this.#sessionPresent = packet.sessionPresent;
    if (properties.assignedClientIdentifier !== undefined) this.#clientId = properties.assignedClientIdentifier;
    this.#outbox.receiveMaximum = properties.receiveMaximum ?? 65535;
    // Aliases are per connection [MQTT-3.3.2-7]: a new table before anything is (re)sent below.
    const aliasMaximum = this.#version === 5 && this.#options.topicAliases ? (properties.topicAliasMaximum ?? 0) : 0;
    this.#aliases.reset(aliasMaximum, properties.maximumPacketSize ?? MAX_PACKET_SIZE);
    const seconds = properties.serverKeepAlive ?? this.#options.keepalive;
    const keepalive = new Keepalive(seconds, () => this.#write(encode({ type: 'pingreq' }, this.#version)), () =>
      this.#lost({ message: `No PINGRESP within ${keepalive.timeoutMs} ms of a PINGREQ (keepalive ${seconds} s): the connection is dead or the server is stuck; closing it.` }, RETRY),
    );
    conn.keepalive = keepalive;
    const reconnect = this.#state === 'reconnecting';
    this.#state = 'connected';
    this.#servers.worked(conn.address);
    this.#reconnect.reset();
    keepalive.start();
    // Restore the session, in this order: subscriptions (when the server kept none), the in-flight
    // QoS 1/2 flows (DUP), what waited for the Receive Maximum, then the offline queue.
    const resend = (filters: string[], options: SubscribeOptions): Promise<number[]> => this.#sendSubscribe(filters, subscriptions(filters, options, this.#version), options);
    const restored = reconnect && !packet.sessionPresent ? this.#subscriptions.resubscribe(resend) : Promise.resolve();
    this.#outbox.resume();
    for (const publish of this.#offline.take()) this.#outbox.enqueue(publish);
    const handshake = conn.handshake;
    conn.handshake = undefined;
    handshake?.resolve();
    void restored.then(() => {
      if (this.#conn !== conn || this.#state !== 'connected') return;
      this.#listeners.connected(packet, this);
    });
  }

  /** A connection that never got its CONNACK: its handshake rejects with `error`. */
  #failHandshake(conn: Connection, error: Error): void {
    const handshake = conn.handshake;
    if (handshake === undefined) return;
    conn.handshake = undefined;
    conn.stream.destroy();
    if (this.#conn === conn) this.#conn = undefined;
    handshake.reject(error);
  }

  #sendSubscribe(list: readonly string[], subs: ReturnType<typeof subscriptions>, options: SubscribeOptions): Promise<number[]> {
    return this.#request('suback', list.length, (packetId) =>
      options.properties !== undefined && this.#version === 5
        ? { type: 'subscribe', packetId, subscriptions: subs, properties: options.properties }
        : { type: 'subscribe', packetId, subscriptions: subs },
    );
  }

  // ---- reconnect ---------------------------------------------------------------------------

  /** Waits the back-off for the next attempt; `hard` uses the maximum delay as the cap. */
  #scheduleReconnect(hard: boolean, error?: Error): void {
    if (this.#state !== 'reconnecting') return;
    this.#reconnect.schedule(hard, error, () => this.#state === 'reconnecting', () => this.#attemptReconnect());
  }

  /** A reconnect attempt: a round over the URLs, a Server Reference from the DISCONNECT first. */
  #attemptReconnect(): void {
    if (this.#state !== 'reconnecting') return;
    this.#servers.startRound(this.#reference);
    this.#reference = undefined;
    this.#tryNext([], true);
  }

  /**
   * The next URL of the round; when none is left, the back-off before the next round, capped at
   * the maximum delay (`hard`) only when every URL of the round asked for that (0x97, 0x9F, ...).
   */
  #tryNext(failures: Failure[], hard: boolean): void {
    if (this.#state !== 'reconnecting') return;
    const address = this.#servers.next();
    if (address === undefined) {
      this.#scheduleReconnect(hard, roundError(failures));
      return;
    }
    this.#address = address;
    let conn: Connection;
    try {
      conn = this.#open();
    } catch (thrown) {
      const error = asError(thrown);
      failures.push({ url: address.url, error });
      this.#failover(address, error);
      this.#tryNext(failures, false);
      return;
    }
    this.#handshake(conn).catch((error: Error) => {
      if (this.#state !== 'reconnecting') return;
      failures.push({ url: address.url, error });
      const refusal = conn.refusal;
      if (refusal === undefined) {
        this.#failover(address, error);
        this.#tryNext(failures, false);
        return;
      }
      const advice = adviseRetry('connack', refusal.reasonCode, this.#version, this.#policy(), refusal.properties);
      if (advice.action === 'stop') {
        const server = this.#servers.addresses.length > 1 ? `server at ${address.url}` : 'server';
        this.#finish({ reasonCode: refusal.reasonCode, message: `The ${server} refused the reconnect: ${error.message}. Not reconnecting: ${advice.why}.` }, conn.stream);
        return;
      }
      this.#refer(advice, address);
      this.#failover(address, error);
      this.#tryNext(failures, hard && advice.hard);
    });
  }

  #policy(): NonNullable<ResolvedClientOptions['reconnect']> {
    return this.#options.reconnect ?? { initialDelayMs: 0, maxDelayMs: 0, multiplier: 1, retryOnAuthFailure: false };
  }

  // ---- input -------------------------------------------------------------------------------

  #onPacket(conn: Connection, packet: Packet): void {
    if (this.#state === 'closed') return;
    if (conn.handshake !== undefined) {
      if (packet.type === 'connack') this.#onConnack(conn, packet);
      else this.#failHandshake(conn, new MoatError('MOAT_ERR_PROTOCOL', `The server sent ${packet.type.toUpperCase()} before CONNACK; is this an MQTT broker? [MQTT-3.2.0-1]`, { reasonCode: ReasonCode.ProtocolError }));
      return;
    }
    switch (packet.type) {
      case 'publish':
        return this.#onPublish(packet);
      case 'puback':
        return this.#outbox.onPuback(packet.packetId, packet.reasonCode ?? 0, packet.properties);
      case 'pubrec':
        return this.#outbox.onPubrec(packet.packetId, packet.reasonCode ?? 0, packet.properties);
      case 'pubcomp':
        return this.#outbox.onPubcomp(packet.packetId);
      case 'pubrel': {
        const known = this.#inbound.release(packet.packetId);
        const pubcomp = known || this.#version === 4 ? { type: 'pubcomp' as const, packetId: packet.packetId } : { type: 'pubcomp' as const, packetId: packet.packetId, reasonCode: 0x92 };
        return this.#write(encode(pubcomp, this.#version));
      }
      case 'suback':
      case 'unsuback':
        return this.#requests.settle(packet.type, packet.packetId, packet.reasonCodes);
      case 'pingresp':
        return conn.keepalive?.pingresp();
      case 'disconnect': {
        const code = packet.reasonCode ?? 0;
        let message = `The server disconnected: ${formatReason(code, { packet: 'disconnect' })}`;
        const said = packet.properties?.reasonString;
        if (said !== undefined && said !== '') message += ` (server says: ${said})`;
        const advice = adviseRetry('disconnect', code, this.#version, this.#policy(), packet.properties);
        // Server Reference (0x9C Use another server, 0x9D Server moved): the next round starts there.
        if (advice.action === 'retry' && advice.serverReference !== undefined) this.#reference = resolveServerReference(advice.serverReference, conn.address);
        return this.#lost({ reasonCode: code, message }, advice);
      }
      default:
        return this.#violation(0x82, `the server sent ${packet.type.toUpperCase()}, which this client never asked for`);
    }
  }

  #onPublish(packet: PublishPacket): void {
    const received = this.#inbound.receive(packet);
    if (!received.ok) return this.#violation(received.reasonCode, received.detail);
    if (received.deliver) this.#listeners.deliver(received.message);
    const packetId = packet.packetId;
    if (packet.qos === 0 || packetId === undefined) return;
    this.#write(encode({ type: packet.qos === 1 ? 'puback' : 'pubrec', packetId }, this.#version));
  }

  #onProtocolError(conn: Connection, error: ProtocolError): void {
    if (conn.handshake !== undefined) this.#failHandshake(conn, error);
    else this.#violation(error.reasonCode ?? 0x82, error.message);
  }

  /** The server broke the protocol: DISCONNECT with `reasonCode` (MQTT 5) and close. */
  #violation(reasonCode: number, detail: string): void {
    this.#lost({ reasonCode, message: `Protocol error by the server: ${detail}. Closed with ${formatReason(reasonCode, { packet: 'disconnect' })}` }, RETRY, reasonCode);
  }

  #onStreamError(conn: Connection, error: Error): void {
    const code = (error as NodeJS.ErrnoException).code;
    if (conn.handshake !== undefined && conn.transport.stage() === 'open' && (code === 'ECONNRESET' || code === 'EPIPE')) {
      // The connection was open and CONNECT sent: the server reset it instead of answering, which is
      // a server closing before CONNACK (Mosquitto at max_connections does either), not a failure to connect.
      this.#failHandshake(conn, new MoatError('MOAT_ERR_CONNECT', `The server at ${conn.address.url} closed the connection before sending CONNACK (${code}).`, { cause: error }));
    } else if (conn.handshake !== undefined) this.#failHandshake(conn, connectError(conn.address.url, error));
    else this.#lost({ message: `Connection error: ${error.message}` }, RETRY);
  }

  #onStreamClose(conn: Connection): void {
    if (conn.handshake !== undefined) {
      this.#failHandshake(conn, new MoatError('MOAT_ERR_CONNECT', `The server at ${conn.address.url} closed the connection before sending CONNACK.`));
    } else if (this.#state === 'connected') {
      const hint = this.#version === 4 ? ' (MQTT 3.1.1 servers give no reason: a session takeover by the same client id, a refused packet or a protocol error are common causes)' : ' without a DISCONNECT';
      this.#lost({ message: `The server closed the connection${hint}.` }, RETRY);
    }
  }

  // ---- output ------------------------------------------------------------------------------

  #write(buffer: Buffer, written?: (error?: Error | null) => void): void {
    writeCorked(this.#conn, buffer, written);
  }

  /** Encodes and checks the size against the server's Maximum Packet Size [MQTT-3.1.2-24]. */
  #encodeChecked(packet: Packet, what: string): Buffer {
    const buffer = encode(packet, this.#version);
    const max = this.#serverProperties.maximumPacketSize ?? MAX_PACKET_SIZE;
    if (buffer.length > max) {
      throw new MoatError('MOAT_ERR_PACKET_TOO_LARGE', `${what}: the packet is ${buffer.length} bytes, above the server's Maximum Packet Size of ${max} bytes.`, { reasonCode: ReasonCode.PacketTooLarge });
    }
    return buffer;
  }

  #request(kind: 'suback' | 'unsuback', count: number, build: (packetId: number) => Packet): Promise<number[]> {
    const packetId = this.#ids.allocate();
    let buffer: Buffer;
    try {
      buffer = this.#encodeChecked(build(packetId), kind === 'suback' ? 'subscribe()' : 'unsubscribe()');
    } catch (error) {
      this.#ids.release(packetId);
      throw error;
    }
    const acked = this.#requests.wait(kind, packetId, count);
    this.#write(buffer);
    return acked;
  }

  #checkOpen(what: string): void {
    if (this.#state === 'connected' || this.#state === 'reconnecting') return;
    const why = this.#disconnectReason === undefined ? '' : ` ${this.#disconnectReason.message}`;
    const reasonCode = this.#disconnectReason?.reasonCode;
    throw new MoatError('MOAT_ERR_CLIENT_CLOSED', `${what}(): the client is not connected.${why}`, reasonCode === undefined ? {} : { reasonCode });
  }

  // ---- closing -----------------------------------------------------------------------------

  /**
   * A connection that was up ends: optional DISCONNECT (`sendReason`), close the socket, reject the
   * pending SUBSCRIBE/UNSUBSCRIBE; then reconnect, unless reconnect is off, the client is ending or
   * the server's reason says to stop (`advice`).
   */
  #lost(reason: DisconnectReason, advice: RetryAdvice, sendReason?: number): void {
    const conn = this.#conn;
    if (this.#state !== 'connected' || conn === undefined) return;
    conn.keepalive?.stop();
    if (sendReason !== undefined && conn.stream.writable) {
      this.#write(encode(sendReason === 0 || this.#version === 4 ? { type: 'disconnect' } : { type: 'disconnect', reasonCode: sendReason }, this.#version));
    }
    conn.stream.end();
    // A server that never closes its side must not keep us half-open.
    setTimeout(() => conn.stream.destroy(), 1000).unref();
    this.#conn = undefined;
    if (this.#options.reconnect === undefined || this.#ending || advice.action === 'stop') {
      this.#finish(reason, conn.stream);
      return;
    }
    this.#state = 'reconnecting';
    this.#outbox.pause();
    this.#requests.failAll(closedError(reason));
    this.#listeners.reconnecting(reason);
    this.#scheduleReconnect(advice.action === 'retry' && advice.hard);
  }

  /** The client closes for good: reject everything pending, end the iterators, tell the handlers. */
  #finish(reason: DisconnectReason, stream: Duplex | undefined): void {
    if (this.#state === 'closed') return;
    this.#state = 'closed';
    this.#disconnectReason = reason;
    this.#reconnect.cancel();
    const error = closedError(reason);
    this.#outbox.failAll(error);
    this.#offline.failAll(error);
    this.#requests.failAll(error);
    this.#listeners.closing(error);
    this.#resolveWhenClosed(stream);
    this.#listeners.closed(reason);
  }

  #resolveWhenClosed(stream: Duplex | undefined): void {
    if (stream === undefined || stream.closed) this.#resolveClosed();
    else stream.once('close', () => this.#resolveClosed());
  }
}

function closedError(reason: DisconnectReason): MoatError {
  return new MoatError('MOAT_ERR_CONNECTION_CLOSED', `The connection closed before the server answered: ${reason.message}`, reason.reasonCode === undefined ? {} : { reasonCode: reason.reasonCode });
}

function asError(thrown: unknown): Error {
  return thrown instanceof Error ? thrown : new MoatError('MOAT_ERR_INTERNAL', String(thrown));
}
