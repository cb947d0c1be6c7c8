// The Bus contract (src/cluster/bus.ts): every Bus implementation runs this suite. `open(n)` gives
// n nodes of one fresh cluster; the suite checks interest routing, no echo to the sender, origin
// node and increasing sequence on every envelope, session claims, that a closed node is gone, and
// that a `$share/` group held on several nodes is given each message by exactly one of them.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Bus, BusMessage, SessionClaim } from '../../src/cluster/bus.js';
import type { StoredMessage } from '../../src/store/store.js';

function message(topic: string, payload = 'x'): StoredMessage {
  return { topic, payload: Buffer.from(payload), qos: 1, retain: false, properties: undefined, expiresAt: 0, origin: 'pub' };
}

interface Node {
  readonly bus: Bus;
  readonly messages: BusMessage[];
  readonly claims: SessionClaim[];
}

export function busContract(name: string, open: (nodes: number) => Bus[] | Promise<Bus[]>, settle: () => Promise<void> = () => Promise.resolve()): void {
  const withNodes = (title: string, count: number, body: (nodes: Node[]) => Promise<void>): void => {
    test(`${name}: ${title}`, async () => {
      const buses = await open(count);
      const nodes = buses.map((bus) => {
        const node: Node = { bus, messages: [], claims: [] };
        bus.attach({ message: (m) => node.messages.push(m), claim: (c) => node.claims.push(c) });
        return node;
      });
      try {
        await body(nodes);
      } finally {
        await Promise.all(buses.map((bus) => bus.close()));
      }
    });
  };
  const topics = (node: Node): string[] => node.messages.map((m) => m.message.topic);

  withNodes('node ids are distinct', 3, async (nodes) => {
    assert.equal(new Set(nodes.map((n) => n.bus.nodeId)).size, 3);
  });

  withNodes('a message reaches the nodes whose interest matches, never its sender, with the sender id and an increasing sequence', 3, async (nodes) => {
    const [a, b, c] = nodes as [Node, Node, Node];
    a.bus.addInterest('#');
    b.bus.addInterest('s/+/t');
    c.bus.addInterest('other/#');
    await settle();
    a.bus.publish(message('s/1/t', 'one'));
    a.bus.publish(message('s/2/t', 'two'));
    a.bus.publish(message('nothing/here'));
    await settle();
    assert.deepEqual(topics(a), []);
    assert.deepEqual(topics(b), ['s/1/t', 's/2/t']);
    assert.deepEqual(topics(c), []);
    const [first, second] = b.messages as [BusMessage, BusMessage];
    assert.equal(first.node, a.bus.nodeId);
    assert.ok(second.seq > first.seq);
    assert.equal(first.message.payload.toString(), 'one');
    c.bus.publish(message('s/3/t'));
    await settle();
    assert.deepEqual(topics(a), ['s/3/t']);
    assert.deepEqual(topics(b), ['s/1/t', 's/2/t', 's/3/t']);
  });

  withNodes('interest is counted: a filter added twice stays until removed twice', 2, async ([a, b]) => {
    b!.bus.addInterest('x/#');
    b!.bus.addInterest('x/#');
    b!.bus.removeInterest('x/#');
    await settle();
    a!.bus.publish(message('x/1'));
    b!.bus.removeInterest('x/#');
    b!.bus.removeInterest('x/#');
    await settle();
    a!.bus.publish(message('x/2'));
    await settle();
    assert.deepEqual(topics(b!), ['x/1']);
  });

  withNodes('othersInterested tells whether any other node would take a topic; $share filters count by their inner filter', 2, async ([a, b]) => {
    b!.bus.addInterest('$share/g/s/#');
    await settle();
    assert.equal(a!.bus.othersInterested('s/1'), true);
    assert.equal(a!.bus.othersInterested('t/1'), false);
    assert.equal(b!.bus.othersInterested('s/1'), false, 'its own interest is not "others"');
  });

  withNodes('$-topics reach only nodes whose filters name them', 2, async ([a, b]) => {
    b!.bus.addInterest('#');
    await settle();
    a!.bus.publish(message('$SYS/broker/uptime'));
    a!.bus.publish(message('plain'));
    await settle();
    assert.deepEqual(topics(b!), ['plain']);
  });

  withNodes('a session claim reaches every other node, with the claiming node and a sequence', 3, async ([a, b, c]) => {
    a!.bus.claimSession('sensor-1');
    await settle();
    assert.deepEqual(a!.claims, []);
    for (const node of [b!, c!]) {
      assert.equal(node.claims.length, 1);
      assert.equal(node.claims[0]?.clientId, 'sensor-1');
      assert.equal(node.claims[0]?.node, a!.bus.nodeId);
    }
  });

  withNodes('a closed node receives nothing more and sends nothing', 2, async ([a, b]) => {
    a!.bus.addInterest('#');
    b!.bus.addInterest('#');
    await settle();
    await b!.bus.close();
    a!.bus.publish(message('after/close'));
    b!.bus.publish(message('from/closed'));
    a!.bus.claimSession('c');
    await settle();
    assert.deepEqual([topics(a!), topics(b!), b!.claims.length], [[], [], 0]);
    assert.equal(a!.bus.othersInterested('x'), false);
  });

  /** Whether `filter` is one this node delivers to, by publish()'s return (undefined = all its own). */
  const chosenHere = (own: readonly string[] | undefined, filter: string): boolean => own === undefined || own.includes(filter);

  withNodes('a $share group held on 3 nodes: each message is delivered by exactly one node, every node gets turns', 3, async (nodes) => {
    const group = '$share/g/t/#';
    for (const node of nodes) node.bus.addInterest(group);
    await settle();
    const chosen = new Map<string, string[]>(); // topic -> the nodes that deliver it to the group
    const choose = (topic: string, node: string): void => void chosen.set(topic, [...(chosen.get(topic) ?? []), node]);
    for (const publisher of nodes) {
      for (let i = 0; i < 30; i++) {
        const topic = `t/${publisher.bus.nodeId}/${i}`;
        if (chosenHere(publisher.bus.publish(message(topic)), group)) choose(topic, publisher.bus.nodeId);
      }
    }
    await settle();
    for (const node of nodes) {
      for (const envelope of node.messages) {
        // Its only interest is the group: an envelope means it was chosen.
        assert.deepEqual(envelope.sharedFilters, [group]);
        choose(envelope.message.topic, node.bus.nodeId);
      }
    }
    assert.equal(chosen.size, 90);
    for (const [topic, by] of chosen) assert.equal(by.length, 1, `${topic} delivered by ${by.join(', ')}`);
    const turns = new Map<string, number>();
    for (const [by] of chosen.values()) turns.set(by!, (turns.get(by!) ?? 0) + 1);
    assert.deepEqual([...turns.keys()].sort(), nodes.map((n) => n.bus.nodeId).sort());
  });

  withNodes('an envelope names the shared filters its node was chosen for; plain interest still gets every message', 2, async ([a, b]) => {
    const group = '$share/g/s/#';
    a!.bus.addInterest(group);
    b!.bus.addInterest(group);
    b!.bus.addInterest('s/plain/#');
    await settle();
    const here = [a!.bus.publish(message('s/plain/1')), a!.bus.publish(message('s/plain/2')), a!.bus.publish(message('s/other/1')), a!.bus.publish(message('s/other/2'))];
    await settle();
    const byTopic = new Map(b!.messages.map((m) => [m.message.topic, m.sharedFilters]));
    assert.deepEqual([byTopic.has('s/plain/1'), byTopic.has('s/plain/2')], [true, true], 'plain interest takes both');
    const topicsOrder = ['s/plain/1', 's/plain/2', 's/other/1', 's/other/2'];
    topicsOrder.forEach((topic, i) => {
      const atA = chosenHere(here[i], group);
      const atB = byTopic.get(topic)?.includes(group) ?? false;
      assert.equal(Number(atA) + Number(atB), 1, `${topic}: exactly one node delivers to the group`);
      if (!atB && topic.startsWith('s/other/')) assert.equal(byTopic.has(topic), false, `${topic}: no envelope for a node not chosen`);
    });
    assert.deepEqual(byTopic.get('s/plain/1')?.length === 0 || byTopic.get('s/plain/2')?.length === 0, true, 'round robin: one of the two went to a');
  });

  withNodes('a group held on one other node only: this node delivers to none of it, that node to all', 2, async ([a, b]) => {
    b!.bus.addInterest('$share/g/u/#');
    a!.bus.addInterest('u/#');
    await settle();
    const own = a!.bus.publish(message('u/1'));
    await settle();
    assert.equal(chosenHere(own, '$share/g/u/#'), false);
    assert.deepEqual(b!.messages.map((m) => m.sharedFilters), [['$share/g/u/#']]);
  });
}
