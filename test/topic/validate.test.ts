import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { parseSharedFilter, validateTopicFilter, validateTopicName } from '../../src/topic/index.js';

describe('validateTopicName', () => {
  const valid = ['a', 'sport/tennis/player1', '/', '/finance', 'a//b', 'a/', '$SYS/broker/uptime', 'ü/€/𝄞', ' ', 'x'.repeat(65535)];
  for (const name of valid) {
    it(`accepts ${JSON.stringify(name.length > 40 ? `${name.slice(0, 10)}…(${name.length})` : name)}`, () => {
      assert.equal(validateTopicName(name), undefined);
    });
  }

  const invalid: Array<[string, RegExp]> = [
    ['', /empty.*MQTT-4\.7\.3-1/],
    ['sport/+', /wildcard "\+".*MQTT-3\.3\.2-2/],
    ['sport/#', /wildcard "#"/],
    ['+', /wildcard/],
    ['a#b', /wildcard/],
    ['a\u0000b', /null character/],
    ['x'.repeat(65536), /longer than 65535 bytes/],
    ['€'.repeat(21846), /longer than 65535 bytes/], // 65538 bytes in 21846 UTF-16 units
  ];
  for (const [name, why] of invalid) {
    it(`rejects ${JSON.stringify(name.length > 40 ? `${name.slice(0, 5)}…(${name.length})` : name)}`, () => {
      const problem = validateTopicName(name);
      assert.ok(problem !== undefined);
      assert.match(problem, why);
    });
  }
});

describe('validateTopicFilter', () => {
  const valid = [
    'sport', 'sport/#', '#', '+', '+/+', '/+', '+/', 'sport/+', 'sport/+/player1', 'sport/tennis/#', '+/tennis/#',
    'a//b', '/', '$SYS/#', '$share/group/sport/#', '$share/g/+', '$share/g/#', '$share/g//x', '$share',
    '$sharefoo/x',
  ];
  for (const filter of valid) {
    it(`accepts ${JSON.stringify(filter)}`, () => assert.equal(validateTopicFilter(filter), undefined));
  }

  const invalid: Array<[string, RegExp]> = [
    ['', /empty/],
    ['sport+', /\+ inside a level.*MQTT-4\.7\.1-2/],
    ['+sport', /\+ inside a level/],
    ['sport/+tennis', /\+ inside a level/],
    ['sport/ten+nis/x', /\+ inside a level/],
    ['sport#', /# other than as the whole last level.*MQTT-4\.7\.1-1/],
    ['sport/#/ranking', /# other than/],
    ['#/', /# other than/],
    ['##', /# other than/],
    ['a/b#', /# other than/],
    ['a\u0000', /null character/],
    ['$share/', /empty share name/],
    ['$share//sport', /empty share name/],
    ['$share/group', /no topic filter after the share name/],
    ['$share/group/', /no topic filter after the share name/],
    ['$share/gr+oup/sport', /share name containing \+ or #/],
    ['$share/#/sport', /share name containing/],
    ['$share/g/sport+', /\+ inside a level/],
    ['$share/g/#/x', /# other than/],
    ['x'.repeat(65536), /longer than 65535/],
  ];
  for (const [filter, why] of invalid) {
    it(`rejects ${JSON.stringify(filter.length > 40 ? `${filter.slice(0, 5)}…` : filter)}`, () => {
      const problem = validateTopicFilter(filter);
      assert.ok(problem !== undefined, filter);
      assert.match(problem, why);
    });
  }
});

describe('parseSharedFilter', () => {
  it('splits $share/{group}/{filter}', () => {
    assert.deepEqual(parseSharedFilter('$share/consumers/sport/#'), { group: 'consumers', filter: 'sport/#' });
    assert.deepEqual(parseSharedFilter('$share/g/+'), { group: 'g', filter: '+' });
    assert.deepEqual(parseSharedFilter('$share/g//a'), { group: 'g', filter: '/a' });
  });

  it('returns undefined for plain and invalid filters', () => {
    for (const filter of ['sport/#', '$share', '$share/', '$share/g', '$share//x', '$share/g/', '$sharex/g/a', '$SYS/#']) {
      assert.equal(parseSharedFilter(filter), undefined, filter);
    }
  });
});
