import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import fc from 'fast-check';

import { SubscriptionTrie, validateTopicFilter, type MatchResult } from '../../src/topic/index.js';

// [filter, topic, matches?]. Spec examples from MQTT 5.0 section 4.7 plus the empty-level corners.
const MATCH_CASES: Array<[string, string, boolean]> = [
  ['sport/tennis/player1/#', 'sport/tennis/player1', true],
  ['sport/tennis/player1/#', 'sport/tennis/player1/ranking', true],
  ['sport/tennis/player1/#', 'sport/tennis/player1/score/wimbledon', true],
  ['sport/#', 'sport', true],
  ['sport/#', 'sports', false],
  ['#', 'sport/tennis', true],
  ['#', '/', true],
  ['#', 'sport', true],
  ['#', '$SYS/broker/uptime', false],
  ['#', '$', false],
  ['+/monitor/Clients', '$SYS/monitor/Clients', false],
  ['+', '$SYS', false],
  ['+/#', '$SYS/x', false],
  ['$SYS/#', '$SYS/broker/uptime', true],
  ['$SYS/#', '$SYS', true],
  ['$SYS/monitor/+', '$SYS/monitor/Clients', true],
  ['$foo/#', '$foo', true],
  ['sport/tennis/+', 'sport/tennis/player1', true],
  ['sport/tennis/+', 'sport/tennis/player2', true],
  ['sport/tennis/+', 'sport/tennis/player1/ranking', false],
  ['sport/+', 'sport', false],
  ['sport/+', 'sport/', true],
  ['+', 'sport', true],
  ['+', '/finance', false],
  ['+/+', '/finance', true],
  ['/+', '/finance', true],
  ['/#', '/finance', true],
  ['/#', 'finance', false],
  ['+/+', '/', true],
  ['+/+', 'a/b/c', false],
  ['+/#', 'sport', true],
  ['+/tennis/#', 'sport/tennis', true],
  ['a/+/#', 'a/b', true],
  ['a/+/#', 'a', false],
  ['a/#', 'a/', true],
  ['a//b', 'a//b', true],
  ['a/+/b', 'a//b', true],
  ['a/+/b', 'a/x/b', true],
  ['a/b', 'a//b', false],
  ['/', '/', true],
  ['sport', 'sport', true],
  ['sport', 'Sport', false],
  ['sport', 'sport/', false],
  ['sport/', 'sport', false],
  ['a/b/c/d', 'a/b/c/d', true],
];

const ids = (result: MatchResult<unknown>): string[] => result.entries.map((e) => `${e.clientId}:${e.filter}`).sort();

describe('SubscriptionTrie.match', () => {
  for (const [filter, topic, expected] of MATCH_CASES) {
    it(`${JSON.stringify(filter)} ${expected ? 'matches' : 'does not match'} ${JSON.stringify(topic)}`, () => {
      const trie = new SubscriptionTrie<number>();
      trie.add(filter, 'c1', 1);
      const first = trie.match(topic);
      assert.equal(first.entries.length, expected ? 1 : 0);
      assert.equal(first.groups.length, 0);
      // Same answer from the cache.
      assert.equal(trie.match(topic), first);

      // And through a shared subscription on the same filter [MQTT-4.7.2-1 applies to them too].
      const shared = new SubscriptionTrie<number>();
      shared.add(`$share/g/${filter}`, 'c1', 1);
      assert.equal(shared.match(topic).groups.length, expected ? 1 : 0);
    });
  }

  it('reports every matching filter of every client once, all in one trie', () => {
    const trie = new SubscriptionTrie<string>();
    const added = new Set<string>();
    MATCH_CASES.forEach(([filter], i) => {
      trie.add(filter, `c${i % 3}`, filter);
      added.add(`c${i % 3}:${filter}`);
    });
    assert.equal(trie.size, added.size);
    const topics = new Set(MATCH_CASES.map(([, topic]) => topic));
    for (const topic of topics) {
      const expected = [...added].filter((key) => referenceMatch(key.slice(key.indexOf(':') + 1), topic));
      assert.deepEqual(ids(trie.match(topic)), expected.sort(), topic);
    }
  });

  it('agrees with a reference matcher on random filters and topics', () => {
    const level = fc.constantFrom('a', 'b', '', '$x', '$SYS');
    const topicArb = fc.array(level, { minLength: 1, maxLength: 4 }).map((l) => l.join('/')).filter((t) => t.length > 0);
    const filterArb = fc
      .array(fc.constantFrom('a', 'b', '', '$x', '$SYS', '+', '#'), { minLength: 1, maxLength: 4 })
      .map((l) => l.join('/'))
      .filter((f) => validateTopicFilter(f) === undefined);
    fc.assert(
      fc.property(fc.uniqueArray(filterArb, { maxLength: 12 }), fc.array(topicArb, { maxLength: 8 }), (filters, topics) => {
        const trie = new SubscriptionTrie<null>({ cacheSize: 4 });
        for (const filter of filters) trie.add(filter, 'c', null);
        for (const topic of topics) {
          const got = trie.match(topic).entries.map((e) => e.filter).sort();
          assert.deepEqual(got, filters.filter((f) => referenceMatch(f, topic)).sort(), `${topic} vs ${filters.join(' , ')}`);
        }
      }),
      { numRuns: 500 },
    );
  });

  it('reports the same filter once per subscribed client, and overlapping filters separately', () => {
    const trie = new SubscriptionTrie<number>();
    trie.add('sport/#', 'a', 1);
    trie.add('sport/#', 'b', 2);
    trie.add('sport/+', 'a', 3);
    assert.deepEqual(ids(trie.match('sport/tennis')), ['a:sport/#', 'a:sport/+', 'b:sport/#']);
    assert.deepEqual(ids(trie.match('sport')), ['a:sport/#', 'b:sport/#']);
  });

  it('returns an empty result for a topic nobody subscribed to', () => {
    const trie = new SubscriptionTrie<number>();
    trie.add('a/b', 'c', 1);
    const result = trie.match('x/y');
    assert.deepEqual([...result.entries], []);
    assert.deepEqual([...result.groups], []);
  });
});

describe('SubscriptionTrie add / remove', () => {
  it('add returns true for a new (client, filter) and replaces the value otherwise', () => {
    const trie = new SubscriptionTrie<string>();
    assert.equal(trie.add('a/+', 'c1', 'qos0'), true);
    assert.equal(trie.add('a/+', 'c2', 'qos0'), true);
    assert.equal(trie.size, 2);
    assert.equal(trie.match('a/b').entries.find((e) => e.clientId === 'c1')?.value, 'qos0');
    assert.equal(trie.add('a/+', 'c1', 'qos2'), false);
    assert.equal(trie.size, 2);
    const entries = trie.match('a/b').entries;
    assert.equal(entries.length, 2);
    assert.equal(entries.find((e) => e.clientId === 'c1')?.value, 'qos2');
  });

  it('remove deletes only that client\'s subscription on that filter', () => {
    const trie = new SubscriptionTrie<number>();
    trie.add('a/#', 'c1', 1);
    trie.add('a/#', 'c2', 2);
    trie.add('a/b', 'c1', 3);
    assert.equal(trie.remove('a/#', 'c1'), true);
    assert.equal(trie.remove('a/#', 'c1'), false);
    assert.equal(trie.remove('a/+', 'c1'), false);
    assert.equal(trie.remove('nothing/here', 'c1'), false);
    assert.deepEqual(ids(trie.match('a/b')), ['c1:a/b', 'c2:a/#']);
    assert.equal(trie.size, 2);
  });

  it('prunes emptied branches, and the filter can be added again', () => {
    const trie = new SubscriptionTrie<number>();
    trie.add('a/+/c/#', 'c1', 1);
    assert.equal(trie.remove('a/+/c/#', 'c1'), true);
    assert.equal(trie.size, 0);
    assert.equal(trie.match('a/b/c/d').entries.length, 0);
    assert.equal(trie.add('a/+/c/#', 'c1', 2), true);
    assert.equal(trie.match('a/b/c/d').entries[0]?.value, 2);
  });

  it('removeClient removes the client from every listed filter, shared ones included', () => {
    const trie = new SubscriptionTrie<number>();
    trie.add('a', 'c1', 1);
    trie.add('b/#', 'c1', 2);
    trie.add('$share/g/b/#', 'c1', 3);
    trie.add('b/#', 'c2', 4);
    assert.equal(trie.removeClient('c1', ['a', 'b/#', '$share/g/b/#', 'not/subscribed']), 3);
    assert.equal(trie.size, 1);
    assert.deepEqual(ids(trie.match('b/x')), ['c2:b/#']);
    assert.equal(trie.match('b/x').groups.length, 0);
    assert.equal(trie.match('a').entries.length, 0);
  });

  it('drops cached results when subscriptions change', () => {
    const trie = new SubscriptionTrie<number>();
    trie.add('a/b', 'c1', 1);
    assert.equal(trie.match('a/b').entries.length, 1);
    trie.add('a/+', 'c2', 2);
    assert.equal(trie.match('a/b').entries.length, 2);
    trie.remove('a/b', 'c1');
    assert.deepEqual(ids(trie.match('a/b')), ['c2:a/+']);
  });

  it('works with the cache disabled or bounded', () => {
    for (const options of [{ cacheSize: 0 }, { cacheSize: 2 }, { maxCachedMatches: 0 }]) {
      const trie = new SubscriptionTrie<number>(options);
      trie.add('t/+', 'c', 1);
      for (let i = 0; i < 10; i++) assert.equal(trie.match(`t/${i % 4}`).entries.length, 1);
    }
  });

  it('rejects an invalid filter with a MoatError', () => {
    const trie = new SubscriptionTrie<number>();
    for (const filter of ['', 'a/#/b', 'sport+', '$share/g', '$share//a']) {
      assert.throws(() => trie.add(filter, 'c', 1), { code: 'MOAT_ERR_INVALID_TOPIC_FILTER', reasonCode: 0x8f });
    }
    assert.equal(trie.size, 0);
  });
});

describe('SubscriptionTrie shared subscriptions', () => {
  it('groups members by share name and reports the group, not the members, as matches', () => {
    const trie = new SubscriptionTrie<number>();
    trie.add('$share/workers/jobs/#', 'w1', 1);
    trie.add('$share/workers/jobs/#', 'w2', 2);
    trie.add('jobs/#', 'auditor', 3);
    const result = trie.match('jobs/42');
    assert.deepEqual(ids(result), ['auditor:jobs/#']);
    assert.equal(result.groups.length, 1);
    const group = result.groups[0];
    assert.equal(group?.name, 'workers');
    assert.equal(group?.filter, 'jobs/#');
    assert.deepEqual(group?.members.map((m) => [m.clientId, m.value, m.filter]), [
      ['w1', 1, '$share/workers/jobs/#'],
      ['w2', 2, '$share/workers/jobs/#'],
    ]);
    assert.equal(trie.size, 3);
    assert.equal(trie.sharedSize, 2);
    trie.remove('$share/workers/jobs/#', 'w1');
    trie.remove('$share/workers/jobs/#', 'w1'); // gone already: not counted twice
    assert.deepEqual([trie.size, trie.sharedSize], [2, 1]);
  });

  it('keeps different share names, and the same name on different filters, apart', () => {
    const trie = new SubscriptionTrie<number>();
    trie.add('$share/a/t/+', 'c1', 1);
    trie.add('$share/b/t/+', 'c1', 2);
    trie.add('$share/a/t/#', 'c2', 3);
    const groups = trie.match('t/x').groups.map((g) => `${g.name}:${g.filter}:${g.members.map((m) => m.clientId).join(',')}`);
    assert.deepEqual(groups.sort(), ['a:t/#:c2', 'a:t/+:c1', 'b:t/+:c1']);
  });

  it('round-robins with next()', () => {
    const trie = new SubscriptionTrie<number>();
    for (const id of ['c1', 'c2', 'c3']) trie.add('$share/g/t', id, 0);
    const group = trie.match('t').groups[0];
    assert.ok(group);
    const picks = Array.from({ length: 7 }, () => group.next()?.clientId);
    assert.deepEqual(picks, ['c1', 'c2', 'c3', 'c1', 'c2', 'c3', 'c1']);
  });

  it('skips members the caller says are unavailable, and returns undefined when none is', () => {
    const trie = new SubscriptionTrie<number>();
    for (const id of ['c1', 'c2', 'c3']) trie.add('$share/g/t', id, 0);
    const group = trie.match('t').groups[0];
    assert.ok(group);
    const offline = new Set(['c2']);
    const available = (m: { clientId: string }): boolean => !offline.has(m.clientId);
    assert.deepEqual(Array.from({ length: 4 }, () => group.next(available)?.clientId), ['c1', 'c3', 'c1', 'c3']);
    offline.add('c1').add('c3');
    assert.equal(group.next(available), undefined);
    offline.clear();
    assert.equal(group.next(available)?.clientId, 'c1');
  });

  it('keeps the rotation fair when a member leaves or its value is replaced', () => {
    const trie = new SubscriptionTrie<number>();
    for (const id of ['c1', 'c2', 'c3', 'c4']) trie.add('$share/g/t', id, 0);
    const group = trie.match('t').groups[0];
    assert.ok(group);
    assert.equal(group.next()?.clientId, 'c1');
    assert.equal(group.next()?.clientId, 'c2');
    trie.remove('$share/g/t', 'c1'); // before the cursor
    assert.equal(group.next()?.clientId, 'c3');
    assert.equal(trie.add('$share/g/t', 'c4', 9), false); // replace keeps its place
    const c4 = group.next();
    assert.deepEqual([c4?.clientId, c4?.value], ['c4', 9]);
    assert.equal(group.next()?.clientId, 'c2');
    assert.equal(trie.size, 3);
  });

  it('removes the group when its last member leaves', () => {
    const trie = new SubscriptionTrie<number>();
    trie.add('$share/g/t', 'c1', 0);
    assert.equal(trie.remove('$share/g/t', 'c2'), false);
    assert.equal(trie.remove('$share/h/t', 'c1'), false);
    assert.equal(trie.remove('$share/g/t', 'c1'), true);
    assert.equal(trie.match('t').groups.length, 0);
    assert.equal(trie.size, 0);
  });

  it('does not deliver $-topics to shared wildcard filters [MQTT-4.7.2-1]', () => {
    const trie = new SubscriptionTrie<number>();
    trie.add('$share/g/#', 'c1', 0);
    trie.add('$share/g/$SYS/#', 'c2', 0);
    assert.deepEqual(trie.match('$SYS/load').groups.map((g) => g.filter), ['$SYS/#']);
    assert.deepEqual(trie.match('load').groups.map((g) => g.filter), ['#']);
  });
});

/** Straightforward matcher straight from section 4.7, to check the trie against. */
function referenceMatch(filter: string, topic: string): boolean {
  if (topic.startsWith('$') && (filter.startsWith('+') || filter.startsWith('#'))) return false;
  const f = filter.split('/');
  const t = topic.split('/');
  for (let i = 0; i < f.length; i++) {
    if (f[i] === '#') return true;
    if (i >= t.length) return false;
    if (f[i] !== '+' && f[i] !== t[i]) return false;
  }
  return f.length === t.length;
}
