// The Bus seam: message fan-out between broker nodes, kept apart from the Store (state), the seam
// aedes draws between persistence and mq. A node tells the bus which topic filters its local
// subscribers hold (its interest), publishes every message accepted here, and receives the
// messages other nodes publish that match its interest. A client id that connects on a node is
// claimed on the bus, so the node where it was connected before disconnects it there (takeover,
// 0x8E), and released when it disconnects there, so the cluster knows which clients a node that
// dies held (their wills). Every message carries the node it came from and that node's sequence
// number, so a bus that can deliver twice (reconnects, redelivery) lets the receiver drop
// duplicates (Deduper). `$share/` groups span the cluster: for each message the publishing node
// chooses one node per `$share/GROUP/FILTER` among all that hold it (itself included), round robin,
// and only that node delivers to its local members of the group.
// Every implementation passes test/cluster/contract.ts.
import type { StoredMessage } from '../store/store.js';

export interface BusMessage {
  /** The node that published it. */
  readonly node: string;
  /** Increasing per publishing node, across messages and claims. */
  readonly seq: number;
  readonly message: StoredMessage;
  /**
   * The `$share/GROUP/FILTER` filters (whole, as subscribed) this node was chosen to deliver the
   * message to; its other shared groups do not get it. Empty when only its plain filters matched.
   */
  readonly sharedFilters: readonly string[];
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
  /**
   * Another node stopped without leaving (no heartbeat for the bus's dead-after time). Called on
   * exactly one surviving node, with the client ids the lost node held, so their wills go out once
   * cluster-wide. A bus without liveness (LocalBus) never calls it.
   */
  nodeLost?(node: string, clientIds: string[]): void;
}

export interface Bus {
  readonly nodeId: string;
  /**
   * The nodes alive in the cluster as this node knows them, itself included. Only on a bus whose
   * nodes can be lost (it calls nodeLost): the broker then keeps every will in the store.
   */
  readonly liveNodes?: number;
  /** Starts delivery to `handlers`; called once, by the broker that owns the bus. */
  attach(handlers: BusHandlers): void;
  /**
   * Sends `message` to every other node whose interest matches its topic, and chooses the node
   * delivering to each matching `$share/` group. Returns what this node itself delivers to among
   * its shared groups: undefined = every one of its matching groups, as a node alone does (the
   * fast path, no allocation); an array = only these of its `$share/` filters (maybe none).
   */
  publish(message: StoredMessage): readonly string[] | undefined;
  /**
   * Counted: a filter stays in this node's interest until removed as often as it was added (two
   * local subscribers of `a/#` are one interest). `$share/GROUP/` filters are kept whole.
   */
  addInterest(filter: string): void;
  removeInterest(filter: string): void;
  /** Whether any other node's interest matches `topic` (for v5 0x10 No matching subscribers). */
  othersInterested(topic: string): boolean;
  /** `clientId` connected here (or its session was adopted here): other nodes let theirs go; this node now holds it. */
  claimSession(clientId: string): void;
  /**
   * This node no longer holds `clientId`: its connection ended, or, with a store the nodes share,
   * its session ended (an offline session is still held: a survivor adopts it if this node dies).
   */
  releaseSession(clientId: string): void;
  close(): Promise<void>;
}
