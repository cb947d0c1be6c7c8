// What one TLS connection costs each side: `count` connections (TLS handshake + CONNECT/CONNACK)
// one after another in this thread, with nothing else running in the process, so
// process.cpuUsage() around them is the client's own CPU per handshake — what a slow device pays,
// on this machine's faster core — and the broker's CPU ticks over the same window are its share.
import { X509Certificate } from 'node:crypto';
import type { TLSSocket } from 'node:tls';
import { LeanClient, type Target } from './lean-client.js';
import { brokerTicks } from './measure.js';

/** USER_HZ: /proc/PID/stat counts CPU time in ticks of 1/100 s. */
const TICK_MS = 10;

export interface HandshakeCost {
  /** Client CPU (user + system) per connection, in ms. */
  clientMs: number;
  /** Broker CPU per connection, in ms; undefined without a readable broker PID. */
  brokerMs: number | undefined;
  count: number;
  /** Connections whose TLS session really was resumed. */
  reused: number;
}

export interface TlsCosts {
  /** The broker certificate's key, as the client saw it: "ECDSA P-256", "RSA-2048", ... */
  serverKey: string;
  full: HandshakeCost;
  resumed: HandshakeCost;
}

/** "ECDSA P-256" or "RSA-2048" from the peer certificate of a TLS socket. */
export function keyOfPeer(socket: TLSSocket): string {
  const cert = socket.getPeerCertificate();
  if (cert.nistCurve !== undefined) return `ECDSA ${cert.nistCurve}`;
  if (cert.asn1Curve !== undefined) return `EC ${cert.asn1Curve}`;
  return cert.modulus !== undefined ? `RSA-${cert.bits}` : 'unknown';
}

/** The same label for a certificate (PEM): what the client presents with --cert. */
export function keyOfCertificate(pem: Buffer): string {
  const key = new X509Certificate(pem).publicKey;
  const curve = key.asymmetricKeyDetails?.namedCurve;
  if (key.asymmetricKeyType === 'ec') return curve === 'prime256v1' ? 'ECDSA P-256' : `EC ${curve ?? '?'}`;
  return key.asymmetricKeyType === 'rsa' ? `RSA-${key.asymmetricKeyDetails?.modulusLength ?? '?'}` : (key.asymmetricKeyType ?? 'unknown');
}

export async function measureHandshakeCost(target: Target, protocol: 4 | 5, clientPrefix: string, count: number, pid: number | undefined): Promise<TlsCosts> {
  let session: Buffer | undefined;
  let n = 0;
  let serverKey = 'unknown';
  /** Whether the connection resumed its TLS session. */
  const once = async (resume: boolean): Promise<boolean> => {
    const client = await LeanClient.connect({
      target,
      protocol,
      clientId: `${clientPrefix}-${n++}`,
      ...(resume && session !== undefined ? { session } : {}),
      onSession: (s) => {
        if (!resume) session = s;
      },
    });
    const socket = client.socket as TLSSocket;
    if (n === 1) serverKey = keyOfPeer(socket);
    const reused = socket.isSessionReused();
    client.destroy();
    return reused;
  };
  // One unmeasured connection: the JIT, the broker's first-connection work, a session to resume.
  await once(false);
  const run = async (resume: boolean): Promise<HandshakeCost> => {
    const cpu0 = process.cpuUsage();
    const ticks0 = brokerTicks(pid);
    let reused = 0;
    for (let i = 0; i < count; i++) if (await once(resume)) reused++;
    const cpu = process.cpuUsage(cpu0);
    const ticks1 = brokerTicks(pid);
    return {
      clientMs: (cpu.user + cpu.system) / 1000 / count,
      brokerMs: ticks0 === undefined || ticks1 === undefined ? undefined : ((ticks1 - ticks0) * TICK_MS) / count,
      count,
      reused,
    };
  };
  const full = await run(false);
  const resumed = await run(true);
  return { serverKey, full, resumed };
}
