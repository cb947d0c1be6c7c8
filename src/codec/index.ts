// Public codec API (`moat/codec`): packet types, errors, the incremental Parser, encoders,
// MQTT 5 property helpers, UTF-8 validation and the reason-code table.
export * from './types.js';
export { ERROR_CODES, MoatError, ProtocolError, type ErrorCode, type MoatErrorOptions } from './errors.js';
export { Parser, MAX_PACKET_SIZE, type ParserHandler, type ParserOptions } from './parser.js';
export {
  encode,
  encodePublish,
  encodeConnect,
  encodeConnack,
  encodeAck,
  encodeSubscribe,
  encodeUnsubscribe,
  MAX_REMAINING_LENGTH,
} from './encode.js';
export {
  PROPERTIES,
  decodePropertiesBuffer,
  encodeProperties,
  propertiesLength,
  type PropertyContext,
  type PropertyKind,
  type PropertySpec,
} from './properties.js';
export { decodeMqttString, decodeMqttUtf8, isValidMqttString, isValidMqttUtf8 } from './utf8.js';
export * from './reason-codes.js';
