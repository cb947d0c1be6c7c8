// Connection limits (max_connections per listener). Past its limit a listener still takes the
// socket, so the device can be told why: its CONNECT gets CONNACK 0x97 Quota exceeded with a reason
// string (v5) or return code 3 Server unavailable (3.1.1) and the socket closes — never Mosquitto's
// silent close. A refusal holds a socket only until its CONNECT (or connect_timeout), and at most
// REFUSING_MAX of them wait at once per listener; past that a socket is closed at once (still
// counted and reported). TLS sockets are counted once their handshake is done, so a storm of slow
// handshakes takes no client's slot (tls_handshake_timeout bounds those).

/** Sockets past the limit that may wait for their CONNECT to be refused in words, per listener. */
export const REFUSING_MAX = 64;

/** What a new socket gets: a slot, a refusal at CONNECT, or an immediate close. */
export type SlotVerdict = 'admit' | 'refuse' | 'drop';

export class ConnectionSlots {
  /** max_connections; -1 = unlimited. */
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

  take(): SlotVerdict {
    if (this.limit < 0 || this.#open < this.limit) {
      this.#open++;
      return 'admit';
    }
    if (this.#refusing < REFUSING_MAX) {
      this.#refusing++;
      return 'refuse';
    }
    return 'drop';
  }

  /** The connection that took `verdict` has closed. */
  release(verdict: SlotVerdict): void {
    if (verdict === 'admit') this.#open--;
    else if (verdict === 'refuse') this.#refusing--;
  }
}
