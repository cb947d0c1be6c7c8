// WebSocket (ws://) and WebSocket-over-TLS (wss://) listeners: MQTT over WebSocket with the `ws`
// package, binary frames, no compression. Like mosquitto, any path is accepted; /mqtt is the
// canonical one (what moat's and most clients use by default). The client must offer the "mqtt"
// subprotocol [MQTT-6.0.0-3] (or "mqttv3.1", which old MQTT 3.1 clients send, as mosquitto does);
// an upgrade without one is refused with 400, a plain HTTP request gets 426.
// Each WebSocket becomes a Duplex (createWebSocketStream) handed to the engine: MQTT packets may span
// frames and a frame may hold several packets, the engine's parser does not care.
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { Duplex } from 'node:stream';
import type { Server as TlsServer } from 'node:tls';
import { createWebSocketStream, WebSocketServer } from 'ws';
import type { Broker } from '../broker/broker.js';
import { emit } from '../broker/events.js';
import type { ListenerTlsConfig } from '../config/types.js';
import { bind, connectionSlots, type ListenerOptions, type Listening } from './listen.js';
import { prepareTlsServer } from './tls-context.js';

export interface WebSocketListenerOptions extends ListenerOptions {
  /** Present: wss:// (HTTPS upgrade); absent: ws://. */
  tls?: ListenerTlsConfig | undefined;
  /** wss only: a TLS handshake not finished in this time is dropped (`tls_handshake_timeout`). Default 30 s. */
  handshakeTimeoutMs?: number;
  /** Largest HTTP request header of an upgrade, bytes (`websockets_headers_size`); larger ones get 431. 0/absent = Node's default (16 KB). */
  maxHeaderSize?: number;
}

/** The subprotocols accepted, best first. */
export const MQTT_SUBPROTOCOLS = ['mqtt', 'mqttv3.1'] as const;

/** The canonical path (documentation and clients' default); any path is accepted. */
export const MQTT_WEBSOCKET_PATH = '/mqtt';

/** Picks the subprotocol from a Sec-WebSocket-Protocol header: "mqtt", else "mqttv3.1", else undefined. */
export function pickSubprotocol(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  const offered = new Set(header.split(',').map((p) => p.trim()));
  return MQTT_SUBPROTOCOLS.find((p) => offered.has(p));
}

export async function listenWebSocket(broker: Broker, options: WebSocketListenerOptions): Promise<Listening> {
  const secure = options.tls !== undefined;
  const listener = `${secure ? 'wss' : 'ws'}:${options.port}`;
  // Counted once the upgrade is done: HTTP requests and refused upgrades take no slot.
  const slots = connectionSlots(options, listener);
  const noDelay = options.noDelay ?? true;
  const headers = options.maxHeaderSize ? { maxHeaderSize: options.maxHeaderSize } : {};
  const tls = options.tls === undefined ? undefined : prepareTlsServer(options.tls, options.handshakeTimeoutMs);
  const server = tls !== undefined ? createHttpsServer({ ...tls.options, noDelay, ...headers }, notWebSocket) : createHttpServer({ noDelay, ...headers }, notWebSocket);
  const reloadTls = tls?.attach(server as TlsServer, broker);
  const wss = new WebSocketServer({
    noServer: true,
    clientTracking: false, // the engine tracks connections; a second set per listener is waste at 10,000s of clients
    perMessageDeflate: false,
    handleProtocols: (offered: Set<string>) => MQTT_SUBPROTOCOLS.find((p) => offered.has(p)) ?? false,
  });
  // With a wsClientError listener, ws leaves the socket to us: answer and close it, or it stays open.
  wss.on('wsClientError', (error: Error, socket: Duplex, request: IncomingMessage) => {
    emit(broker, 'websocketError', { listener, address: request.socket.remoteAddress, err: error.message });
    refuse(socket, 400, 'Bad Request', `moat: ${error.message}\n`);
  });

  server.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', destroyOnError); // a reset before the handshake is done must not crash the process
    if (pickSubprotocol(request.headers['sec-websocket-protocol']) === undefined) {
      emit(broker, 'websocketRefused', { listener, address: request.socket.remoteAddress, subprotocol: request.headers['sec-websocket-protocol'] });
      refuse(socket, 400, 'Bad Request', 'moat: MQTT over WebSocket needs the subprotocol "mqtt" (Sec-WebSocket-Protocol: mqtt)\n');
      return;
    }
    wss.handleUpgrade(request, socket, head, (ws) => {
      ws.binaryType = 'nodebuffer';
      // allowHalfOpen (the default): the engine ends its side when the client's close frame ends the stream.
      const stream = createWebSocketStream(ws);
      broker.handle(stream, { listener, policy: options.policy, remoteAddress: request.socket.remoteAddress, slots });
    });
  });

  const listening = await bind(server, broker, options);
  return reloadTls === undefined ? listening : { ...listening, reloadTls };
}

function destroyOnError(this: Duplex): void {
  this.destroy();
}

/** A plain HTTP request on a WebSocket listener. */
function notWebSocket(_request: IncomingMessage, response: ServerResponse): void {
  const body = `moat: this is an MQTT-over-WebSocket listener; connect a WebSocket client to ${MQTT_WEBSOCKET_PATH} with subprotocol "mqtt"\n`;
  response.writeHead(426, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': Buffer.byteLength(body), Upgrade: 'websocket', Connection: 'close' });
  response.end(body);
}

function refuse(socket: Duplex, status: number, reason: string, body: string): void {
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  socket.end(`HTTP/1.1 ${status} ${reason}\r\nConnection: close\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
}
