// Step 2: a plain TCP connect to each resolved address in turn, until one answers. Refused (a
// reset: the host is there, nothing listens) and no answer (a firewall drops the packets, or the
// host is wrong or down) need different fixes, so they are told apart.
import type { LookupAddress } from 'node:dns';
import { connect } from 'node:net';
import { elapsed, stage, type StageResult } from './stages.js';

type Attempt = { readonly address: string; readonly ok: true; readonly ms: number } | { readonly address: string; readonly ok: false; readonly code: string; readonly ms: number };

export async function connectTcp(addresses: readonly LookupAddress[], port: number, timeoutMs: number): Promise<StageResult> {
  const started = performance.now();
  const attempts: Attempt[] = [];
  for (const { address, family } of addresses) {
    const attempt = await tryConnect(address, family, port, timeoutMs);
    attempts.push(attempt);
    if (attempt.ok) {
      return stage('tcp', 'ok', elapsed(started), `connected to ${hostPort(address, port)} in ${attempt.ms} ms`, { address, port, attempts });
    }
  }
  const last = attempts.at(-1);
  const code = last !== undefined && !last.ok ? last.code : 'no address';
  const where = addresses.map((a) => hostPort(a.address, port)).join(', ');
  return stage('tcp', 'failed', elapsed(started), `${where}: ${code === 'timeout' ? `no answer within ${timeoutMs} ms` : code}`, { port, attempts }, tcpProblem(where, port, code, timeoutMs));
}

function tryConnect(address: string, family: number, port: number, timeoutMs: number): Promise<Attempt> {
  const started = performance.now();
  return new Promise((resolve) => {
    const socket = connect({ host: address, port, family });
    const done = (code: string | undefined): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(code === undefined ? { address, ok: true, ms: elapsed(started) } : { address, ok: false, code, ms: elapsed(started) });
    };
    const timer = setTimeout(() => done('timeout'), timeoutMs);
    socket.once('connect', () => done(undefined));
    socket.once('error', (error: NodeJS.ErrnoException) => done(error.code ?? error.message));
  });
}

function hostPort(address: string, port: number): string {
  return address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
}

function tcpProblem(where: string, port: number, code: string, timeoutMs: number): { diagnosis: string; fix: string } {
  switch (code) {
    case 'ECONNREFUSED':
      return {
        diagnosis: `Connection refused at ${where}: the host answered, but nothing listens on port ${port}.`,
        fix: `Start the broker, or connect to the port it listens on (its config's listener lines; on the broker host: ss -ltnp | grep ${port}). A broker bound to 127.0.0.1 is not reachable from other machines.`,
      };
    case 'timeout':
      return {
        diagnosis: `No answer from ${where} within ${timeoutMs} ms: a firewall drops the packets, or the host is wrong or down.`,
        fix: `Check the host and the port; open port ${port}/tcp in the firewall on the way (ufw allow ${port}/tcp, the cloud provider's security group); a larger --timeout helps only on a very slow link.`,
      };
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return {
        diagnosis: `No route to ${where} (${code}): this machine cannot reach that network, or a router refuses it.`,
        fix: 'Check the address, this machine\'s network and routes (ip route), and any VPN the broker needs.',
      };
    default:
      return { diagnosis: `The TCP connect to ${where} failed: ${code}.`, fix: 'Check the host, the port and the network between this machine and the broker.' };
  }
}
