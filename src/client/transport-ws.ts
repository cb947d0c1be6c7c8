// ws:// and wss://: MQTT over WebSocket (subprotocol "mqtt", binary frames) with the `ws` package,
// wrapped as a Duplex by createWebSocketStream, which holds writes until the socket is open. The
// path is the URL's, or `ws.path` (default /mqtt) when the URL has none. wss:// verifies the server
// like mqtts:// and resumes a TLS session the same way: we hand ws the function that opens the
// socket, so we see the TCP and TLS steps (for the timeout message) and the TLS session tickets.
import { connect as netConnect, type NetConnectOpts, type Socket } from 'node:net';
import { connect as tlsConnect, type ConnectionOptions } from 'node:tls';
import { createWebSocketStream, WebSocket, type ClientOptions as WsClientOptions } from 'ws';
import { MoatError } from '../codec/errors.js';
import { sessionTracker, tlsConnectionOptions } from './transport-tls.js';
import type { BrokerAddress, Transport, TransportOptions, TransportStage } from './transport.js';

export function openWebSocket(address: BrokerAddress, options: TransportOptions, session: Buffer | undefined): Transport {
  const secure = address.scheme === 'wss';
  const host = address.host.includes(':') ? `[${address.host}]` : address.host;
  const url = `${address.scheme}://${host}:${address.port}${address.path === '' ? options.ws.path : address.path}`;
  const sessions = sessionTracker();
  let socket: Socket | undefined;
  let tlsDone = false;
  let reused = false;
  // ws calls this with the http request options (host, port, and `path` = the URL path, which
  // net.connect would take for a Unix socket path: leave it out).
  const open = (requestOptions: NetConnectOpts & ConnectionOptions): Socket => {
    const { host: h, port } = requestOptions as { host: string; port: number };
    if (!secure) {
      socket = netConnect({ host: h, port });
      socket.setNoDelay(true);
      return socket;
    }
    const tlsSocket = tlsConnect({ host: h, port, ...tlsConnectionOptions(address.host, options.tls, session) });
    tlsSocket.setNoDelay(true);
    tlsSocket.once('secureConnect', () => {
      tlsDone = true;
      reused = tlsSocket.isSessionReused();
    });
    sessions.track(tlsSocket, session);
    socket = tlsSocket;
    return tlsSocket;
  };
  const wsOptions: WsClientOptions = {
    headers: { ...options.ws.headers },
    perMessageDeflate: false,
    // The typings want net.createConnection's overloads; ws only ever calls it with one options object.
    createConnection: open as unknown as NonNullable<WsClientOptions['createConnection']>,
  };
  const ws = new WebSocket(url, 'mqtt', wsOptions);
  const stream = createWebSocketStream(ws);
  ws.once('open', () => {
    if (ws.protocol !== 'mqtt') {
      stream.destroy(new MoatError('MOAT_ERR_WEBSOCKET_SUBPROTOCOL', `the server at ${url} did not accept the WebSocket subprotocol "mqtt" (it answered ${ws.protocol === '' ? 'none' : JSON.stringify(ws.protocol)}); is the path right?`));
    }
  });
  const isOpen = (): boolean => ws.readyState === WebSocket.OPEN;
  const stage = (): TransportStage => {
    if (isOpen()) return 'open';
    if (socket === undefined || socket.connecting) return 'tcp';
    return secure && !tlsDone ? 'tls' : 'websocket';
  };
  return {
    stream,
    connected: isOpen,
    stage,
    session: sessions.latest,
    onSession: sessions.onSession,
    sessionReused: () => reused,
  };
}
