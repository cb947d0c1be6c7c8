// Public API of the client library (the `moat` package entry). Everything else in src/client is internal;
// the codec's reason-code helpers (describeReason, formatReason) are exported by `moat/codec`.
export { connect, MqttClient } from './client.js';
export type { ConnectHandler, DisconnectHandler, DisconnectReason, FailoverEvent, FailoverHandler, MessageHandler, PublishOptions, ReconnectingHandler, SubscribeOptions, UnsubscribeOptions } from './client.js';
export { backoffDelay } from './reconnect.js';
export type { OverflowPolicy } from './offline-queue.js';
export { MqttError } from './errors.js';
export { MoatError } from '../codec/errors.js';
export type { ReceivedMessage } from './message-stream.js';
export { parseClientOptions } from './options.js';
export type { ClientOptions, OfflineQueueOptions, ReconnectOptions, ResolvedClientOptions, ResolvedWill, WillOptions } from './options.js';
export { ReasonCode } from '../codec/reason-codes.js';
export type { ConnackPacket, Properties, QoS } from '../codec/types.js';
