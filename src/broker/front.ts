// `moat/broker`'s front: what an application embedding the engine needs (serve a stream, publish,
// read the numbers, close), without the engine's internals. A running broker with listeners from
// a mosquitto.conf is startServer's (server/start-server.ts).
import type { Duplex } from 'node:stream';
import { Broker, type BrokerStats } from './broker.js';
import type { ConnectionInfo } from './connection.js';
import { brokerMessage, type PublishOptions } from './message.js';
import type { BrokerOptions } from './options.js';

export interface MoatBroker {
  /** Serves one client over `stream` (a socket, a WebSocket stream, an in-memory pair) until either side closes it. */
  handle(stream: Duplex, info?: ConnectionInfo): void;
  /** Publishes as the broker itself (as $SYS does); returns how many sessions it went to. */
  publish(topic: string, payload: Buffer | string, options?: PublishOptions): number;
  stats(): BrokerStats;
  /** Whether a diagnostics_channel event payload (BROKER_EVENTS) came from this broker. */
  owns(event: { readonly broker: unknown }): boolean;
  /** Disconnects every client (v5: 0x8B Server shutting down) and stops the timers. */
  close(): Promise<void>;
}

export function createBroker(options: BrokerOptions = {}): MoatBroker {
  const broker = new Broker(options);
  return {
    handle: (stream, info) => void broker.handle(stream, info),
    publish: (topic, payload, publish) => broker.publish(brokerMessage(topic, payload, publish)),
    stats: () => broker.stats(),
    owns: (event) => event.broker === broker,
    close: () => {
      broker.close();
      return Promise.resolve();
    },
  };
}
