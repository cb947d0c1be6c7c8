// Where the bytes go: a URL becomes a Duplex. Each scheme is one function returning a stream that
// buffers writes until it is connected and emits 'error'/'close' like a socket, so the client does
// not care which transport it runs on: mqtt:// (TCP), mqtts:// (transport-tls.ts), ws:// and wss://
// (transport-ws.ts). A TLS transport reports its session so a reconnect can resume it.
import { connect as netConnect, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { MoatError } from '../codec/errors.js';
import type { ResolvedTlsOptions, ResolvedWsOptions } from './options.js';
import { openTls } from './transport-tls.js';
import { openWebSocket } from './transport-ws.js';

export interface BrokerAddress {
  /** The URL as given, for messages. */
  readonly url: string;
  readonly scheme: string;
  readonly host: string;
  readonly port: number;
  /** Path and query of the URL ('' when none); ws:// and wss:// use it instead of `ws.path` when set. */
  readonly path: string;
}

/** What a transport needs from the client options (ResolvedClientOptions fits). */
export interface TransportOptions {
  readonly tls: ResolvedTlsOptions;
  readonly ws: ResolvedWsOptions;
}

/**
 * How far the connection got, for the connect-timeout message: 'tcp' (TCP connect), 'tls' (TCP up,
 * TLS handshake running), 'websocket' (TCP/TLS/HTTP upgrade running), 'open' (bytes flow; the
 * client now waits for CONNACK).
 */
export type TransportStage = 'tcp' | 'tls' | 'websocket' | 'open';

export interface Transport {
  readonly stream: Duplex;
  /** True once the stream can carry bytes (TCP connected, TLS/WebSocket handshake done). */
  readonly connected: () => boolean;
  /** Which step the connection is at; tells the timeout message which step hung. */
  readonly stage: () => TransportStage;
  /** The latest TLS session (a TLS 1.3 ticket or TLS 1.2 session); pass it to openTransport to resume. */
  readonly session: () => Buffer | undefined;
  /** Calls `listener` with each TLS session the server hands out (TLS 1.3 sends tickets after the handshake). */
  readonly onSession: (listener: (session: Buffer) => void) => void;
  /** True once a TLS handshake resumed the session passed to openTransport (no full handshake). */
  readonly sessionReused: () => boolean;
}

const DEFAULT_PORTS: Readonly<Record<string, number>> = { mqtt: 1883, mqtts: 8883, ws: 80, wss: 443 };

type Open = (address: BrokerAddress, options: TransportOptions, session: Buffer | undefined) => Transport;

function openTcp(address: BrokerAddress): Transport {
  const socket: Socket = netConnect({ host: address.host, port: address.port });
  socket.setNoDelay(true);
  return {
    stream: socket,
    connected: () => !socket.connecting,
    stage: () => (socket.connecting ? 'tcp' : 'open'),
    session: () => undefined,
    onSession: () => undefined,
    sessionReused: () => false,
  };
}

const TRANSPORTS: Readonly<Record<string, Open>> = { mqtt: openTcp, mqtts: openTls, ws: openWebSocket, wss: openWebSocket };

/** Parses `mqtt://host:port` (or mqtts://, ws://, wss://); throws MoatError MOAT_ERR_INVALID_URL or MOAT_ERR_UNSUPPORTED_SCHEME. */
export function parseBrokerUrl(url: string): BrokerAddress {
  if (typeof url !== 'string') throw new MoatError('MOAT_ERR_INVALID_URL', `The broker URL must be a string such as "mqtt://127.0.0.1:1883", got ${String(url)}.`);
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch (cause) {
    throw new MoatError('MOAT_ERR_INVALID_URL', `"${url}" is not a URL; write it as mqtt://host:port, e.g. mqtt://127.0.0.1:1883.`, { cause });
  }
  const scheme = parsed.protocol.replace(/:$/, '');
  const defaultPort = DEFAULT_PORTS[scheme];
  if (defaultPort === undefined || TRANSPORTS[scheme] === undefined) {
    throw new MoatError('MOAT_ERR_UNSUPPORTED_SCHEME', `"${scheme}://" is not an MQTT URL scheme; use mqtt://, mqtts://, ws:// or wss:// followed by host:port.`);
  }
  // new URL keeps IPv6 hosts bracketed; net.connect wants them bare.
  const host = parsed.hostname.replace(/^\[(.*)\]$/, '$1');
  if (host === '') throw new MoatError('MOAT_ERR_INVALID_URL', `"${url}" has no host; write it as ${scheme}://host:port.`);
  const port = parsed.port === '' ? defaultPort : Number(parsed.port);
  const path = parsed.pathname === '/' && parsed.search === '' ? '' : `${parsed.pathname}${parsed.search}`;
  return { url, scheme, host, port, path };
}

/**
 * Opens the connection for `address`. `session` (from a previous Transport's `session()`) asks a
 * TLS server to resume that session, skipping the full handshake; other schemes ignore it.
 */
export function openTransport(address: BrokerAddress, options: TransportOptions, session?: Buffer): Transport {
  const open = TRANSPORTS[address.scheme];
  if (open === undefined) throw new MoatError('MOAT_ERR_UNSUPPORTED_SCHEME', `${address.scheme}:// is not supported by the moat client.`);
  return open(address, options, session);
}
