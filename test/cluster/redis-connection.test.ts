// Redis URLs: the plain, TLS, sentinel and cluster forms, passwords kept out of the display form,
// and every malformed one refused in words (MOAT_ERR_REDIS_URL). One real connection through it.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { connectRedis, parseRedisUrl } from '../../src/cluster/redis-connection.js';
import { MoatError } from '../../src/codec/errors.js';
import { startRedis } from '../kit/redis.js';

test('redis URL: plain, TLS, password, user, db, IPv6', () => {
  assert.deepEqual(parseRedisUrl('redis://127.0.0.1:6390'), { kind: 'single', tls: false, hosts: [{ host: '127.0.0.1', port: 6390 }], username: undefined, password: undefined, db: 0, name: undefined, display: 'redis://127.0.0.1:6390' });
  const tls = parseRedisUrl('rediss://moat:s%40cret@redis.example:6380/3');
  assert.equal(tls.tls, true);
  assert.equal(tls.username, 'moat');
  assert.equal(tls.password, 's@cret');
  assert.equal(tls.db, 3);
  assert.equal(tls.display, 'rediss://moat:***@redis.example:6380/3');
  const bare = parseRedisUrl('redis://secret@host');
  assert.deepEqual([bare.username, bare.password, bare.hosts[0]?.port], [undefined, 'secret', 6379]);
  assert.ok(!bare.display.includes('secret'));
  assert.deepEqual(parseRedisUrl('redis://[::1]:7000').hosts, [{ host: '::1', port: 7000 }]);
});

test('redis URL: sentinel and cluster', () => {
  const sentinel = parseRedisUrl('redis+sentinel://:pw@s1:26379,s2/mymaster/2');
  assert.deepEqual([sentinel.kind, sentinel.name, sentinel.db, sentinel.password], ['sentinel', 'mymaster', 2, 'pw']);
  assert.deepEqual(sentinel.hosts, [{ host: 's1', port: 26379 }, { host: 's2', port: 26379 }]);
  const cluster = parseRedisUrl('rediss+cluster://n1:7000,n2:7001');
  assert.deepEqual([cluster.kind, cluster.tls, cluster.hosts.length], ['cluster', true, 2]);
});

test('redis URL: malformed ones are refused in words', () => {
  const cases: Array<[string, RegExp]> = [
    ['127.0.0.1:6379', /not a URL/],
    ['http://h:1', /unknown scheme http:/],
    ['redis://h:0', /port 0 is not 1-65535/],
    ['redis://h:65536', /port 65536 is not 1-65535/],
    ['redis://a:1,b:2', /several hosts need/],
    ['redis+sentinel://s1:26379', /ends with \/MASTER_NAME/],
    ['redis://h/x', /database x is not a number/],
    ['redis+cluster://h:7000/1', /only database 0/],
    ['redis://:6379', /a host is missing/],
  ];
  for (const [url, why] of cases) {
    assert.throws(() => parseRedisUrl(url), (error: unknown) => error instanceof MoatError && error.code === 'MOAT_ERR_REDIS_URL' && why.test(error.message) && error.message.includes('redis://host:6379'), url);
  }
});

test('redis URL: a connection made from it reaches a real redis-server, with its password', async () => {
  const redis = await startRedis({ args: ['--requirepass', 'p w'] });
  try {
    const connection = connectRedis(parseRedisUrl(`redis://:${encodeURIComponent('p w')}@127.0.0.1:${redis.port}`));
    try {
      assert.equal(await connection.ping(), 'PONG');
    } finally {
      connection.disconnect();
    }
  } finally {
    await redis.stop();
  }
});
