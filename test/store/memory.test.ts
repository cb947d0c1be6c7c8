// The memory store passes the Store contract; it is not durable.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MemoryStore } from '../../src/store/memory.js';
import { storeContract } from './contract.js';

storeContract('memory', () => new MemoryStore());

test('memory: not durable, so acknowledgements never wait for it', () => {
  assert.equal(new MemoryStore().durable, false);
});
