// Failover between broker URLs (connect() given a list: the nodes of a moat cluster, or any set of
// brokers the client may use). A round tries each URL once: the one that last worked first, then
// the others in the order given, as paho's serverURIs and MQTT.js's `servers` do; a Server
// Reference (0x9C Use another server, 0x9D Server moved) is tried next, before the rest of the
// round. Only after a whole round failed does the back-off (reconnect.ts) apply. No sockets here.
import { MoatError } from '../codec/errors.js';
import { parseServerReference } from './reconnect.js';
import { parseBrokerUrl, type BrokerAddress } from './transport.js';

/** connect()'s first argument as addresses; throws MOAT_ERR_INVALID_URL (or _UNSUPPORTED_SCHEME) naming the bad entry. */
export function parseBrokerUrls(urls: string | readonly string[]): BrokerAddress[] {
  if (!Array.isArray(urls)) return [parseBrokerUrl(urls as string)];
  const list = urls as readonly unknown[];
  if (list.length === 0) throw new MoatError('MOAT_ERR_INVALID_URL', 'The list of broker URLs is empty; give at least one, such as "mqtt://127.0.0.1:1883".');
  return list.map((url, i) => {
    try {
      return parseBrokerUrl(url as string);
    } catch (error) {
      if (!(error instanceof MoatError)) throw error;
      throw new MoatError(error.code, `Broker URL ${i + 1} of ${list.length} (urls[${i}]): ${error.message}`, { cause: error });
    }
  });
}

/** CONNACK codes of a refusal another broker may not repeat: connect() moves on to the next URL instead of failing. */
const NODE_REFUSALS_V5: ReadonlySet<number> = new Set([0x88, 0x89, 0x97, 0x9c, 0x9d, 0x9f]);
/** 3.1.1: 3 Server unavailable. */
const NODE_REFUSALS_V4: ReadonlySet<number> = new Set([3]);

/**
 * True when a CONNACK refusal is about this broker (unavailable, busy, over quota or rate, "use
 * another server"), not about the client: another URL may accept. Bad credentials, not authorized,
 * a refused client identifier or protocol version would be answered the same way everywhere.
 */
export function isNodeRefusal(code: number, version: 4 | 5): boolean {
  return (version === 5 ? NODE_REFUSALS_V5 : NODE_REFUSALS_V4).has(code);
}

/**
 * A Server Reference as an address: a URL (mqtt://host:port, ...) as it is, or host[:port] with the
 * scheme, path and default port of `from`. A space-separated list: its first entry. undefined when unreadable.
 */
export function resolveServerReference(reference: string, from: BrokerAddress): BrokerAddress | undefined {
  const first = reference.trim().split(/\s+/)[0] ?? '';
  if (first.includes('://')) {
    try {
      return parseBrokerUrl(first);
    } catch {
      return undefined;
    }
  }
  const target = parseServerReference(first, from.port);
  if (target === undefined) return undefined;
  const host = target.host.includes(':') ? `[${target.host}]` : target.host;
  return { ...from, url: `${from.scheme}://${host}:${target.port}${from.path}`, host: target.host, port: target.port };
}

/** References followed in one round at most: two brokers pointing at each other must not loop. */
const MAX_REFERENCES_PER_ROUND = 8;

/** The URLs given, the one that last worked, and the order of the current round. */
export class ServerList {
  readonly addresses: readonly BrokerAddress[];
  #lastWorked: BrokerAddress | undefined;
  #round: BrokerAddress[] = [];
  #tried = new Set<string>();
  #references = 0;

  constructor(addresses: readonly BrokerAddress[]) {
    this.addresses = addresses;
  }

  /** A new round: the URL that last worked first (a Server Reference given before it), then the others in the order given. */
  startRound(reference?: BrokerAddress): void {
    const last = this.#lastWorked;
    this.#round = last === undefined ? [...this.addresses] : [last, ...this.addresses.filter((a) => a.url !== last.url)];
    this.#tried.clear();
    this.#references = 0;
    if (reference !== undefined) this.refer(reference);
  }

  /** A Server Reference: tried next in this round, unless it was tried already (or too many were followed). */
  refer(address: BrokerAddress): void {
    if (this.#tried.has(address.url) || this.#references >= MAX_REFERENCES_PER_ROUND) return;
    this.#references++;
    this.#round = [address, ...this.#round.filter((a) => a.url !== address.url)];
  }

  /** The next URL of the round (undefined: the round is over), marked as tried. */
  next(): BrokerAddress | undefined {
    const address = this.#round.shift();
    if (address !== undefined) this.#tried.add(address.url);
    return address;
  }

  /** The URL after the current one in this round, without taking it. */
  peek(): BrokerAddress | undefined {
    return this.#round[0];
  }

  /** `address` accepted the connection: the next round starts there. */
  worked(address: BrokerAddress): void {
    this.#lastWorked = address;
  }

  /** The URL that accepted the latest connection (a Server Reference's target, too). */
  get lastWorked(): BrokerAddress | undefined {
    return this.#lastWorked;
  }
}

/** Why each URL of a failed round failed, for the one error connect() rejects with. */
export interface Failure {
  readonly url: string;
  readonly error: Error;
}

/**
 * The error of a round in which every URL failed: with one URL its own error, unchanged; with more,
 * MOAT_ERR_NO_BROKER listing each URL and why (reasonCode: the last CONNACK refusal, if any).
 */
export function roundError(failures: readonly Failure[]): Error {
  const only = failures[0];
  if (failures.length === 1 && only !== undefined) return only.error;
  const lines = failures.map((f, i) => `${i + 1}) ${f.url}: ${f.error.message}`);
  const refused = [...failures].reverse().find((f) => f.error instanceof MoatError && f.error.reasonCode !== undefined)?.error as MoatError | undefined;
  const options = { cause: failures[failures.length - 1]?.error, ...(refused?.reasonCode === undefined ? {} : { reasonCode: refused.reasonCode }) };
  return new MoatError('MOAT_ERR_NO_BROKER', `None of the ${failures.length} broker URLs accepted the connection: ${lines.join(' ')}`, options);
}
