// cluster_redis and cluster_prefix (issue 13): a URL is read as the Redis connections read it, so a
// bad one is a config error at its file:line with the fix, before anything starts.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError, parseConfig } from '../../src/config/index.js';

const BASE = 'listener 1883 127.0.0.1\nallow_anonymous true\n';

function problem(text: string): string {
  try {
    parseConfig(`${BASE}${text}`, 'moat.conf');
  } catch (error) {
    assert.ok(error instanceof ConfigError);
    return error.message;
  }
  assert.fail(`"${text.trim()}" was accepted`);
}

test('cluster_redis takes a Redis URL; cluster_prefix defaults to moat:', () => {
  const alone = parseConfig(BASE, 'moat.conf');
  assert.equal(alone.clusterRedis, undefined);
  assert.equal(alone.clusterPrefix, 'moat:');
  const node = parseConfig(`${BASE}cluster_redis rediss://app:secret@redis.example:6380/2\ncluster_prefix plant1:\n`, 'moat.conf');
  assert.equal(node.clusterRedis, 'rediss://app:secret@redis.example:6380/2');
  assert.equal(node.clusterPrefix, 'plant1:');
  assert.equal(parseConfig(`${BASE}cluster_redis redis+sentinel://s1:26379,s2:26379/mymaster\n`, 'moat.conf').clusterRedis, 'redis+sentinel://s1:26379,s2:26379/mymaster');
});

test('a URL moat cannot read is refused at its line, with the forms it reads', () => {
  assert.match(problem('cluster_redis http://redis:6379\n'), /^moat\.conf:3: cluster_redis: cluster URL "http:\/\/redis:6379": unknown scheme http:\. Fix: write redis:\/\/host:6379/);
  assert.match(problem('cluster_redis redis://redis:99999\n'), /^moat\.conf:3: .*port 99999 is not 1-65535\. Fix: write redis:\/\//);
  assert.match(problem('cluster_redis redis+sentinel://s1:26379\n'), /^moat\.conf:3: .*\/MASTER_NAME\. Fix: /);
  assert.match(problem('cluster_redis\n'), /^moat\.conf:3: cluster_redis needs a value\. Fix: write e\.g\. "cluster_redis redis:\/\/127\.0\.0\.1:6379"/);
  assert.match(problem('cluster_prefix a{b}\n'), /^moat\.conf:3: cluster_prefix must not contain "\{" or "\}"/);
});
