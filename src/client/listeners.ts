// Who hears from the client: the onMessage / onConnect / onDisconnect / onFailover handlers, the `messages()`
// iterators, and the subscribe()/unsubscribe() calls waiting out a reconnect.
import type { ConnackPacket } from '../codec/types.js';
import type { MqttClient } from './client.js';
import { callUser } from './errors.js';
import { MessageStream, type ReceivedMessage } from './message-stream.js';
import type { ClientCallbacks } from './options.js';
import type { ConnectHandler, DisconnectHandler, DisconnectReason, FailoverEvent, FailoverHandler, MessageHandler } from './types.js';

export class Listeners {
  readonly #messageHandlers = new Set<MessageHandler>();
  readonly #disconnectHandlers = new Set<DisconnectHandler>();
  readonly #connectHandlers = new Set<ConnectHandler>();
  readonly #failoverHandlers = new Set<FailoverHandler>();
  readonly #streams = new Set<MessageStream>();
  /** subscribe()/unsubscribe() calls made while reconnecting, waiting for the connection. */
  readonly #connectWaiters = new Set<{ resolve: () => void; reject: (error: Error) => void }>();

  /** Starts with the handlers given as options (onReconnecting belongs to the ReconnectTimer). */
  constructor({ onConnect, onMessage, onDisconnect, onFailover }: ClientCallbacks) {
    if (onConnect !== undefined) this.#connectHandlers.add(onConnect);
    if (onFailover !== undefined) this.#failoverHandlers.add(onFailover);
    if (onMessage !== undefined) this.#messageHandlers.add(onMessage);
    if (onDisconnect !== undefined) this.#disconnectHandlers.add(onDisconnect);
  }

  onMessage(handler: MessageHandler): () => void {
    this.#messageHandlers.add(handler);
    return () => this.#messageHandlers.delete(handler);
  }

  /** `final` is the reason the client closed for good, if it did: the handler hears it once. */
  onDisconnect(handler: DisconnectHandler, final: DisconnectReason | undefined): () => void {
    if (final !== undefined) queueMicrotask(() => handler(final));
    else this.#disconnectHandlers.add(handler);
    return () => this.#disconnectHandlers.delete(handler);
  }

  onConnect(handler: ConnectHandler): () => void {
    this.#connectHandlers.add(handler);
    return () => this.#connectHandlers.delete(handler);
  }

  onFailover(handler: FailoverHandler): () => void {
    this.#failoverHandlers.add(handler);
    return () => this.#failoverHandlers.delete(handler);
  }

  /** One broker URL failed and the client tries the next. */
  failover(event: FailoverEvent): void {
    for (const handler of this.#failoverHandlers) callUser(handler, event);
  }

  /** A new iterator; one made after the client closed is ended at once. */
  messages(filter: string | undefined, closed: boolean): MessageStream {
    const stream = new MessageStream(filter, (s) => this.#streams.delete(s));
    if (closed) stream.end();
    else this.#streams.add(stream);
    return stream;
  }

  whenConnected(): Promise<void> {
    return new Promise((resolve, reject) => this.#connectWaiters.add({ resolve, reject }));
  }

  deliver(message: ReceivedMessage): void {
    for (const handler of this.#messageHandlers) callUser(handler, message);
    for (const stream of this.#streams) stream.push(message);
  }

  /** A (re)connect is complete: the waiting calls go ahead, then the onConnect handlers hear it. */
  connected(connack: ConnackPacket, client: MqttClient): void {
    for (const waiter of this.#connectWaiters) waiter.resolve();
    this.#connectWaiters.clear();
    for (const handler of this.#connectHandlers) callUser((packet: ConnackPacket) => handler(packet, client), connack);
  }

  /** The connection was lost and a reconnect follows. */
  reconnecting(reason: DisconnectReason): void {
    const event = { ...reason, reconnecting: true };
    for (const handler of this.#disconnectHandlers) callUser(handler, event);
  }

  /** The client closes for good: the waiting calls reject with `error` and the iterators end. */
  closing(error: Error): void {
    for (const waiter of this.#connectWaiters) waiter.reject(error);
    this.#connectWaiters.clear();
    for (const stream of this.#streams) stream.end();
    this.#streams.clear();
  }

  /** The client closed for good: each onDisconnect handler hears the final reason, once. */
  closed(reason: DisconnectReason): void {
    const handlers = [...this.#disconnectHandlers];
    this.#disconnectHandlers.clear();
    for (const handler of handlers) callUser(handler, reason);
  }
}
