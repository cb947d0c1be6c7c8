// Step 1: the host name to addresses, with the system resolver (getaddrinfo: /etc/hosts first, as
// the client and every other program resolve it). NXDOMAIN and a silent DNS server are told apart.
import type { LookupAddress } from 'node:dns';
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { within } from '../audit/mqtt-probe.js';
import { elapsed, stage, type StageResult } from './stages.js';

export interface DnsOutcome {
  readonly result: StageResult;
  /** Empty when the step failed. */
  readonly addresses: readonly LookupAddress[];
}

export async function resolveHost(host: string, timeoutMs: number): Promise<DnsOutcome> {
  const started = performance.now();
  const family = isIP(host);
  if (family !== 0) {
    return { result: stage('dns', 'ok', 0, `${host} is an IP address: nothing to resolve`, { addresses: [host] }), addresses: [{ address: host, family }] };
  }
  let addresses: LookupAddress[] | undefined;
  try {
    addresses = await within(lookup(host, { all: true, verbatim: true }), timeoutMs);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'unknown';
    return { result: stage('dns', 'failed', elapsed(started), `${host}: ${code}`, { code }, dnsProblem(host, code)), addresses: [] };
  }
  if (addresses === undefined) {
    return {
      result: stage('dns', 'failed', elapsed(started), `${host}: no answer within ${timeoutMs} ms`, { code: 'timeout' }, {
        diagnosis: `The resolver gave no answer for ${host} within ${timeoutMs} ms: the DNS server is slow or unreachable.`,
        fix: 'Check the DNS servers in /etc/resolv.conf (resolvectl status) and that this machine reaches them; or use the broker\'s IP address.',
      }),
      addresses: [],
    };
  }
  const list = addresses.map((a) => a.address);
  return { result: stage('dns', 'ok', elapsed(started), `${host} → ${list.join(', ')}`, { addresses: list }), addresses };
}

function dnsProblem(host: string, code: string): { diagnosis: string; fix: string } {
  switch (code) {
    case 'ENOTFOUND':
      return {
        diagnosis: `${host} does not exist in DNS (NXDOMAIN, or a name with no address records): no address to connect to.`,
        fix: `Check the spelling of the host name; if the name is new, its DNS record may not be published yet (dig ${host}).`,
      };
    case 'EAI_AGAIN':
      return {
        diagnosis: `The DNS server could not answer for ${host} right now (temporary failure, EAI_AGAIN): the resolver is unreachable or the name's servers do not respond.`,
        fix: 'Check the network and the DNS servers in /etc/resolv.conf (resolvectl status), then try again; or use the broker\'s IP address.',
      };
    case 'ENODATA':
      return { diagnosis: `${host} exists in DNS but has no A or AAAA record.`, fix: `Add an address record for ${host}, or connect by a name that has one.` };
    default:
      return { diagnosis: `Resolving ${host} failed: ${code}.`, fix: 'Check the host name and this machine\'s DNS setup (/etc/resolv.conf).' };
  }
}
