import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import {
  CONNECT_RETURN_CODES,
  ConnectReturnCode,
  REASON_CODES,
  ReasonCode,
  SUBACK_FAILURE_V3,
  connackCodeFor,
  describeReason,
  formatReason,
  isError,
} from '../../src/codec/reason-codes.js';

// MQTT 5.0 Table 2-6, transcribed independently of the source: [code, name, packets].
const SPEC_TABLE: Array<[number, string, string]> = [
  [0x00, 'Success', 'CONNACK, PUBACK, PUBREC, PUBREL, PUBCOMP, UNSUBACK, AUTH'],
  [0x00, 'Normal disconnection', 'DISCONNECT'],
  [0x00, 'Granted QoS 0', 'SUBACK'],
  [0x01, 'Granted QoS 1', 'SUBACK'],
  [0x02, 'Granted QoS 2', 'SUBACK'],
  [0x04, 'Disconnect with Will Message', 'DISCONNECT'],
  [0x10, 'No matching subscribers', 'PUBACK, PUBREC'],
  [0x11, 'No subscription existed', 'UNSUBACK'],
  [0x18, 'Continue authentication', 'AUTH'],
  [0x19, 'Re-authenticate', 'AUTH'],
  [0x80, 'Unspecified error', 'CONNACK, PUBACK, PUBREC, SUBACK, UNSUBACK, DISCONNECT'],
  [0x81, 'Malformed Packet', 'CONNACK, DISCONNECT'],
  [0x82, 'Protocol Error', 'CONNACK, DISCONNECT'],
  [0x83, 'Implementation specific error', 'CONNACK, PUBACK, PUBREC, SUBACK, UNSUBACK, DISCONNECT'],
  [0x84, 'Unsupported Protocol Version', 'CONNACK'],
  [0x85, 'Client Identifier not valid', 'CONNACK'],
  [0x86, 'Bad User Name or Password', 'CONNACK'],
  [0x87, 'Not authorized', 'CONNACK, PUBACK, PUBREC, SUBACK, UNSUBACK, DISCONNECT'],
  [0x88, 'Server unavailable', 'CONNACK'],
  [0x89, 'Server busy', 'CONNACK, DISCONNECT'],
  [0x8a, 'Banned', 'CONNACK'],
  [0x8b, 'Server shutting down', 'DISCONNECT'],
  [0x8c, 'Bad authentication method', 'CONNACK, DISCONNECT'],
  [0x8d, 'Keep Alive timeout', 'DISCONNECT'],
  [0x8e, 'Session taken over', 'DISCONNECT'],
  [0x8f, 'Topic Filter invalid', 'SUBACK, UNSUBACK, DISCONNECT'],
  [0x90, 'Topic Name invalid', 'CONNACK, PUBACK, PUBREC, DISCONNECT'],
  [0x91, 'Packet Identifier in use', 'PUBACK, PUBREC, SUBACK, UNSUBACK'],
  [0x92, 'Packet Identifier not found', 'PUBREL, PUBCOMP'],
  [0x93, 'Receive Maximum exceeded', 'DISCONNECT'],
  [0x94, 'Topic Alias invalid', 'DISCONNECT'],
  [0x95, 'Packet too large', 'CONNACK, DISCONNECT'],
  [0x96, 'Message rate too high', 'DISCONNECT'],
  [0x97, 'Quota exceeded', 'CONNACK, PUBACK, PUBREC, SUBACK, DISCONNECT'],
  [0x98, 'Administrative action', 'DISCONNECT'],
  [0x99, 'Payload format invalid', 'CONNACK, PUBACK, PUBREC, DISCONNECT'],
  [0x9a, 'Retain not supported', 'CONNACK, DISCONNECT'],
  [0x9b, 'QoS not supported', 'CONNACK, DISCONNECT'],
  [0x9c, 'Use another server', 'CONNACK, DISCONNECT'],
  [0x9d, 'Server moved', 'CONNACK, DISCONNECT'],
  [0x9e, 'Shared Subscriptions not supported', 'SUBACK, DISCONNECT'],
  [0x9f, 'Connection rate exceeded', 'CONNACK, DISCONNECT'],
  [0xa0, 'Maximum connect time', 'DISCONNECT'],
  [0xa1, 'Subscription Identifiers not supported', 'SUBACK, DISCONNECT'],
  [0xa2, 'Wildcard Subscriptions not supported', 'SUBACK, DISCONNECT'],
];

const packetsOf = (list: string): string[] => list.split(', ').map((p) => p.toLowerCase());

describe('MQTT 5.0 reason code table', () => {
  it('holds exactly the entries of spec Table 2-6, in order', () => {
    assert.deepEqual(
      REASON_CODES.map((r) => [r.code, r.name, [...r.packets]]),
      SPEC_TABLE.map(([code, name, packets]) => [code, name, packetsOf(packets)]),
    );
  });

  for (const [code, name, packets] of SPEC_TABLE) {
    const hex = `0x${code.toString(16).padStart(2, '0')}`;
    it(`${hex} in ${packets.split(', ')[0]} is "${name}"`, () => {
      const info = describeReason(code, { packet: packetsOf(packets)[0] as never });
      assert.equal(info.code, code);
      assert.equal(info.name, name);
      assert.deepEqual([...info.packets], packetsOf(packets));
    });
  }

  it('pins the codes an earlier draft got wrong', () => {
    assert.equal(describeReason(134).name, 'Bad User Name or Password');
    assert.equal(describeReason(149).name, 'Packet too large');
    assert.equal(describeReason(159).name, 'Connection rate exceeded');
    assert.equal(describeReason(136).name, 'Server unavailable');
    assert.equal(ReasonCode.BadUserNameOrPassword, 134);
    assert.equal(ReasonCode.PacketTooLarge, 149);
    assert.equal(ReasonCode.ConnectionRateExceeded, 159);
    assert.equal(ReasonCode.ServerUnavailable, 136);
  });

  it('gives every entry a meaning and a remedy', () => {
    for (const info of [...REASON_CODES, ...CONNECT_RETURN_CODES, SUBACK_FAILURE_V3]) {
      assert.ok(info.meaning.trim().length > 10, `meaning of ${info.code} ${info.name}`);
      assert.ok(info.remedy.trim().length > 5, `remedy of ${info.code} ${info.name}`);
    }
  });

  it('names every table code in ReasonCode, and every ReasonCode value is in the table', () => {
    const tableCodes = new Set(REASON_CODES.map((r) => r.code));
    const constCodes = new Set<number>(Object.values(ReasonCode));
    assert.deepEqual([...constCodes].sort((a, b) => a - b), [...tableCodes].sort((a, b) => a - b));
    assert.equal(ReasonCode.Success, 0);
    assert.equal(ReasonCode.NormalDisconnection, 0);
    assert.equal(ReasonCode.GrantedQoS0, 0);
    assert.equal(ReasonCode.MalformedPacket, 0x81);
    assert.equal(ReasonCode.ProtocolError, 0x82);
  });

  it('picks the meaning of a shared value by packet', () => {
    assert.equal(describeReason(0x00).name, 'Success');
    assert.equal(describeReason(0x00, { packet: 'connack' }).name, 'Success');
    assert.equal(describeReason(0x00, { packet: 'disconnect' }).name, 'Normal disconnection');
    assert.equal(describeReason(0x00, { packet: 'suback' }).name, 'Granted QoS 0');
    assert.equal(describeReason(0x04, { packet: 'disconnect' }).name, 'Disconnect with Will Message');
  });

  it('still describes a known code sent on a packet the spec does not list it for', () => {
    assert.equal(describeReason(0x86, { packet: 'puback' }).name, 'Bad User Name or Password');
  });

  it('formats as "0xNN Name: meaning"', () => {
    assert.equal(formatReason(0x86), '0x86 Bad User Name or Password: The server did not accept the user name or password.');
    assert.match(formatReason(0x8a), /^0x8A Banned: /);
    assert.match(formatReason(0x00, { packet: 'suback' }), /^0x00 Granted QoS 0: /);
  });

  it('treats >= 0x80 as an error', () => {
    assert.equal(isError(0x00), false);
    assert.equal(isError(0x10), false);
    assert.equal(isError(0x19), false);
    assert.equal(isError(0x80), true);
    assert.equal(isError(0xa2), true);
    assert.equal(isError(4, { packet: 'connack', protocolVersion: 4 }), true);
    assert.equal(isError(0, { packet: 'connack', protocolVersion: 4 }), false);
  });
});

describe('unknown reason codes', () => {
  for (const code of [0x03, 0x05, 0x20, 0x7f, 0xa3, 0xff]) {
    it(`0x${code.toString(16)} yields an "unknown reason code" info instead of throwing`, () => {
      const info = describeReason(code);
      assert.equal(info.code, code);
      assert.deepEqual([...info.packets], []);
      assert.match(info.meaning, new RegExp(`unknown reason code 0x${code.toString(16).toUpperCase().padStart(2, '0')}`));
      assert.ok(info.remedy.length > 0);
    });
  }

  it('reports 3.1.1 CONNACK codes above 5 as unknown', () => {
    const info = describeReason(6, { packet: 'connack', protocolVersion: 4 });
    assert.match(info.meaning, /unknown reason code 0x06 in CONNACK/);
    assert.match(formatReason(0xf0), /^0xF0 Unknown reason code 0xF0: unknown reason code 0xF0/);
  });
});

describe('MQTT 3.1 / 3.1.1 return codes', () => {
  const expected: Array<[number, string, RegExp]> = [
    [0, 'Connection Accepted', /accepted/i],
    [1, 'Connection Refused, unacceptable protocol version', /protocol level/],
    [2, 'Connection Refused, identifier rejected', /identifier/],
    [3, 'Connection Refused, Server unavailable', /unavailable/],
    [4, 'Connection Refused, bad user name or password', /user name or password/],
    [5, 'Connection Refused, not authorized', /not authorized/],
  ];
  for (const version of [3, 4] as const) {
    for (const [code, name, meaning] of expected) {
      it(`CONNACK ${code} on protocol ${version} is "${name}"`, () => {
        const info = describeReason(code, { packet: 'connack', protocolVersion: version });
        assert.equal(info.name, name);
        assert.match(info.meaning, meaning);
        assert.ok(info.remedy.length > 0);
      });
    }
  }

  it('names the return codes in ConnectReturnCode', () => {
    assert.deepEqual(ConnectReturnCode, {
      Accepted: 0, UnacceptableProtocolVersion: 1, IdentifierRejected: 2,
      ServerUnavailable: 3, BadUserNameOrPassword: 4, NotAuthorized: 5,
    });
  });

  it('reads a code without a packet on 3.1.1 as a CONNACK return code', () => {
    assert.equal(describeReason(4, { protocolVersion: 4 }).name, 'Connection Refused, bad user name or password');
  });

  it('describes the 3.1.1 SUBACK codes: granted QoS and 0x80 Failure', () => {
    assert.equal(describeReason(0x80, { packet: 'suback', protocolVersion: 4 }).name, 'Failure');
    assert.equal(describeReason(0x01, { packet: 'suback', protocolVersion: 4 }).name, 'Granted QoS 1');
    assert.match(describeReason(0x87, { packet: 'suback', protocolVersion: 4 }).meaning, /unknown reason code 0x87/);
  });

  it('uses the 5.0 table for CONNACK on protocol 5', () => {
    assert.equal(describeReason(3, { packet: 'connack', protocolVersion: 5 }).name, 'Unknown reason code 0x03');
    assert.equal(describeReason(0x86, { packet: 'connack', protocolVersion: 5 }).name, 'Bad User Name or Password');
  });
});

describe('connackCodeFor (5.0 CONNACK reason -> 3.1.1 return code, Mosquitto-compatible)', () => {
  const cases: Array<[number, number]> = [
    [0x00, 0],
    [0x84, 1],
    [0x85, 2],
    [0x88, 3],
    [0x89, 3],
    [0x9f, 3],
    [0x9c, 3],
    [0x97, 3],
    [0x80, 3],
    [0x86, 4],
    [0x87, 5],
    [0x8a, 5],
    [0x8c, 5],
    [0x95, 5],
  ];
  for (const [v5, v3] of cases) {
    it(`maps 0x${v5.toString(16)} to ${v3}`, () => assert.equal(connackCodeFor(v5), v3));
  }

  it('returns only valid 3.1.1 return codes for every 5.0 CONNACK code', () => {
    for (const info of REASON_CODES.filter((r) => r.packets.includes('connack'))) {
      const v3 = connackCodeFor(info.code);
      assert.ok(v3 >= 0 && v3 <= 5);
      assert.equal(v3 === 0, info.code === 0, `0x${info.code.toString(16)}`);
    }
  });
});
