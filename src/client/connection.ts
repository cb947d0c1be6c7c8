// One connection's plumbing: a transport to the broker with a parser on it, its events passed to
// the client, and corked writes. The session state is the client's; nothing here keeps it.
import { MoatError } from '../codec/errors.js';
import type { ProtocolError } from '../codec/errors.js';
import { MAX_PACKET_SIZE, Parser } from '../codec/parser.js';
import type { Packet } from '../codec/types.js';
import type { ResolvedClientOptions } from './options.js';
import { openTransport, type BrokerAddress } from './transport.js';
import type { Connection } from './types.js';

/** What a connection tells the client. Only while `current(conn)`: a replaced connection is ignored. */
export interface ConnectionEvents {
  current(conn: Connection): boolean;
  /** A TLS session ticket (mqtts://, wss://), to resume on the next connection. */
  session(session: Buffer): void;
  packet(conn: Connection, packet: Packet): void;
  protocolError(conn: Connection, error: ProtocolError): void;
  streamError(conn: Connection, error: Error): void;
  streamClose(conn: Connection): void;
}

/** Opens a transport to `address` and wires it and its parser to `events`. */
export function openConnection(address: BrokerAddress, options: ResolvedClientOptions, tlsSession: Buffer | undefined, events: ConnectionEvents): Connection {
  const transport = openTransport(address, options, tlsSession);
  const conn: Connection = { address, transport, stream: transport.stream, parser: undefined, keepalive: undefined, corked: false, handshake: undefined, refusal: undefined };
  transport.onSession((session) => events.session(session));
  const maxPacketSize = options.protocolVersion === 5 ? (options.properties?.maximumPacketSize ?? MAX_PACKET_SIZE) : MAX_PACKET_SIZE;
  const parser = new Parser(
    {
      onPacket: (packet) => {
        if (events.current(conn)) events.packet(conn, packet);
      },
      onError: (error) => {
        if (events.current(conn)) events.protocolError(conn, error);
      },
    },
    { side: 'client', protocolVersion: options.protocolVersion, maxPacketSize },
  );
  conn.parser = parser;
  const stream = conn.stream;
  stream.on('data', (chunk: Buffer) => parser.push(chunk));
  stream.on('error', (error: Error) => {
    if (events.current(conn)) events.streamError(conn, error);
  });
  stream.on('end', () => stream.end());
  stream.on('close', () => {
    if (events.current(conn)) events.streamClose(conn);
  });
  return conn;
}

/** Writes to `conn` (if it is still open); everything written in one event-loop turn leaves in one writev. */
export function writeCorked(conn: Connection | undefined, buffer: Buffer, written?: (error?: Error | null) => void): void {
  if (conn === undefined || !conn.stream.writable) {
    written?.(new MoatError('MOAT_ERR_CONNECTION_CLOSED', 'the connection is closed'));
    return;
  }
  const stream = conn.stream;
  if (!conn.corked) {
    conn.corked = true;
    stream.cork();
    process.nextTick(() => {
      conn.corked = false;
      stream.uncork();
    });
  }
  if (written === undefined) stream.write(buffer);
  else stream.write(buffer, written);
  conn.keepalive?.wrote();
}
