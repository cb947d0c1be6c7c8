// The client's public callback types and its per-connection record, apart from client.ts so
// that file keeps to the client's behaviour.
import type { Duplex } from 'node:stream';
import type { Parser } from '../codec/parser.js';
import type { ConnackPacket } from '../codec/types.js';
import type { MqttClient } from './client.js';
import type { Keepalive } from './keepalive.js';
import type { ReceivedMessage } from './message-stream.js';
import type { BrokerAddress, Transport } from './transport.js';

/**
 * Why the connection ended. `reasonCode` is the DISCONNECT (or refused CONNACK) reason code, when
 * there was one; `reconnecting` is true when the client will reconnect by itself.
 */
export interface DisconnectReason {
  reasonCode?: number;
  message: string;
  reconnecting?: boolean;
}

export type MessageHandler = (message: ReceivedMessage) => void;
export type DisconnectHandler = (reason: DisconnectReason) => void;
/** Gets the client too, so it can subscribe from the handler (paho's on_connect pattern). */
export type ConnectHandler = (connack: ConnackPacket, client: MqttClient) => void;

/**
 * The client gave up on one broker URL of its list and tries the next at once: `from` failed with
 * `error` (refused, timed out, or a CONNACK refusal such as 0x88 Server unavailable), `to` is next.
 */
export interface FailoverEvent {
  readonly from: string;
  readonly to: string;
  readonly error: Error;
}

export type FailoverHandler = (event: FailoverEvent) => void;

/** One transport with its parser and keep alive; a reconnect makes a new one. */
export interface Connection {
  /** The broker URL this connection goes to. */
  readonly address: BrokerAddress;
  readonly transport: Transport;
  readonly stream: Duplex;
  parser: Parser | undefined;
  keepalive: Keepalive | undefined;
  corked: boolean;
  /** Set until CONNACK (or failure). */
  handshake: { resolve: () => void; reject: (error: Error) => void } | undefined;
  /** The refused CONNACK, when that is why the handshake failed. */
  refusal: ConnackPacket | undefined;
}
