// Connection limits: max_connections per listener, global_max_connections across all of them, and
// connection rates (max_connection_rate for the whole broker, max_connection_rate_per_address per
// source address). Past a limit the broker still takes the socket, so the device can be told why:
// its CONNECT gets CONNACK 0x97 Quota exceeded (the counts) or 0x9F Connection rate exceeded (the
// rates) with a reason string (v5), or return code 3 Server unavailable (3.1.1), and the socket
// closes — never Mosquitto's silent close. A refusal holds a socket only until its CONNECT (or
// connect_timeout), and at most REFUSING_MAX of them wait at once per listener (max_connections)
// and per broker (the others); past that a socket is closed at once (still counted and reported).
// TLS and WebSocket sockets are counted once their handshake is done, so a storm of slow
// handshakes takes no client's slot (tls_handshake_timeout bounds those). Loopback is not exempt.
import type { ConnectionLimit } from './refusals.js';

/** Sockets past a limit that may wait for their CONNECT to be refused in words, per listener (and per broker). */
export const REFUSING_MAX = 64;

/**
 * The rates are token buckets refilled continuously at N per second and holding at most N: a burst
 * of N connections is admitted at once, then one every 1/N s. An address unseen for this long has
 * a full bucket again, so it is forgotten (the sweep evicts it).
 */
export const RATE_WINDOW_MS = 1000;

/**
 * Addresses whose rate is tracked at once, at most. Past it the least recently seen is forgotten:
 * a storm from more addresses than this within one window is bounded by max_connection_rate, and
 * the map never grows without bound (about 100 bytes an address).
 */
export const MAX_TRACKED_ADDRESSES = 65_536;

/**
 * What a new socket got: a slot ('admit'), a refusal to be answered at CONNECT (the limit that
 * refused it), or an immediate close ('drop': too many refusals already waiting).
 */
export type SlotVerdict = 'admit' | 'drop' | ConnectionLimit;

/** One listener's max_connections count (or the broker's global_max_connections). */
export class ConnectionSlots {
  /** The limit; -1 = unlimited. */
  readonly limit: number;
  /** The listener's name for logs and events, e.g. "mqtt:1883". */
  readonly listener: string;
  #open = 0;
  #refusing = 0;

  constructor(limit: number, listener: string) {
    this.limit = limit;
    this.listener = listener;
  }

  /** Connections holding a slot. */
  get open(): number {
    return this.#open;
  }

  get full(): boolean {
    return this.limit >= 0 && this.#open >= this.limit;
  }

  take(): void {
    this.#open++;
  }

  release(): void {
    this.#open--;
  }

  /** A refused socket may wait for its CONNECT (true), or must be closed at once. */
  holdRefusal(): boolean {
    if (this.#refusing >= REFUSING_MAX) return false;
    this.#refusing++;
    return true;
  }

  releaseRefusal(): void {
    this.#refusing--;
  }
}

interface Bucket {
  tokens: number;
  /** When `tokens` was last computed (ms). */
  at: number;
}

/** A token bucket of `rate` per second, at most `rate` tokens. */
function takeToken(bucket: Bucket, rate: number, now: number): boolean {
  const refilled = bucket.tokens + ((now - bucket.at) * rate) / RATE_WINDOW_MS;
  bucket.tokens = refilled > rate ? rate : refilled;
  bucket.at = now;
  if (bucket.tokens < 1) return false;
  bucket.tokens--;
  return true;
}

/** Connection rate per source address, bounded (MAX_TRACKED_ADDRESSES) and forgetting idle addresses. */
export class AddressRates {
  readonly rate: number;
  /** Least recently seen first: a seen address is moved to the end. */
  readonly #buckets = new Map<string, Bucket>();

  constructor(rate: number) {
    this.rate = rate;
  }

  take(address: string, now: number): boolean {
    const buckets = this.#buckets;
    let bucket = buckets.get(address);
    if (bucket === undefined) {
      if (buckets.size >= MAX_TRACKED_ADDRESSES) buckets.delete(buckets.keys().next().value as string);
      bucket = { tokens: this.rate, at: now };
    } else buckets.delete(address);
    buckets.set(address, bucket);
    return takeToken(bucket, this.rate, now);
  }

  /** Forgets addresses unseen for a window (their buckets are full again); oldest first, so it stops at the first recent one. */
  sweep(now: number): void {
    for (const [address, bucket] of this.#buckets) {
      if (now - bucket.at < RATE_WINDOW_MS) return;
      this.#buckets.delete(address);
    }
  }

  get tracked(): number {
    return this.#buckets.size;
  }
}

/**
 * The bucket an address counts in: an IPv4 address (with or without the ::ffff: a dual-stack
 * listener gives it) is itself; an IPv6 address counts in its /64, since one host may use any
 * address of the /64 its network gives it, so a flood cannot escape the limit by rotating them.
 */
export function addressKey(address: string): string {
  if (address.startsWith('::ffff:') && address.includes('.')) return address.slice(7);
  if (!address.includes(':')) return address;
  const zone = address.indexOf('%');
  const bare = (zone === -1 ? address : address.slice(0, zone)).toLowerCase();
  const gap = bare.indexOf('::');
  let groups: string[];
  if (gap === -1) groups = bare.split(':');
  else {
    const head = gap === 0 ? [] : bare.slice(0, gap).split(':');
    const tail = gap + 2 >= bare.length ? [] : bare.slice(gap + 2).split(':');
    groups = [...head, ...Array<string>(Math.max(0, 8 - head.length - tail.length)).fill('0'), ...tail];
  }
  return `${groups
    .slice(0, 4)
    .map((g) => g.replace(/^0+(?=.)/, ''))
    .join(':')}::/64`;
}

export interface AdmissionLimits {
  /** global_max_connections; -1 = unlimited. */
  readonly globalMaxConnections: number;
  /** max_connection_rate, connections per second; 0 = unlimited. */
  readonly maxConnectionRate: number;
  /** max_connection_rate_per_address, connections per second; 0 = unlimited. */
  readonly maxConnectionRatePerAddress: number;
}

/** The broker's connection limits: each new socket is admitted, or refused by the first limit it meets. */
export class ConnectionAdmission {
  readonly global: ConnectionSlots;
  readonly perAddress: AddressRates | undefined;
  readonly #rate: number;
  readonly #bucket: Bucket;
  /** Refusals of the broker's own limits waiting for their CONNECT. */
  #refusing = 0;

  constructor(limits: AdmissionLimits) {
    this.global = new ConnectionSlots(limits.globalMaxConnections, 'global');
    this.perAddress = limits.maxConnectionRatePerAddress > 0 ? new AddressRates(limits.maxConnectionRatePerAddress) : undefined;
    this.#rate = limits.maxConnectionRate;
    this.#bucket = { tokens: this.#rate, at: Date.now() };
  }

  /**
   * Admits a new socket (taking its slots) or names the limit that refuses it. The rates come
   * first, one address's before the broker's, so a flooding address spends no one else's tokens;
   * the counts after them.
   */
  admit(slots: ConnectionSlots | undefined, address: string | undefined, now = Date.now()): 'admit' | ConnectionLimit {
    // A Unix-socket or in-process client has no address: only the broker's rate applies to it.
    if (this.perAddress !== undefined && address !== undefined && !this.perAddress.take(addressKey(address), now)) return 'max_connection_rate_per_address';
    if (this.#rate > 0 && !takeToken(this.#bucket, this.#rate, now)) return 'max_connection_rate';
    if (slots?.full === true) return 'max_connections';
    if (this.global.full) return 'global_max_connections';
    slots?.take();
    this.global.take();
    return 'admit';
  }

  /** A refused socket may wait for its CONNECT to be answered (true), or must be closed at once. */
  holdRefusal(limit: ConnectionLimit, slots: ConnectionSlots | undefined): boolean {
    if (limit === 'max_connections') return slots?.holdRefusal() ?? false;
    if (this.#refusing >= REFUSING_MAX) return false;
    this.#refusing++;
    return true;
  }

  /** The socket that got `verdict` has closed. */
  release(verdict: SlotVerdict, slots: ConnectionSlots | undefined): void {
    if (verdict === 'admit') {
      slots?.release();
      this.global.release();
    } else if (verdict === 'max_connections') slots?.releaseRefusal();
    else if (verdict !== 'drop') this.#refusing--;
  }

  /** The configured value of `limit`, for the refusal's event and sentence. */
  value(limit: ConnectionLimit, slots: ConnectionSlots | undefined): number {
    switch (limit) {
      case 'max_connections':
        return slots?.limit ?? -1;
      case 'global_max_connections':
        return this.global.limit;
      case 'max_connection_rate':
        return this.#rate;
      case 'max_connection_rate_per_address':
        return this.perAddress?.rate ?? 0;
    }
  }

  sweep(now: number): void {
    this.perAddress?.sweep(now);
  }
}
