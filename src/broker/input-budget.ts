// What one connection may read per event-loop turn, and the reasons its input is held (bits of
// Connection's #holds): reading resumes when no reason is left.
import type { Broker } from './broker.js';

/**
 * Work one connection may do per event-loop turn: past either bound its input is held until the
 * next turn, so a client flooding small packets (PINGREQ, QoS 1 PUBLISH) gets its share and no more.
 * A 64 KB socket read holds ~700 small PUBLISH packets; 256 of them cost well under a millisecond.
 */
export const PACKETS_PER_TURN = 256;
/**
 * Largest CONNECT accepted. Five 64 KB strings (client id, user name, password, will topic and
 * payload) and their properties fit; a stranger declaring 256 MB is refused at the fixed header
 * instead of being buffered before anything about it is known (Mosquitto 2.0 buffers it all).
 */
export const MAX_CONNECT_BYTES = 1024 * 1024;
export const BYTES_PER_TURN = 64 * 1024;
/**
 * Reading stops while this much waits to be sent to the client (or maxSocketBufferBytes, if lower):
 * one that does not read gets its requests answered no faster than it takes the answers.
 */
export const INPUT_HOLD_BYTES = 256 * 1024;
/** Reading stops while this much waits to be sent: INPUT_HOLD_BYTES, or max_socket_buffer_bytes if lower. */
export function inputHoldBytes(broker: Broker): number {
  return Math.min(INPUT_HOLD_BYTES, broker.options.maxSocketBufferBytes);
}

/** Why input is held; reading resumes when no reason is left. */
export const HOLD_AUTH = 1; // CONNECT's password is being checked
export const HOLD_TURN = 2; // this turn's budget is spent
export const HOLD_OUTBOUND = 4; // the client is not reading what we send it
export const HOLD_CLOSED = 8; // condemned: nothing more is read
export const HOLD_RETAINED = 16; // a SUBSCRIBE's retained messages are still being written
export const HOLD_FLOW = 32; // a subscriber this client publishes to is catching up (flow-control.ts)
export const HOLD_OVERLOAD = 64; // overload protection: memory near memory_limit or the event loop lags (overload.ts)
