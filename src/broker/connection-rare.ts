// The part of a connection's state most connections never need, in one object made on first use,
// and the accessors Connection (connection.ts) inherits for it.
import type { Message } from './message.js';
import type { PublisherHold } from './flow-control.js';
import type { Queue } from './queue.js';
import type { SlotVerdict } from './limits.js';

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
  /** A refused socket's verdict (Connection.slot); 'admit' for all others. */
  slot: SlotVerdict = 'admit';
  graceful = false;
  connectSessionExpiry = 0;
  /** True while held input is handled after the peer stopped sending: no budget applies then. */
  draining = false;
}

/**
 * Connection's base: its rarely used state behind accessors that read a default while the object
 * is not made. At 19,000 idle connections every field declared in Connection costs 8 bytes each
 * (docs/PERFORMANCE.md, "Idle connections"); these cost one between them.
 */
export abstract class RareFields {
  /** Topic aliases, a flow-control hold, a retained backlog, the destroy timer of a closing one, ... */
  protected rare: RareState | undefined = undefined;

  protected rareState(): RareState {
    return (this.rare ??= new RareState());
  }

  /** Incoming topic aliases (alias → topic), per connection [MQTT-3.3.2-7]. */
  get inboundAliases(): Map<number, string> | undefined {
    return this.rare?.inboundAliases;
  }

  set inboundAliases(aliases: Map<number, string> | undefined) {
    this.rareState().inboundAliases = aliases;
  }

  /** Outgoing topic aliases (topic → alias), when the v5 client allows any. */
  get outboundAliases(): Map<string, number> | undefined {
    return this.rare?.outboundAliases;
  }

  set outboundAliases(aliases: Map<string, number> | undefined) {
    this.rareState().outboundAliases = aliases;
  }

  /** The v5 client's Topic Alias Maximum: how many aliases we may send it. */
  get clientTopicAliasMaximum(): number {
    return this.rare?.clientTopicAliasMaximum ?? 0;
  }

  set clientTopicAliasMaximum(maximum: number) {
    if (maximum !== 0 || this.rare !== undefined) this.rareState().clientTopicAliasMaximum = maximum;
  }

  /** True once a DISCONNECT that suppresses the will was received [MQTT-3.14.4-3]. */
  get graceful(): boolean {
    return this.rare?.graceful ?? false;
  }

  set graceful(graceful: boolean) {
    if (graceful || this.rare !== undefined) this.rareState().graceful = graceful;
  }

  /** Session Expiry Interval the CONNECT asked for; a DISCONNECT may not raise it from 0 [MQTT-3.14.2-2]. */
  get connectSessionExpiry(): number {
    return this.rare?.connectSessionExpiry ?? 0;
  }

  set connectSessionExpiry(seconds: number) {
    if (seconds !== 0 || this.rare !== undefined) this.rareState().connectSessionExpiry = seconds;
  }

  /** What the connection limits gave this socket (limits.ts): a limit's name means CONNECT is refused with its code. */
  get slot(): SlotVerdict {
    return this.rare?.slot ?? 'admit';
  }

  set slot(verdict: SlotVerdict) {
    if (verdict !== 'admit' || this.rare !== undefined) this.rareState().slot = verdict;
  }
}
