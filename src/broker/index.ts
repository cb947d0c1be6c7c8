// `moat/broker`: the engine for embedding (createBroker) and the broker's events. The engine's
// internals stay inside the package; running listeners from a mosquitto.conf is `moat broker`'s.
export { createBroker, type MoatBroker } from './front.js';
export type { PublishOptions } from './message.js';
export type { BrokerStats } from './broker.js';
export type { ConnectionInfo } from './connection.js';
export { BROKER_EVENTS, type BrokerEvent, type BrokerEventFields, type BrokerEventPayload } from './events.js';
export { silentLogger, type Logger } from './logger.js';
export type { BrokerOptions } from './options.js';
export type { RefusalReason } from './refusals.js';
