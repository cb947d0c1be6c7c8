// Short-lived MQTT connections for the live audit, made with moat's own client: no reconnect, a
// short timeout, and the outcome as data (accepted / refused with a reason code / failed) instead
// of an exception, because a refusal is often the answer the audit hopes for.
import { randomBytes } from 'node:crypto';
import { connect, MoatError, MqttError, type ClientOptions, type MqttClient } from '../client/index.js';
import { formatReason } from '../codec/reason-codes.js';

export interface ProbeOptions {
  readonly timeoutMs: number;
  /** PEM CA for mqtts:// and wss:// (--cafile). */
  readonly ca?: string | undefined;
  readonly username?: string | undefined;
  readonly password?: string | undefined;
  /** Client certificate and key (PEM) for a listener that asks for one. */
  readonly cert?: string | Buffer | undefined;
  readonly key?: string | Buffer | undefined;
  /** Only this protocol version; default 5 with a fall back to 3.1.1. */
  readonly version?: 4 | 5 | undefined;
  /** Client id prefix; default moat-audit-. */
  readonly clientIdPrefix?: string | undefined;
}

export type ConnectOutcome =
  | { readonly kind: 'accepted'; readonly client: MqttClient }
  | { readonly kind: 'refused'; readonly reasonCode: number; readonly version: 4 | 5; readonly words: string }
  | { readonly kind: 'failed'; readonly message: string; readonly errno: string | undefined; readonly errorCode: string | undefined };

/** A client id that says who is knocking, should the broker's log be read. */
export function auditClientId(prefix = 'moat-audit-'): string {
  return `${prefix}${randomBytes(4).toString('hex')}`;
}

function clientOptions(options: ProbeOptions, version: 4 | 5): ClientOptions {
  return {
    protocolVersion: version,
    clientId: auditClientId(options.clientIdPrefix),
    keepalive: 30,
    reconnect: false,
    connectTimeoutMs: options.timeoutMs,
    // The TLS probe judges the certificate; here we only want to reach MQTT behind it.
    tls: {
      rejectUnauthorized: false,
      ...(options.ca !== undefined ? { ca: options.ca } : {}),
      ...(options.cert !== undefined ? { cert: options.cert } : {}),
      ...(options.key !== undefined ? { key: options.key } : {}),
    },
    ...(options.username !== undefined ? { username: options.username } : {}),
    ...(options.password !== undefined ? { password: options.password } : {}),
  };
}

/** Connects with MQTT 5, falling back to 3.1.1 when the broker refuses the protocol version. */
export async function probeConnect(url: string, options: ProbeOptions): Promise<ConnectOutcome> {
  if (options.version !== undefined) return connectOnce(url, options, options.version);
  const first = await connectOnce(url, options, 5);
  if (first.kind === 'refused' && (first.reasonCode === 0x84 || first.reasonCode === 0x01)) return connectOnce(url, options, 4);
  return first;
}

async function connectOnce(url: string, options: ProbeOptions, version: 4 | 5): Promise<ConnectOutcome> {
  try {
    return { kind: 'accepted', client: await connect(url, clientOptions(options, version)) };
  } catch (error) {
    if (error instanceof MqttError && error.reasonCode !== undefined) {
      const words = formatReason(error.reasonCode, { packet: 'connack', protocolVersion: version });
      return { kind: 'refused', reasonCode: error.reasonCode, version, words };
    }
    // The socket's own code (ECONNREFUSED, ...) says "nothing there" without the client's advice text.
    const cause = error instanceof Error ? (error.cause as NodeJS.ErrnoException | undefined) : undefined;
    return {
      kind: 'failed',
      message: error instanceof Error ? error.message : String(error),
      errno: typeof cause?.code === 'string' ? cause.code : undefined,
      // The client's own code: MOAT_ERR_CONNECT_TIMEOUT, MOAT_ERR_CONNECT (closed before CONNACK), ...
      errorCode: error instanceof MoatError ? error.code : undefined,
    };
  }
}

/** True for the CONNACK codes that mean "who are you?": bad credentials or not authorized, in either protocol version. */
export function isAuthRefusal(outcome: ConnectOutcome): boolean {
  if (outcome.kind !== 'refused') return false;
  return outcome.version === 5 ? outcome.reasonCode === 0x86 || outcome.reasonCode === 0x87 : outcome.reasonCode === 4 || outcome.reasonCode === 5;
}

/** `promise`, or undefined after `ms`. */
export function within<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Ends a probe connection, never throwing or hanging the audit. */
export async function closeQuietly(client: MqttClient | undefined, ms = 2000): Promise<void> {
  if (client === undefined) return;
  await within(client.end().catch(() => undefined), ms);
}
