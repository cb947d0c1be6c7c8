// The Bus contract (src/cluster/bus.ts): every Bus implementation runs this suite. `open(n)` gives
// n nodes of one fresh cluster; the suite checks interest routing, no echo to the sender, origin
// node and increasing sequence on every envelope, session claims, and that a closed node is gone.
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
}
