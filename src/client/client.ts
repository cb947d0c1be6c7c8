// The MQTT client: one connection, promises for each flow, typed callbacks and an async iterator
// for incoming messages. Protocol order on connect: options → URL → transport → CONNECT → CONNACK
// (all under connectTimeoutMs) → keep alive. Outgoing QoS flows live in inflight.ts, pings in
// keepalive.ts, the `messages()` iterator in message-stream.ts. Reconnect will replace the
// transport/parser pair of a client and resend the Outbox; nothing here assumes a single connection
// more than `#state` does.
import type { Duplex } from 'node:stream';
import { encode } from '../codec/encode.js';
import { MoatError, type ProtocolError } from '../codec/errors.js';
import { MAX_PACKET_SIZE, Parser } from '../codec/parser.js';
import { formatReason } from '../codec/reason-codes.js';
import type { ConnackPacket, Packet, Properties, PublishPacket } from '../codec/types.js';
import { callUser, connectError, connectTimeoutError, MqttError } from './errors.js';
import { Inbound } from './inbound.js';
import { Outbox, PacketIds, publishPacketIdOffset, Requests } from './inflight.js';
import { Keepalive } from './keepalive.js';
import { MessageStream, type ReceivedMessage } from './message-stream.js';
import { parseClientOptions, type ClientOptions, type ResolvedClientOptions } from './options.js';
import { connectPacket, filterList, publishPacket, subscriptions, type PublishOptions, type SubscribeOptions, type UnsubscribeOptions } from './packets.js';
import { openTransport, parseBrokerUrl, type BrokerAddress, type Transport } from './transport.js';

export type { PublishOptions, SubscribeOptions, UnsubscribeOptions } from './packets.js';

/** Why the connection ended. `reasonCode` is the DISCONNECT reason code, when there was one. */
export interface DisconnectReason {
  reasonCode?: number;
  message: string;
}

export type MessageHandler = (message: ReceivedMessage) => void;
export type DisconnectHandler = (reason: DisconnectReason) => void;

/** Connects to `url` (mqtt://host:port) and resolves once the server accepted the CONNECT. */
export function connect(url: string, options?: ClientOptions): Promise<MqttClient> {
  return MqttClient.connect(url, options);
}

export class MqttClient {
  readonly #options: ResolvedClientOptions;
  readonly #address: BrokerAddress;
  readonly #transport: Transport;
  readonly #stream: Duplex;
  readonly #version: 4 | 5;
  readonly #parser: Parser;
  readonly #ids = new PacketIds();
  readonly #outbox: Outbox;
  readonly #requests: Requests;
  readonly #inbound: Inbound;
  readonly #messageHandlers = new Set<MessageHandler>();
  readonly #disconnectHandlers = new Set<DisconnectHandler>();
  readonly #streams = new Set<MessageStream>();
  readonly #closed: Promise<void>;
  #state: 'connecting' | 'connected' | 'closed' = 'connecting';
  #handshake: { resolve: () => void; reject: (error: Error) => void } | undefined;
  #keepalive: Keepalive | undefined;
  #corked = false;
  #clientId: string;
  #sessionPresent = false;
  #serverProperties: Readonly<Properties> = {};
  #disconnectReason: DisconnectReason | undefined;

  /** Use `connect()`. */
  private constructor(options: ResolvedClientOptions, address: BrokerAddress, transport: Transport) {
    this.#options = options;
    this.#address = address;
    this.#transport = transport;
    this.#stream = transport.stream;
    this.#version = options.protocolVersion;
    this.#clientId = options.clientId;
    this.#inbound = new Inbound(options.protocolVersion === 5 ? (options.properties?.topicAliasMaximum ?? 0) : 0);
    this.#requests = new Requests(this.#ids, this.#version);
    this.#outbox = new Outbox(this.#ids, this.#version, (buffer, written) => this.#write(buffer, written));
    const maxPacketSize = options.protocolVersion === 5 ? (options.properties?.maximumPacketSize ?? MAX_PACKET_SIZE) : MAX_PACKET_SIZE;
    this.#parser = new Parser(
      { onPacket: (packet) => this.#onPacket(packet), onError: (error) => this.#onProtocolError(error) },
      { side: 'client', protocolVersion: this.#version, maxPacketSize },
    );
    this.#closed = new Promise((resolve) => this.#stream.once('close', () => resolve()));
    this.#stream.on('data', (chunk: Buffer) => this.#parser.push(chunk));
    this.#stream.on('error', (error: Error) => this.#onStreamError(error));
    this.#stream.on('end', () => this.#stream.end());
    this.#stream.on('close', () => this.#onStreamClose());
  }

  static async connect(url: string, options: ClientOptions = {}): Promise<MqttClient> {
    const resolved = parseClientOptions(options);
    const address = parseBrokerUrl(url);
    const client = new MqttClient(resolved, address, openTransport(address));
    await client.#runHandshake();
    return client;
  }

  /** The client identifier in use (the server's Assigned Client Identifier, if it gave one). */
  get clientId(): string {
    return this.#clientId;
  }

  get protocolVersion(): 4 | 5 {
    return this.#version;
  }

  /** CONNACK Session Present: the server resumed a stored session. */
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

  /**
   * Publishes; resolves when the QoS flow completes (QoS 0: written to the socket, QoS 1: PUBACK,
   * QoS 2: PUBCOMP). Rejects with MqttError when the server answers PUBACK/PUBREC with a failure.
   * Beyond the server's Receive Maximum, messages wait in order.
   */
  async publish(topic: string, payload: string | Buffer, options: PublishOptions = {}): Promise<void> {
    this.#checkOpen('publish');
    const packet = publishPacket(topic, payload, options, this.#version, this.#serverProperties);
    const buffer = this.#encodeChecked(packet, 'publish()');
    const qos = packet.qos;
    return new Promise<void>((resolve, reject) => {
      this.#outbox.enqueue({ qos, buffer, idOffset: qos > 0 ? publishPacketIdOffset(buffer) : 0, resolve, reject, packetId: 0, awaiting: 'window' });
    });
  }

  /**
   * Subscribes to one or more filters with the same options; resolves with one SUBACK code per
   * filter: the granted QoS (0-2) or a failure code (≥ 0x80). Rejects only if no SUBACK comes.
   */
  async subscribe(filters: string | readonly string[], options: SubscribeOptions = {}): Promise<number[]> {
    this.#checkOpen('subscribe');
    const list = filterList('subscribe', filters);
    const subs = subscriptions(list, options, this.#version);
    return this.#request('suback', list.length, (packetId) =>
      options.properties !== undefined && this.#version === 5
        ? { type: 'subscribe', packetId, subscriptions: subs, properties: options.properties }
        : { type: 'subscribe', packetId, subscriptions: subs },
    );
  }

  /** Unsubscribes; resolves with one UNSUBACK code per filter (3.1.1 has none: all 0x00 Success). */
  async unsubscribe(filters: string | readonly string[], options: UnsubscribeOptions = {}): Promise<number[]> {
    this.#checkOpen('unsubscribe');
    const list = filterList('unsubscribe', filters);
    return this.#request('unsuback', list.length, (packetId) =>
      options.properties !== undefined && this.#version === 5
        ? { type: 'unsubscribe', packetId, filters: list, properties: options.properties }
        : { type: 'unsubscribe', packetId, filters: list },
    );
  }

  /** Sends DISCONNECT and closes; resolves when the socket is closed. Pending flows are rejected. */
  async end(): Promise<void> {
    if (this.#state === 'connected') this.#shutdown({ reasonCode: 0, message: 'The client ended the connection (end()).' }, 0);
    else if (this.#state === 'connecting') this.#stream.destroy();
    await this.#closed;
  }

  /** Calls `handler` for every incoming message; returns a function that removes it. */
  onMessage(handler: MessageHandler): () => void {
    this.#messageHandlers.add(handler);
    return () => this.#messageHandlers.delete(handler);
  }

  /** Calls `handler` once when the connection ends, for any reason; returns a function that removes it. */
  onDisconnect(handler: DisconnectHandler): () => void {
    const reason = this.#disconnectReason;
    if (reason !== undefined) queueMicrotask(() => handler(reason));
    else this.#disconnectHandlers.add(handler);
    return () => this.#disconnectHandlers.delete(handler);
  }

  /** Incoming messages (only those matching `filter`, if given) as an async iterator; ends when the client closes. */
  messages(filter?: string): AsyncIterableIterator<ReceivedMessage> {
    const stream = new MessageStream(filter, (s) => this.#streams.delete(s));
    if (this.#state === 'closed') stream.end();
    else this.#streams.add(stream);
    return stream;
  }

  // ---- connect -----------------------------------------------------------------------------

  #runHandshake(): Promise<void> {
    const options = this.#options;
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => this.#failConnect(connectTimeoutError(this.#address.host, this.#address.port, options.connectTimeoutMs, this.#transport.connected())), options.connectTimeoutMs);
      const settle = (error?: Error): void => {
        clearTimeout(timer);
        if (error === undefined) resolve();
        else reject(error);
      };
      this.#handshake = { resolve: () => settle(), reject: settle };
      const packet = connectPacket(options);
      try {
        this.#write(encode(packet, this.#version));
      } catch (error) {
        this.#failConnect(error instanceof Error ? error : new Error(String(error)));
      }
    });
  }

  #onConnack(packet: ConnackPacket): void {
    if (packet.reasonCode !== 0) {
      this.#failConnect(MqttError.fromReason('connack', packet.reasonCode, this.#version, packet.properties));
      return;
    }
    const properties = packet.properties ?? {};
    this.#serverProperties = Object.freeze({ ...properties });
    this.#sessionPresent = packet.sessionPresent;
    if (properties.assignedClientIdentifier !== undefined) this.#clientId = properties.assignedClientIdentifier;
    if (properties.receiveMaximum !== undefined) this.#outbox.receiveMaximum = properties.receiveMaximum;
    const seconds = properties.serverKeepAlive ?? this.#options.keepalive;
    const keepalive = new Keepalive(seconds, () => this.#write(encode({ type: 'pingreq' }, this.#version)), () =>
      this.#shutdown({ message: `No PINGRESP within ${keepalive.timeoutMs} ms of a PINGREQ (keepalive ${seconds} s): the connection is dead or the server is stuck; closing it.` }),
    );
    this.#keepalive = keepalive;
    this.#state = 'connected';
    keepalive.start();
    this.#handshake?.resolve();
    this.#handshake = undefined;
  }

  /** Ends a connection that never got its CONNACK: the connect() promise rejects with `error`. */
  #failConnect(error: Error): void {
    if (this.#state !== 'connecting') return;
    this.#state = 'closed';
    this.#stream.destroy();
    this.#handshake?.reject(error);
    this.#handshake = undefined;
  }

  // ---- input -------------------------------------------------------------------------------

  #onPacket(packet: Packet): void {
    if (this.#state === 'closed') return;
    if (this.#state === 'connecting') {
      if (packet.type === 'connack') this.#onConnack(packet);
      else this.#failConnect(new MoatError('MOAT_ERR_PROTOCOL', `The server sent ${packet.type.toUpperCase()} before CONNACK; is this an MQTT broker? [MQTT-3.2.0-1]`, { reasonCode: 0x82 }));
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
        return this.#keepalive?.pingresp();
      case 'disconnect': {
        const code = packet.reasonCode ?? 0;
        let message = `The server disconnected: ${formatReason(code, { packet: 'disconnect' })}`;
        const said = packet.properties?.reasonString;
        if (said !== undefined && said !== '') message += ` (server says: ${said})`;
        return this.#shutdown({ reasonCode: code, message });
      }
      default:
        return this.#violation(0x82, `the server sent ${packet.type.toUpperCase()}, which this client never asked for`);
    }
  }

  #onPublish(packet: PublishPacket): void {
    const received = this.#inbound.receive(packet);
    if (!received.ok) return this.#violation(received.reasonCode, received.detail);
    if (received.deliver) this.#deliver(received.message);
    const packetId = packet.packetId;
    if (packet.qos === 0 || packetId === undefined) return;
    this.#write(encode({ type: packet.qos === 1 ? 'puback' : 'pubrec', packetId }, this.#version));
  }

  #deliver(message: ReceivedMessage): void {
    for (const handler of this.#messageHandlers) callUser(handler, message);
    for (const stream of this.#streams) stream.push(message);
  }

  #onProtocolError(error: ProtocolError): void {
    if (this.#state === 'connecting') this.#failConnect(error);
    else this.#violation(error.reasonCode ?? 0x82, error.message);
  }

  /** The server broke the protocol: DISCONNECT with `reasonCode` (MQTT 5) and close. */
  #violation(reasonCode: number, detail: string): void {
    this.#shutdown({ reasonCode, message: `Protocol error by the server: ${detail}. Closed with ${formatReason(reasonCode, { packet: 'disconnect' })}` }, reasonCode);
  }

  #onStreamError(error: Error): void {
    if (this.#state === 'connecting') this.#failConnect(connectError(this.#address.url, error));
    else this.#shutdown({ message: `Connection error: ${error.message}` });
  }

  #onStreamClose(): void {
    if (this.#state === 'connecting') {
      this.#failConnect(new MoatError('MOAT_ERR_CONNECT', `The server at ${this.#address.url} closed the connection before sending CONNACK.`));
    } else if (this.#state === 'connected') {
      const hint = this.#version === 4 ? ' (MQTT 3.1.1 servers give no reason: a session takeover by the same client id, a refused packet or a protocol error are common causes)' : ' without a DISCONNECT';
      this.#shutdown({ message: `The server closed the connection${hint}.` });
    }
  }

  // ---- output ------------------------------------------------------------------------------

  /** Everything written in one event-loop turn leaves in one writev. */
  #write(buffer: Buffer, written?: (error?: Error | null) => void): void {
    const stream = this.#stream;
    if (!stream.writable) {
      written?.(new Error('the connection is closed'));
      return;
    }
    if (!this.#corked) {
      this.#corked = true;
      stream.cork();
      process.nextTick(() => {
        this.#corked = false;
        stream.uncork();
      });
    }
    if (written === undefined) stream.write(buffer);
    else stream.write(buffer, written);
    this.#keepalive?.wrote();
  }

  /** Encodes and checks the size against the server's Maximum Packet Size [MQTT-3.1.2-24]. */
  #encodeChecked(packet: Packet, what: string): Buffer {
    const buffer = encode(packet, this.#version);
    const max = this.#serverProperties.maximumPacketSize ?? MAX_PACKET_SIZE;
    if (buffer.length > max) {
      throw new MoatError('MOAT_ERR_PACKET_TOO_LARGE', `${what}: the packet is ${buffer.length} bytes, above the server's Maximum Packet Size of ${max} bytes.`, { reasonCode: 0x95 });
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
    if (this.#state === 'connected') return;
    const why = this.#disconnectReason === undefined ? '' : ` ${this.#disconnectReason.message}`;
    const reasonCode = this.#disconnectReason?.reasonCode;
    throw new MoatError('MOAT_ERR_CLIENT_CLOSED', `${what}(): the client is not connected.${why}`, reasonCode === undefined ? {} : { reasonCode });
  }

  // ---- closing -----------------------------------------------------------------------------

  /**
   * Ends a connected client once: optional DISCONNECT (`sendReason`), close the socket, reject what
   * is pending, end the iterators, then tell the onDisconnect handlers.
   */
  #shutdown(reason: DisconnectReason, sendReason?: number): void {
    if (this.#state !== 'connected') return;
    this.#state = 'closed';
    this.#disconnectReason = reason;
    this.#keepalive?.stop();
    if (sendReason !== undefined && this.#stream.writable) {
      this.#write(encode(sendReason === 0 || this.#version === 4 ? { type: 'disconnect' } : { type: 'disconnect', reasonCode: sendReason }, this.#version));
    }
    this.#stream.end();
    // A server that never closes its side must not keep us half-open.
    setTimeout(() => this.#stream.destroy(), 1000).unref();
    const error = new MoatError('MOAT_ERR_CONNECTION_CLOSED', `The connection closed before the server answered: ${reason.message}`, reason.reasonCode === undefined ? {} : { reasonCode: reason.reasonCode });
    this.#outbox.failAll(error);
    this.#requests.failAll(error);
    for (const stream of this.#streams) stream.end();
    this.#streams.clear();
    const handlers = [...this.#disconnectHandlers];
    this.#disconnectHandlers.clear();
    for (const handler of handlers) callUser(handler, reason);
  }
}
