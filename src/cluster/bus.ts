// The Bus seam: message fan-out between broker nodes, kept apart from the Store (state), the seam
// aedes draws between persistence and mq. A node tells the bus which topic filters its local
// subscribers hold (its interest), publishes every message accepted here, and receives the
// messages other nodes publish that match its interest. A client id that connects on a node is
// claimed on the bus, so the node where it was connected before disconnects it there (takeover,
// 0x8E). Every message carries the node it came from and that node's sequence number, so a bus
// that can deliver twice (reconnects, redelivery) lets the receiver drop duplicates (Deduper).
// Every implementation passes test/cluster/contract.ts.
import type { StoredMessage } from '../store/store.js';

export interface BusMessage {
  /** The node that published it. */
  readonly node: string;
  /** Increasing per publishing node, across messages and claims. */
  readonly seq: number;
  readonly message: StoredMessage;
}

export interface SessionClaim {
  readonly node: string;
  readonly seq: number;
  readonly clientId: string;
}

export interface BusHandlers {
  /** A message from another node whose topic this node's interest matches; never one of this node's own. */
  message(envelope: BusMessage): void;
  /** Another node took `clientId`: a session of that id connected here must be disconnected. */
  claim(claim: SessionClaim): void;
}

export interface Bus {
  readonly nodeId: string;
  /** Starts delivery to `handlers`; called once, by the broker that owns the bus. */
  attach(handlers: BusHandlers): void;
  /** Sends `message` to every other node whose interest matches its topic. */
  publish(message: StoredMessage): void;
  /**
   * Counted: a filter stays in this node's interest until removed as often as it was added (two
   * local subscribers of `a/#` are one interest). `$share/GROUP/` filters are kept whole.
   */
  addInterest(filter: string): void;
  removeInterest(filter: string): void;
  /** Whether any other node's interest matches `topic` (for v5 0x10 No matching subscribers). */
  othersInterested(topic: string): boolean;
  claimSession(clientId: string): void;
  close(): Promise<void>;
}
