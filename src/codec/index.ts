// Public codec API (`moat/codec`): packet types, errors, the incremental Parser, encoders,
// MQTT 5 property helpers, UTF-8 validation and the reason-code table.
export {
  PacketType,
  type AckPacket,
  type AuthPacket,
  type ConnackPacket,
  type ConnectPacket,
  type DisconnectPacket,
  type Packet,
  type PacketTypeName,
  type PingreqPacket,
  type PingrespPacket,
  type Properties,
  type ProtocolVersion,
  type PublishPacket,
  type QoS,
  type SubackPacket,
  type SubscribePacket,
  type Subscription,
  type UnsubackPacket,
  type UnsubscribePacket,
  type Will,
} from './types.js';
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
export {
  CONNECT_RETURN_CODES,
  ConnectReturnCode,
  REASON_CODES,
  ReasonCode,
  SUBACK_FAILURE_V3,
  SubackReturnCode,
  connackCodeFor,
  describeReason,
  formatReason,
  isError,
  type ConnectReturnCodeName,
  type ConnectReturnCodeValue,
  type DescribeReasonOptions,
  type ReasonCodeInfo,
  type ReasonCodeName,
  type ReasonCodeValue,
} from './reason-codes.js';
