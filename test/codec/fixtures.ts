import type { Packet, ProtocolVersion } from '../../src/codec/types.js';

export interface Fixture {
  name: string;
  version: ProtocolVersion;
  packet: Packet;
  /** Exact wire bytes, hex; spaces are ignored. */
  hex: string;
}

const b = (s: string): Buffer => Buffer.from(s);

export const FIXTURES: Fixture[] = [
  // ---- 3.1 (MQIsdp level 3): only CONNECT and CONNACK differ from 3.1.1.
  { name: '3.1 CONNECT minimal', version: 3, hex: '101000064d51497364700302001e00026333', packet: { type: 'connect', protocolName: 'MQIsdp', protocolVersion: 3, clean: true, keepalive: 30, clientId: 'c3' } },
  { name: '3.1 CONNECT full', version: 3, hex: '102100064d514973647003f4000a0001630003772f740004676f6e6500017500027077', packet: { type: 'connect', protocolName: 'MQIsdp', protocolVersion: 3, clean: false, keepalive: 10, clientId: 'c', username: 'u', password: b('pw'), will: { topic: 'w/t', payload: b('gone'), qos: 2, retain: true } } },
  { name: '3.1 CONNACK', version: 3, hex: '20020002', packet: { type: 'connack', sessionPresent: false, reasonCode: 2 } },
  { name: '3.1 PUBLISH QoS 1', version: 3, hex: '3a080003612f62000178', packet: { type: 'publish', topic: 'a/b', payload: b('x'), qos: 1, retain: false, dup: true, packetId: 1 } },
  // ---- 3.1.1
  { name: '3.1.1 CONNECT minimal', version: 4, hex: '100c00044d5154540402003c0000', packet: { type: 'connect', protocolName: 'MQTT', protocolVersion: 4, clean: true, keepalive: 60, clientId: '' } },
  { name: '3.1.1 CONNECT will+auth', version: 4, hex: '103200044d51545404cc00000008636c69656e742d3100096c6173742f77696c6c00036279650004757365720006736563726574', packet: { type: 'connect', protocolName: 'MQTT', protocolVersion: 4, clean: false, keepalive: 0, clientId: 'client-1', username: 'user', password: b('secret'), will: { topic: 'last/will', payload: b('bye'), qos: 1, retain: false } } },
  { name: '3.1.1 CONNACK session present', version: 4, hex: '20020100', packet: { type: 'connack', sessionPresent: true, reasonCode: 0 } },
  { name: '3.1.1 CONNACK refused', version: 4, hex: '20020005', packet: { type: 'connack', sessionPresent: false, reasonCode: 5 } },
  { name: '3.1.1 PUBLISH QoS 0', version: 4, hex: '300a0003612f6268656c6c6f', packet: { type: 'publish', topic: 'a/b', payload: b('hello'), qos: 0, retain: false, dup: false } },
  { name: '3.1.1 PUBLISH QoS 2 retain dup, UTF-8 topic', version: 4, hex: '3d12000e636166c3a92fe298832ff09d849effff', packet: { type: 'publish', topic: 'café/☃/𝄞', payload: b(''), qos: 2, retain: true, dup: true, packetId: 65535 } },
  { name: '3.1.1 PUBACK', version: 4, hex: '40020001', packet: { type: 'puback', packetId: 1 } },
  { name: '3.1.1 PUBREC', version: 4, hex: '50020002', packet: { type: 'pubrec', packetId: 2 } },
  { name: '3.1.1 PUBREL', version: 4, hex: '62020003', packet: { type: 'pubrel', packetId: 3 } },
  { name: '3.1.1 PUBCOMP', version: 4, hex: '70020004', packet: { type: 'pubcomp', packetId: 4 } },
  { name: '3.1.1 SUBSCRIBE', version: 4, hex: '820c000a0003612f2b0000012302', packet: { type: 'subscribe', packetId: 10, subscriptions: [
    { filter: 'a/+', qos: 0, noLocal: false, retainAsPublished: false, retainHandling: 0 },
    { filter: '#', qos: 2, noLocal: false, retainAsPublished: false, retainHandling: 0 },
  ] } },
  { name: '3.1.1 SUBACK', version: 4, hex: '9006000a00010280', packet: { type: 'suback', packetId: 10, reasonCodes: [0, 1, 2, 0x80] } },
  { name: '3.1.1 UNSUBSCRIBE', version: 4, hex: 'a20a000b0003612f2b000162', packet: { type: 'unsubscribe', packetId: 11, filters: ['a/+', 'b'] } },
  { name: '3.1.1 UNSUBACK', version: 4, hex: 'b002000b', packet: { type: 'unsuback', packetId: 11, reasonCodes: [] } },
  { name: '3.1.1 PINGREQ', version: 4, hex: 'c000', packet: { type: 'pingreq' } },
  { name: '3.1.1 PINGRESP', version: 4, hex: 'd000', packet: { type: 'pingresp' } },
  { name: '3.1.1 DISCONNECT', version: 4, hex: 'e000', packet: { type: 'disconnect' } },
  // ---- 5.0
  { name: '5.0 CONNECT minimal', version: 5, hex: '100f00044d5154540502003c0000026335', packet: { type: 'connect', protocolName: 'MQTT', protocolVersion: 5, clean: true, keepalive: 60, clientId: 'c5' } },
  { name: '5.0 CONNECT all CONNECT and will properties', version: 5, hex: '107d00044d51545405ee001e2f1100000e10150005534352414d16000261641700190121001422000a2600016b0001762600016b0001772700100000000466756c6c2e0101020000003c03000a746578742f706c61696e0800047265737009000263641800000005260002776b000277760001770003627965000175000170', packet: { type: 'connect', protocolName: 'MQTT', protocolVersion: 5, clean: true, keepalive: 30, clientId: 'full',
    username: 'u', password: b('p'),
    properties: { sessionExpiryInterval: 3600, receiveMaximum: 20, maximumPacketSize: 1048576, topicAliasMaximum: 10, requestResponseInformation: 1, requestProblemInformation: 0, userProperties: [['k', 'v'], ['k', 'w']], authenticationMethod: 'SCRAM', authenticationData: b('ad') },
    will: { topic: 'w', payload: b('bye'), qos: 1, retain: true, properties: { willDelayInterval: 5, payloadFormatIndicator: 1, messageExpiryInterval: 60, contentType: 'text/plain', responseTopic: 'resp', correlationData: b('cd'), userProperties: [['wk', 'wv']] } } } },
  { name: '5.0 CONNECT password without user name', version: 5, hex: '101300044d51545405400005000001700003746f6b', packet: { type: 'connect', protocolName: 'MQTT', protocolVersion: 5, clean: false, keepalive: 5, clientId: 'p', password: b('tok') } },
  { name: '5.0 CONNACK minimal', version: 5, hex: '2003000000', packet: { type: 'connack', sessionPresent: false, reasonCode: 0 } },
  { name: '5.0 CONNACK all CONNACK properties', version: 5, hex: '204f01004c11000000781200066175746f2d3113002d1500016d160001641a000272691c000a6f746865723a313838331f00026f6b21006422001024012500260001610001622700010000280129012a00', packet: { type: 'connack', sessionPresent: true, reasonCode: 0, properties: {
    sessionExpiryInterval: 120, receiveMaximum: 100, maximumQoS: 1, retainAvailable: 0, maximumPacketSize: 65536, assignedClientIdentifier: 'auto-1', topicAliasMaximum: 16, reasonString: 'ok', userProperties: [['a', 'b']], wildcardSubscriptionAvailable: 1, subscriptionIdentifiersAvailable: 1, sharedSubscriptionAvailable: 0, serverKeepAlive: 45, responseInformation: 'ri', serverReference: 'other:1883', authenticationMethod: 'm', authenticationData: b('d') } } },
  { name: '5.0 CONNACK refused', version: 5, hex: '2003008700', packet: { type: 'connack', sessionPresent: false, reasonCode: 0x87 } },
  { name: '5.0 PUBLISH QoS 0 no properties', version: 5, hex: '30050001740070', packet: { type: 'publish', topic: 't', payload: b('p'), qos: 0, retain: false, dup: false } },
  { name: '5.0 PUBLISH all PUBLISH properties', version: 5, hex: '33550003612f62002a4b0101020000012c0300106170706c69636174696f6e2f6a736f6e0800087265706c792f746f090004636f72720b010bffffff7f2300032600017800013126000179000132260001780001337b7d', packet: { type: 'publish', topic: 'a/b', payload: b('{}'), qos: 1, retain: true, dup: false, packetId: 42, properties: {
    payloadFormatIndicator: 1, messageExpiryInterval: 300, topicAlias: 3, responseTopic: 'reply/to', correlationData: b('corr'), userProperties: [['x', '1'], ['y', '2'], ['x', '3']], subscriptionIdentifiers: [1, 268435455], contentType: 'application/json' } } },
  { name: '5.0 PUBLISH empty topic with topic alias', version: 5, hex: '3c0900000009032300037a', packet: { type: 'publish', topic: '', payload: b('z'), qos: 2, retain: false, dup: true, packetId: 9, properties: { topicAlias: 3 } } },
  { name: '5.0 PUBACK success (short form)', version: 5, hex: '40020001', packet: { type: 'puback', packetId: 1 } },
  { name: '5.0 PUBACK reason code only', version: 5, hex: '4003000110', packet: { type: 'puback', packetId: 1, reasonCode: 0x10 } },
  { name: '5.0 PUBACK reason + properties', version: 5, hex: '4014000187101f000664656e69656426000161000162', packet: { type: 'puback', packetId: 1, reasonCode: 0x87, properties: { reasonString: 'denied', userProperties: [['a', 'b']] } } },
  { name: '5.0 PUBREC', version: 5, hex: '5003000280', packet: { type: 'pubrec', packetId: 2, reasonCode: 0x80 } },
  { name: '5.0 PUBREL', version: 5, hex: '620b000392071f0004676f6e65', packet: { type: 'pubrel', packetId: 3, reasonCode: 0x92, properties: { reasonString: 'gone' } } },
  { name: '5.0 PUBCOMP', version: 5, hex: '70020004', packet: { type: 'pubcomp', packetId: 4 } },
  { name: '5.0 SUBSCRIBE options and subscription identifier', version: 5, hex: '822000140a0bac02260001730001740003612f232d000a2473686172652f672f6210', packet: { type: 'subscribe', packetId: 20, properties: { subscriptionIdentifiers: [300], userProperties: [['s', 't']] }, subscriptions: [
    { filter: 'a/#', qos: 1, noLocal: true, retainAsPublished: true, retainHandling: 2 },
    { filter: '$share/g/b', qos: 0, noLocal: false, retainAsPublished: false, retainHandling: 1 },
  ] } },
  { name: '5.0 SUBACK', version: 5, hex: '90150014101f0006706172746c79260001710001720187', packet: { type: 'suback', packetId: 20, reasonCodes: [1, 0x87], properties: { reasonString: 'partly', userProperties: [['q', 'r']] } } },
  { name: '5.0 UNSUBSCRIBE', version: 5, hex: 'a20f001507260001750001760003612f23', packet: { type: 'unsubscribe', packetId: 21, filters: ['a/#'], properties: { userProperties: [['u', 'v']] } } },
  { name: '5.0 UNSUBACK', version: 5, hex: 'b00a0015051f000272730011', packet: { type: 'unsuback', packetId: 21, reasonCodes: [0, 0x11], properties: { reasonString: 'rs' } } },
  { name: '5.0 PINGREQ', version: 5, hex: 'c000', packet: { type: 'pingreq' } },
  { name: '5.0 PINGRESP', version: 5, hex: 'd000', packet: { type: 'pingresp' } },
  { name: '5.0 DISCONNECT normal (short form)', version: 5, hex: 'e000', packet: { type: 'disconnect' } },
  { name: '5.0 DISCONNECT reason only', version: 5, hex: 'e00104', packet: { type: 'disconnect', reasonCode: 0x04 } },
  { name: '5.0 DISCONNECT all DISCONNECT properties', version: 5, hex: 'e01f9c1d11000000001c0006623a313838331f00056d6f76656426000164000165', packet: { type: 'disconnect', reasonCode: 0x9c, properties: { sessionExpiryInterval: 0, reasonString: 'moved', serverReference: 'b:1883', userProperties: [['d', 'e']] } } },
  { name: '5.0 AUTH success (short form)', version: 5, hex: 'f000', packet: { type: 'auth', reasonCode: 0 } },
  { name: '5.0 AUTH continue', version: 5, hex: 'f01e181c150005534352414d16000378797a1f00046d6f726526000161000162', packet: { type: 'auth', reasonCode: 0x18, properties: { authenticationMethod: 'SCRAM', authenticationData: b('xyz'), reasonString: 'more', userProperties: [['a', 'b']] } } },
];
