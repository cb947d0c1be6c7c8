// The part of a connection's state most connections never need (connection.ts keeps it in #rare).
import type { Message } from './message.js';
import type { PublisherHold } from './flow-control.js';
import type { Queue } from './queue.js';

/** Connection state most connections never need; one object, created when the first is. */
export class RareState {
  inboundAliases: Map<number, string> | undefined = undefined;
  outboundAliases: Map<string, number> | undefined = undefined;
  clientTopicAliasMaximum = 0;
  /** Set once this client has been held for a slow subscriber (flow-control.ts). */
  flowHold: PublisherHold | undefined = undefined;
  /** QoS 0 retained messages a SUBSCRIBE asked for that wait for the socket to drain. */
  retainedBacklog: Queue<{ readonly message: Message; readonly subscriptionIdentifiers: number[] | undefined }> | undefined = undefined;
  destroyTimer: NodeJS.Timeout | undefined = undefined;
  graceful = false;
  connectSessionExpiry = 0;
  /** True while held input is handled after the peer stopped sending: no budget applies then. */
  draining = false;
}
