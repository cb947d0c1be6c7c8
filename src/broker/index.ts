export { Broker, type BrokerStats } from './broker.js';
export { BROKER_EVENTS, type BrokerEvent, type BrokerEventFields, type BrokerEventPayload } from './events.js';
export type { Connection, ConnectionInfo } from './connection.js';
export { silentLogger, type Logger } from './logger.js';
export type { Message } from './message.js';
export { parseBrokerOptions, type BrokerOptions, type ResolvedBrokerOptions } from './options.js';
