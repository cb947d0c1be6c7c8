// One network connection: bytes in through the Parser, packets out through an Outbox (one write per turn).
// It owns the connection-scoped state (protocol version, keep alive, topic aliases, client limits);
// what outlives the connection lives in Session.
import { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { PasswordHash } from '../auth/password-file.js';
import { encode } from '../codec/encode.js';
import { ProtocolError } from '../codec/errors.js';
import { Parser, type ParserHandler } from '../codec/parser.js';
import { ConnectReturnCode, ReasonCode } from '../codec/reason-codes.js';
import type { AckPacket, Packet, ProtocolVersion, QoS } from '../codec/types.js';
import type { Broker } from './broker.js';
import { dispatch } from './handlers/dispatch.js';
import type { Message } from './message.js';
import { PROTOCOL_MAX_PACKET_SIZE, type ListenerPolicy } from './options.js';
import { PublisherHold } from './flow-control.js';
import { emit } from './events.js';
import type { ConnectionSlots, SlotVerdict } from './limits.js';
import { keepaliveWindowMs, missedDeadline } from './keepalive.js';
import { BYTES_PER_TURN, HOLD_AUTH, HOLD_CLOSED, HOLD_FLOW, HOLD_OUTBOUND, HOLD_OVERLOAD, HOLD_RETAINED, HOLD_TURN, inputHoldBytes, MAX_CONNECT_BYTES, PACKETS_PER_TURN } from './input-budget.js';
import { CLOCK_ORIGIN, fromOrigin, sinceOrigin } from './clock.js';
import { Outbox } from './outbox.js';
import { Queue } from './queue.js';
import { RareFields, type RareState } from './connection-rare.js';
import { bytesToFit, publishBytesFor } from './client-bytes.js';
import type { Session } from './session.js';
import type { WireCache } from './wire-cache.js';
import { parseSharedFilter } from '../topic/validate.js';

export interface ConnectionInfo {
  readonly remoteAddress?: string | undefined;
  /** Name of the listener it arrived on, for logs. */
  readonly listener?: string | undefined;
  /** The listener's own settings; each overrides the broker-wide option. */
  readonly policy?: ListenerPolicy | undefined;
  /** The listener's max_connections count (limits.ts); none = unlimited. */
  readonly slots?: ConnectionSlots | undefined;
}

const CONNECTION = Symbol('moat.connection');

export { BYTES_PER_TURN, INPUT_HOLD_BYTES, MAX_CONNECT_BYTES, PACKETS_PER_TURN } from './input-budget.js';

/** A connected client silent this long gives up its parser and outbox until it speaks again (#releaseIdle). */
export const IDLE_RELEASE_MS = 1000;

/**
 * The peer's address of a stream that knows it. net.Socket keeps what remoteAddress read (an object
 * of address, family and port, 56 bytes) for the socket's life; the connection keeps the address
 * and the cache goes. The property stays (no change to the socket's shape): should anything else
 * ask, Node reads it again from the handle.
 */
function peerAddress(stream: Duplex): string | undefined {
  if (!(stream instanceof Socket)) return (stream as { remoteAddress?: string }).remoteAddress;
  const address = stream.remoteAddress;
  (stream as { _peername?: unknown })._peername = undefined;
  return address;
}

type TaggedStream = Duplex & { [CONNECTION]?: Connection };

/** 'admitting': CONNECT arrived and is being decided off the event loop (a password check, loading its session from a durable store); its input waits. */
export type ConnectionState = 'new' | 'admitting' | 'connected' | 'closing' | 'closed';


/** net.Socket's own 'end' listener, the same function on every socket (learnt from the first one). */
let socketEndListener: ((this: Duplex) => void) | undefined;

/**
 * Adds `first` to run before the stream's existing 'end' listeners. A net.Socket has exactly one,
 * its own; prepending would turn its listener slot into an array, 64 bytes more per connection
 * (19,000 idle clients: 1.2 MB). So on a socket whose one listener is net.Socket's, that listener
 * is replaced by `firstThenSocketEnd` (shared: `first`, then it): the same order, one function.
 * Anything else (a WebSocket stream, a test's duplex) gets a plain prepend.
 */
function listenToEndFirst(stream: Duplex, first: (this: Duplex) => void, firstThenSocketEnd: (this: Duplex) => void): void {
  if (stream instanceof Socket && stream.listenerCount('end') === 1) {
    const theirs = stream.listeners('end')[0] as (this: Duplex) => void;
    socketEndListener ??= theirs;
    if (theirs === socketEndListener) {
      stream.removeListener('end', theirs);
      stream.on('end', firstThenSocketEnd);
      return;
    }
  }
  stream.prependListener('end', first);
}
export class Connection extends RareFields implements ParserHandler {
  readonly broker: Broker;
  readonly stream: Duplex;
  readonly info: ConnectionInfo;
  /** The peer's address: given by the transport, or read once from the socket (peerAddress). */
  readonly remoteAddress: string | undefined;
  /** The parser, made again on the next bytes after an idle connection released it (#releaseIdle). */
  #parser: Parser | undefined;
  state: ConnectionState = 'new';
  session: Session | undefined;
  clientId = '';
  /** The user name the client logged in with (or its certificate gave); undefined = anonymous. */
  username: string | undefined;
  /** The password-file entry the login verified against; undefined when no password was checked. */
  loginHash: PasswordHash | undefined;
  protocolVersion: ProtocolVersion = 4;
  /** Keep alive enforced at 1.5 times the negotiated value [MQTT-3.1.2-24], ms; 0 = off. */
  keepaliveMs = 0;
  /** lastActivity and openedAt, ms since CLOCK_ORIGIN (clock.ts): small integers, where Date.now() values would be boxed. */
  #lastActivity = sinceOrigin(Date.now());
  readonly #openedAt = this.#lastActivity;
  /** Outgoing QoS 1/2 window: a v5 client's Receive Maximum; max_inflight_messages for 3.1.1. */
  sendWindow = 65535;
  /** Largest packet the client accepts (v5 Maximum Packet Size). */
  clientMaxPacketSize = PROTOCOL_MAX_PACKET_SIZE;
  /** PUBLISH packets this connection received and was sent (the admin API's busiest clients). */
  messagesIn = 0;
  messagesOut = 0;
  /** The outbox, likewise released while idle and made again on the next write. */
  #outbox: Outbox | undefined;
  /** HOLD_* bits: while any is set the stream is paused and the parser keeps what it has not parsed. */
  #holds = 0;
  /** The broker turn the budget below belongs to. */
  #turn = -1;
  #turnPackets = 0;
  #turnBytes = 0;

  constructor(broker: Broker, stream: Duplex, info: ConnectionInfo) {
    super();
    this.broker = broker;
    this.stream = stream;
    this.info = info;
    this.remoteAddress = info.remoteAddress ?? peerAddress(stream);
    this.#outbox = new Outbox(stream);
    // Until CONNECT is in, only a CONNECT-sized packet is accepted (see MAX_CONNECT_BYTES).
    this.#parser = new Parser(this, { side: 'server', maxPacketSize: Math.min(broker.options.maxPacketSize, MAX_CONNECT_BYTES) });
    // Shared listeners that find their connection through a symbol on the stream: four closures
    // per connection add up at 10,000s of idle clients.
    (stream as TaggedStream)[CONNECTION] = this;
    stream.on('data', Connection.#dataListener);
    stream.on('error', Connection.#errorListener);
    stream.on('close', Connection.#closeListener);
    // First in line: what the parser holds is handled before net.Socket ends its side in reply.
    listenToEndFirst(stream, Connection.#endListener, Connection.#endThenSocketEnd);
  }

  static #dataListener(this: TaggedStream, chunk: Buffer): void {
    const connection = this[CONNECTION];
    if (connection !== undefined) connection.#onData(chunk);
  }

  static #errorListener(this: TaggedStream, error: Error): void {
    const connection = this[CONNECTION];
    if (connection !== undefined) connection.#onStreamError(error);
  }

  static #closeListener(this: TaggedStream): void {
    const connection = this[CONNECTION];
    if (connection !== undefined) connection.#onClose();
  }

  static #endListener(this: TaggedStream): void {
    const connection = this[CONNECTION];
    if (connection !== undefined) connection.#onEnd();
  }

  static #endThenSocketEnd(this: TaggedStream): void {
    Connection.#endListener.call(this);
    socketEndListener?.call(this);
  }

  /** When the last complete control packet arrived (Date.now() ms): a byte of an unfinished one does not count [MQTT-3.1.2-24]. */
  get lastActivity(): number {
    return fromOrigin(this.#lastActivity);
  }

  /** When the socket arrived (Date.now() ms). */
  get openedAt(): number {
    return fromOrigin(this.#openedAt);
  }

  // ---- per-listener settings: read from the listener's policy, not copied into every connection --

  /** Incoming aliases this connection may use: the listener's max_topic_alias. */
  get maxTopicAlias(): number {
    return this.info.policy?.maxTopicAlias ?? this.broker.options.maxTopicAlias;
  }

  /** The listener's max_qos. */
  get maxQos(): QoS {
    return this.info.policy?.maxQos ?? 2;
  }

  /** The listener's mount_point, '' for none: topics are stored and routed with it, sent without it. */
  get mountPoint(): string {
    return this.info.policy?.mountPoint ?? '';
  }

  // ---- state released while idle, and rarely used state ------------------------------------

  get parser(): Parser {
    // Made again only after #releaseIdle, which happens once CONNECT is in: the full packet size limit and the client's version.
    return (this.#parser ??= new Parser(this, { side: 'server', maxPacketSize: this.broker.options.maxPacketSize, protocolVersion: this.protocolVersion }));
  }

  /** Bytes waiting for the end of the turn plus those the socket has not sent yet (a plain method: this is per delivery). */
  bufferedBytes(): number {
    const outbox = this.#outbox;
    return outbox === undefined ? this.stream.writableLength : outbox.bufferedBytes;
  }

  /**
   * A connected client silent for IDLE_RELEASE_MS, with its input flowing, gives up its parser and
   * outbox when both are at rest: neither holds anything then but its settings, and 10,000s of idle
   * devices would otherwise keep ~250 bytes each of them for nothing. The next bytes or write make them again.
   */
  #releaseIdle(now: number): void {
    if (this.state !== 'connected' || this.#holds !== 0 || now - CLOCK_ORIGIN - this.#lastActivity < IDLE_RELEASE_MS) return;
    if (this.#parser?.atRest === true) this.#parser = undefined;
    if (this.#outbox?.idle === true && this.stream.writableLength === 0) this.#outbox = undefined;
  }

  get connected(): boolean {
    return this.state === 'connected';
  }

  /** Closing or closed: nothing more is read or sent. */
  get ended(): boolean {
    return this.state === 'closing' || this.state === 'closed';
  }

  // ---- input -------------------------------------------------------------------------------

  #onData(chunk: Buffer): void {
    if (this.state === 'closing' || this.state === 'closed') return;
    this.broker.counters.bytesReceived += chunk.length;
    this.broker.load?.count(this, chunk.length);
    this.parser.push(chunk);
  }

  onPacket(packet: Packet): void {
    if (this.state === 'closing' || this.state === 'closed') return;
    const broker = this.broker;
    const turn = broker.turn;
    if (this.#turn !== turn) {
      this.#turn = turn;
      this.#turnPackets = 0;
      this.#turnBytes = 0;
    }
    this.#lastActivity = sinceOrigin(broker.turnStartedAt);
    broker.counters.packetsReceived++;
    if (packet.type === 'connect') this.parser.maxPacketSize = broker.options.maxPacketSize;
    this.#dispatch(packet);
    if (this.ended || this.rare?.draining === true) return;
    if (++this.#turnPackets >= PACKETS_PER_TURN || (this.#turnBytes += this.parser.packetSize) >= BYTES_PER_TURN) {
      this.#hold(HOLD_TURN);
      setImmediate(Connection.#nextTurn, this);
    }
    if (this.bufferedBytes() > inputHoldBytes(broker) && (this.#holds & HOLD_OUTBOUND) === 0) this.#holdUntilDrained();
  }

  static #nextTurn(connection: Connection): void {
    connection.#release(HOLD_TURN);
  }

  /** Stop reading a client that does not read: its replies would pile up in memory without bound. */
  #holdUntilDrained(): void {
    this.#hold(HOLD_OUTBOUND);
    this.#whenDrained(Connection.#drainedOutbound);
  }

  static #drainedOutbound(connection: Connection): void {
    if (connection.bufferedBytes() > inputHoldBytes(connection.broker)) connection.#whenDrained(Connection.#drainedOutbound);
    else connection.#release(HOLD_OUTBOUND);
  }

  /** Calls `then` once the socket has taken what is buffered (or next turn, when nothing waits on 'drain'). */
  #whenDrained(then: (connection: Connection) => void): void {
    if (this.ended) return;
    if (this.stream.writableNeedDrain) this.stream.once('drain', () => then(this));
    else setImmediate(then, this);
  }

  #hold(reason: number): void {
    if (this.#holds === 0) {
      this.parser.pause();
      this.stream.pause();
    }
    this.#holds |= reason;
  }

  #release(reason: number): void {
    if ((this.#holds & reason) === 0) return;
    this.#holds &= ~reason;
    if (this.#holds !== 0) return;
    // What the parser held is handled first; it may hold input again (budget, back-pressure).
    this.parser.resume();
    if (this.#holds === 0) this.stream.resume();
  }

  /** Input held for our own reasons (a turn's budget, flow control), not because the client is slow: keep alive waits. */
  get heldByUs(): boolean {
    return (this.#holds & (HOLD_TURN | HOLD_FLOW | HOLD_OVERLOAD)) !== 0;
  }

  /** Overload protection: read nothing more from this client until releaseOverload (overload.ts). */
  holdForOverload(): void {
    if (!this.ended) this.#hold(HOLD_OVERLOAD);
  }

  releaseOverload(): void {
    this.#release(HOLD_OVERLOAD);
  }

  /**
   * The message just published went to a subscriber that is falling behind: read no more from this
   * client until that subscriber catches up (bounded; flow-control.ts). Never on its own session,
   * whose acknowledgements would then wait behind the hold.
   */
  holdForSubscriber(subscriber: Session): void {
    if (!this.broker.options.publisherFlowControl || this.ended || subscriber === this.session) return;
    const rare = this.rareState();
    const hold = (rare.flowHold ??= new PublisherHold(
      () => this.#hold(HOLD_FLOW),
      () => this.#release(HOLD_FLOW),
    ));
    subscriber.holdPublisher(hold);
  }

  /** The bytes the packet being handled arrived in, when it can be forwarded as they are. */
  get receivedBytes(): Buffer | undefined {
    return this.parser.currentPacketBytes;
  }

  /** While CONNECT is checked: nothing more is parsed; what arrived waits, unparsed, in order. */
  pauseInput(): void {
    this.#hold(HOLD_AUTH);
  }

  /** CONNECT is decided: parse what waited, then read on. */
  resumeInput(): void {
    if (this.state === 'connected') this.#release(HOLD_AUTH);
  }

  #dispatch(packet: Packet): void {
    try {
      dispatch(this, packet);
    } catch (error) {
      if (error instanceof ProtocolError) {
        this.protocolViolation(error);
      } else {
        // A bug of ours must cost only this connection, never the broker.
        emit(this.broker, 'handlerError', { clientId: this.clientId, packet: packet.type, err: error });
        this.close(ReasonCode.ImplementationSpecificError, 'internal error');
      }
    }
  }

  onError(error: ProtocolError): void {
    this.protocolViolation(error);
  }

  /** Logs the violation and closes, with the reason code the protocol has for it. */
  protocolViolation(error: ProtocolError): void {
    if (this.state === 'closing' || this.state === 'closed') return;
    emit(this.broker, 'protocolError', { clientId: this.clientId || undefined, address: this.remoteAddress, reasonCode: error.reasonCode, packet: error.packetType, detail: error.message });
    const reasonCode = error.reasonCode ?? ReasonCode.ProtocolError;
    if (this.state === 'new' || this.state === 'admitting') {
      // Before CONNECT is accepted there is no DISCONNECT; an unsupported level gets CONNACK 0x84 / return code 1.
      if (reasonCode === ReasonCode.UnsupportedProtocolVersion) {
        this.write(encode({ type: 'connack', sessionPresent: false, reasonCode: this.protocolVersion === 5 ? ReasonCode.UnsupportedProtocolVersion : ConnectReturnCode.UnacceptableProtocolVersion }, this.protocolVersion === 5 ? 5 : 4));
      }
      this.close(undefined, error.message);
      return;
    }
    this.close(reasonCode, error.message);
  }

  // ---- output ------------------------------------------------------------------------------

  /** Queues bytes for the socket; everything written in one event-loop turn leaves in one write. */
  write(buffer: Buffer): void {
    // A peer that vanished mid-turn: writing would only build an error per packet.
    if (this.state === 'closed' || this.stream.destroyed || this.stream.writableEnded) return;
    const counters = this.broker.counters;
    counters.packetsSent++;
    counters.bytesSent += buffer.length;
    let outbox = this.#outbox;
    if (outbox === undefined) outbox = this.#outbox = new Outbox(this.stream);
    outbox.write(buffer);
  }

  /** More than maxSocketBufferBytes wait for this client: it reads slower than it is sent to. */
  get backedUp(): boolean {
    return this.bufferedBytes() > this.broker.options.maxSocketBufferBytes;
  }

  /**
   * A QoS 0 retained message for a new subscription [MQTT-3.3.1-8]. A SUBSCRIBE may match the whole
   * retained store, so these are written only while the socket keeps up, and the client's input is
   * held until all are out: re-subscribing in a loop cannot pile copies up in memory.
   */
  sendRetained(message: Message, subscriptionIdentifiers: number[] | undefined): void {
    if (this.rare?.retainedBacklog === undefined && !this.backedUp) {
      this.sendPublish(message, 0, true, subscriptionIdentifiers, 0, false, undefined);
      return;
    }
    (this.rareState().retainedBacklog ??= new Queue()).push({ message, subscriptionIdentifiers });
    if ((this.#holds & HOLD_RETAINED) === 0) {
      this.#hold(HOLD_RETAINED);
      this.#whenDrained(Connection.#pumpRetained);
    }
  }

  static #pumpRetained(connection: Connection): void {
    const backlog = connection.rare?.retainedBacklog;
    if (backlog === undefined) return;
    for (let next = backlog.shift(); next !== undefined; next = backlog.shift()) {
      connection.sendPublish(next.message, 0, true, next.subscriptionIdentifiers, 0, false, undefined);
      if (connection.backedUp && backlog.length > 0) {
        connection.#whenDrained(Connection.#pumpRetained);
        return;
      }
    }
    (connection.rare as RareState).retainedBacklog = undefined;
    connection.#release(HOLD_RETAINED);
  }

  /**
   * Writes a packet other than PUBLISH (sendPublish drops those). Returns false, having written
   * nothing, when it is larger than the client's Maximum Packet Size even without its optional parts.
   */
  writePacket(packet: Packet): boolean {
    const bytes = this.encodeToFit(packet);
    if (bytes === undefined) {
      emit(this.broker, 'packetTooLargeForClient', { clientId: this.clientId || undefined, packet: packet.type, maximumPacketSize: this.clientMaxPacketSize });
      return false;
    }
    this.write(bytes);
    return true;
  }

  /** The packet's bytes within the client's Maximum Packet Size, undefined when it cannot fit (client-bytes.ts). */
  encodeToFit(packet: Packet): Buffer | undefined {
    return bytesToFit(this, packet);
  }

  sendAck(type: AckPacket['type'], packetId: number, reasonCode: number): void {
    const packet: AckPacket = { type, packetId };
    if (reasonCode !== ReasonCode.Success && this.protocolVersion === 5) packet.reasonCode = reasonCode;
    this.writePacket(packet);
  }

  /**
   * Encodes and writes one PUBLISH. Returns false when it was dropped: expired, or larger than the
   * client accepts [MQTT-3.1.2-25].
   */
  sendPublish(message: Message, qos: QoS, retain: boolean, subscriptionIdentifiers: number[] | undefined, packetId: number, dup: boolean, wire: WireCache | undefined): boolean {
    const buffer = publishBytesFor(this, message, qos, retain, subscriptionIdentifiers, packetId, dup, wire);
    if (buffer === undefined) return false;
    this.write(buffer);
    const counters = this.broker.counters;
    counters.messagesSent++;
    counters.messagesSentByQos[qos]++;
    counters.publishBytesSent += message.payload.length;
    this.messagesOut++;
    return true;
  }

  /** A topic as this client uses it: without the listener's mount point. */
  clientTopic(topic: string): string {
    const mount = this.mountPoint;
    return mount !== '' && topic.startsWith(mount) ? topic.slice(mount.length) : topic;
  }

  /** A topic name as the broker routes it: the mount point in front. */
  brokerTopic(topic: string): string {
    return this.mountPoint + topic;
  }

  /** A filter as the broker stores it: the mount point in front (after $share/group/ for a shared one). */
  brokerFilter(filter: string): string {
    const mount = this.mountPoint;
    if (mount === '') return filter;
    const shared = parseSharedFilter(filter);
    return shared === undefined ? mount + filter : `$share/${shared.group}/${mount}${shared.filter}`;
  }

  // ---- deadlines (keepalive.ts: the broker's sweep calls checkDeadlines for every connection) --

  startKeepalive(keepaliveSeconds: number): void {
    this.keepaliveMs = keepaliveWindowMs(keepaliveSeconds);
  }

  /** Closes the connection when CONNECT is overdue or keep alive has lapsed [MQTT-3.1.2-24]. */
  checkDeadlines(now: number): void {
    const missed = missedDeadline(this, now, this.broker.options.connectTimeoutMs);
    if (missed === 'connect') {
      emit(this.broker, 'connectTimeout', { address: this.remoteAddress });
      this.close(undefined, 'connect timeout');
    } else if (missed === 'keepalive') {
      emit(this.broker, 'keepaliveTimeout', { clientId: this.clientId, keepaliveMs: this.keepaliveMs });
      this.close(ReasonCode.KeepAliveTimeout, 'keep alive timeout');
    } else {
      this.#releaseIdle(now);
    }
  }

  // ---- closing -----------------------------------------------------------------------------

  /**
   * The broker closes the connection. With a reason code and a v5 client past CONNECT, a DISCONNECT
   * carrying it goes first [MQTT-4.13.2]. Nothing more is read: a condemned peer streaming junk
   * costs no memory while the close completes. The will is not suppressed here: only a client's
   * DISCONNECT does that.
   */
  close(reasonCode: number | undefined, reason: string): void {
    if (this.state === 'closing' || this.state === 'closed') return;
    this.#hold(HOLD_CLOSED);
    this.#finish(reasonCode, reason);
  }

  /**
   * The client said DISCONNECT: finish as close() does, but keep reading (and ignoring) input, so
   * its FIN is seen and the socket freed at once instead of lingering until the destroy timer.
   */
  closeAfterDisconnect(): void {
    if (this.state === 'closing' || this.state === 'closed') return;
    this.#finish(undefined, 'client disconnected');
  }

  #finish(reasonCode: number | undefined, reason: string): void {
    const wasConnected = this.state === 'connected';
    this.state = 'closing';
    this.#parser?.discard();
    if (this.rare !== undefined) this.rare.retainedBacklog = undefined;
    if (reasonCode !== undefined && wasConnected && this.protocolVersion === 5) {
      const packet: Packet = { type: 'disconnect', reasonCode };
      if (reason !== '' && reasonCode !== ReasonCode.NormalDisconnection) packet.properties = { reasonString: reason };
      const bytes = this.encodeToFit(packet);
      if (bytes !== undefined) this.write(bytes);
    }
    this.#outbox?.flush();
    this.stream.end();
    // The session is offline from now: messages routed meanwhile queue for the next connection.
    this.broker.connectionClosed(this);
    // A peer that never reads would keep the socket half-open; do not wait on it for long.
    const timer = setTimeout(Connection.#destroy, 1000, this);
    timer.unref();
    this.rareState().destroyTimer = timer;
  }

  static #destroy(connection: Connection): void {
    connection.stream.destroy();
  }

  #onEnd(): void {
    this.#drainHeld();
    // The peer half-closed: MQTT has no half-open use, so finish our side too (net.Socket does it
    // itself when allowHalfOpen is false; other duplexes may not).
    if (this.state !== 'closed' && this.stream.allowHalfOpen) this.stream.end();
  }

  /**
   * The peer has stopped sending: packets the parser still holds (a turn's budget, back-pressure)
   * were sent before that, so they are handled now, whole, in order. A PUBLISH followed by
   * DISCONNECT and FIN must be routed, and the DISCONNECT must still suppress the will.
   */
  #drainHeld(): void {
    if (this.ended || (this.#holds & (HOLD_AUTH | HOLD_CLOSED)) !== 0 || this.#parser === undefined || this.#parser.heldBytes === 0) return;
    const rare = this.rareState();
    rare.draining = true;
    try {
      this.#holds = 0;
      this.parser.resume();
    } finally {
      rare.draining = false;
    }
  }

  #onStreamError(error: Error): void {
    emit(this.broker, 'socketError', { clientId: this.clientId || undefined, address: this.remoteAddress, err: error.message });
    this.stream.destroy();
  }

  #onClose(): void {
    if (this.state === 'closed') return;
    this.#drainHeld();
    this.state = 'closed';
    const timer = this.rare?.destroyTimer;
    if (timer !== undefined) clearTimeout(timer);
    this.broker.connectionClosed(this);
  }
}
