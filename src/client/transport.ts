// Where the bytes go: a URL becomes a Duplex. Each scheme is one function returning a stream that
// buffers writes until it is connected and emits 'error'/'close' like a socket, so the client does
// not care which transport it runs on. mqtts://, ws:// and wss:// join TRANSPORTS later.
import { connect as netConnect, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { MoatError } from '../codec/errors.js';

export interface BrokerAddress {
  /** The URL as given, for messages. */
  readonly url: string;
  readonly scheme: string;
  readonly host: string;
  readonly port: number;
}

export interface Transport {
  readonly stream: Duplex;
  /** True once the stream can carry bytes (TCP connected); tells the timeout message which step hung. */
  readonly connected: () => boolean;
}

const DEFAULT_PORTS: Readonly<Record<string, number>> = { mqtt: 1883, mqtts: 8883, ws: 80, wss: 443 };

function openTcp(address: BrokerAddress): Transport {
  const socket: Socket = netConnect({ host: address.host, port: address.port });
  socket.setNoDelay(true);
  return { stream: socket, connected: () => !socket.connecting };
}

const TRANSPORTS: Readonly<Record<string, (address: BrokerAddress) => Transport>> = { mqtt: openTcp };

/** Parses `mqtt://host:port`; throws MoatError MOAT_ERR_INVALID_URL or MOAT_ERR_UNSUPPORTED_SCHEME. */
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
  if (defaultPort === undefined) {
    throw new MoatError('MOAT_ERR_UNSUPPORTED_SCHEME', `"${scheme}://" is not an MQTT URL scheme; use mqtt://host:port.`);
  }
  if (TRANSPORTS[scheme] === undefined) {
    throw new MoatError('MOAT_ERR_UNSUPPORTED_SCHEME', `${scheme}:// is not yet supported by the moat client; only mqtt:// (plain TCP) is, for now.`);
  }
  // new URL keeps IPv6 hosts bracketed; net.connect wants them bare.
  const host = parsed.hostname.replace(/^\[(.*)\]$/, '$1');
  if (host === '') throw new MoatError('MOAT_ERR_INVALID_URL', `"${url}" has no host; write it as mqtt://host:port.`);
  const port = parsed.port === '' ? defaultPort : Number(parsed.port);
  return { url, scheme, host, port };
}

export function openTransport(address: BrokerAddress): Transport {
  const open = TRANSPORTS[address.scheme];
  if (open === undefined) throw new MoatError('MOAT_ERR_UNSUPPORTED_SCHEME', `${address.scheme}:// is not yet supported by the moat client.`);
  return open(address);
}
