import { ValidationError } from '@dogpile/core';
import { describe, expect, it } from 'vitest';
import { RedisBackendError } from '../src/index.js';
import { resolveOptions } from '../src/options.js';

describe('RedisBackend options', () => {
  it('has documented defaults', () => {
    const options = resolveOptions({});
    expect(options.connection).toMatchObject({
      kind: 'standalone',
      options: { host: '127.0.0.1', port: 6379 },
    });
    expect(options).toMatchObject({
      connectTimeoutMs: 5000,
      commandTimeoutMs: 5000,
      expirationMs: undefined,
      distributedLock: false,
      lockNotify: true,
      batchReads: true,
      lease: {
        lockTimeoutMs: 10_000,
        lockBlockingTimeoutMs: null,
        lockPrefix: '_lock',
        lockAutoExtend: true,
        lockPollMinMs: 5,
        lockPollMaxMs: 100,
      },
    });
    // Reads are batched, so ioredis's auto-pipelining (which holds a lone read a turn) is off,
    // unless batching is; Cluster keeps it (reads are not batched there).
    expect(options.connection).toMatchObject({ options: { enableAutoPipelining: false } });
    expect(resolveOptions({ batchReads: false }).connection).toMatchObject({
      options: { enableAutoPipelining: true },
    });
    expect(
      resolveOptions({ redisOptions: { enableAutoPipelining: true } }).connection,
    ).toMatchObject({ options: { enableAutoPipelining: true } });
    expect(resolveOptions({ startupNodes: [{ host: 'h', port: 1 }] }).connection).toMatchObject({
      options: { enableAutoPipelining: true, redisOptions: { enableAutoPipelining: true } },
    });
    // Without release announcements, polling is how a waiter learns of a release: it polls faster.
    expect(resolveOptions({ lockNotify: false }).lease).toMatchObject({
      lockPollMinMs: 5,
      lockPollMaxMs: 10,
    });
  });

  it('takes durations as seconds or strings', () => {
    const options = resolveOptions({
      redisExpirationTime: '2h',
      lockTimeout: 1.5,
      lockBlockingTimeout: '250ms',
      lockPollMin: 0.002,
      lockPollMax: '1s',
      commandTimeout: '750ms',
      connectTimeout: 2,
    });
    expect(options).toMatchObject({
      expirationMs: 7_200_000,
      lease: {
        lockTimeoutMs: 1500,
        lockBlockingTimeoutMs: 250,
        lockPollMinMs: 2,
        lockPollMaxMs: 1000,
      },
      commandTimeoutMs: 750,
      connectTimeoutMs: 2000,
    });
    expect(resolveOptions({ redisExpirationTime: -1 }).expirationMs).toBeUndefined();
    expect(resolveOptions({ redisExpirationTime: null }).expirationMs).toBeUndefined();
    expect(resolveOptions({ redisExpirationTime: 0 }).expirationMs).toBeUndefined();
    expect(resolveOptions({ lockBlockingTimeout: 0 }).lease.lockBlockingTimeoutMs).toBe(0);
  });

  it('passes timeouts, credentials and extra ioredis options to the client it opens', () => {
    const { connection } = resolveOptions({
      host: 'cache',
      port: 7000,
      username: 'app',
      password: 'pw',
      db: 3,
      commandTimeout: 1,
      redisOptions: { connectionName: 'mine', maxRetriesPerRequest: 5 },
    });
    expect(connection).toMatchObject({
      kind: 'standalone',
      options: {
        host: 'cache',
        port: 7000,
        username: 'app',
        password: 'pw',
        db: 3,
        commandTimeout: 1000,
        connectionName: 'mine',
        maxRetriesPerRequest: 5,
      },
    });
  });

  it('accepts Python dogpile.cache argument names', () => {
    const options = resolveOptions({
      socketTimeout: 2,
      socketConnectTimeout: 3,
      lockSleep: 0.2,
      threadLocalLock: false,
    } as never);
    expect(options).toMatchObject({
      commandTimeoutMs: 2000,
      connectTimeoutMs: 3000,
      lease: { lockPollMaxMs: 200 },
    });
  });

  it('accepts a Python dogpile.cache Sentinel config', () => {
    expect(
      resolveOptions({
        sentinels: [['s1', 26379]],
        serviceName: 'svc',
        socketKeepalive: true,
      } as never).connection,
    ).toMatchObject({
      kind: 'sentinel',
      options: { sentinels: [{ host: 's1', port: 26379 }], name: 'svc' },
    });
  });

  it('builds Sentinel and Cluster connections', () => {
    expect(
      resolveOptions({
        sentinels: [{ host: 's1', port: 26379 }],
        name: 'master',
        sentinelPassword: 'sp',
      }).connection,
    ).toMatchObject({
      kind: 'sentinel',
      options: { sentinels: [{ host: 's1', port: 26379 }], name: 'master', sentinelPassword: 'sp' },
    });
    const cluster = resolveOptions({
      startupNodes: [{ host: 'n1', port: 7000 }],
      clusterOptions: { maxRedirections: 4 },
    });
    expect(cluster.connection).toMatchObject({
      kind: 'cluster',
      startupNodes: [{ host: 'n1', port: 7000 }],
      options: { maxRedirections: 4, redisOptions: { commandTimeout: 5000 } },
    });
  });

  it.each([
    [{ nope: 1 }, /Unknown RedisBackend option "nope"/],
    [{ url: 'redis://a', host: 'b' }, /url and host\/port/],
    [{ port: 0 }, /port must be between 1 and 65535/],
    [{ port: 1.5 }, /port must be a non-negative integer/],
    [{ db: -1 }, /db must be a non-negative integer/],
    [{ lockTimeout: 0 }, /lockTimeout must be more than 0/],
    [{ lockTimeout: -1 }, /lockTimeout must be more than 0/],
    [{ lockTimeout: 'soon' }, /lockTimeout must be a number of seconds or a duration string/],
    [{ commandTimeout: -5 }, /commandTimeout must be a non-negative number/],
    [{ redisExpirationTime: -2 }, /redisExpirationTime must be a non-negative number/],
    [
      { lockPollMin: '50ms', lockPollMax: '10ms' },
      /lockPollMax \(10 ms\) must not be less than lockPollMin \(50 ms\)/,
    ],
    [{ sentinels: [{ host: 'a', port: 1 }] }, /name .* is required with sentinels/],
    [{ sentinels: [], name: 'x' }, /sentinels must be a non-empty array/],
    [{ startupNodes: [] }, /startupNodes must be a non-empty array/],
    [{ sentinels: [{ host: 's' }], name: 'x' }, /Each of the sentinels must be/],
    [{ startupNodes: [{ host: 'a', port: 1 }], db: 2 }, /Cluster has only database 0/],
    [{ client: { get: () => {} } }, /client must be an ioredis Redis or Cluster instance/],
    [{ distributedLock: 'yes' }, /distributedLock must be a boolean/],
    [{ batchReads: 1 }, /batchReads must be a boolean/],
    [{ serializer: {} }, /serializer must have serialize\(\) and deserialize\(\)/],
    [{ keyMangler: 'sha1' }, /keyMangler must be a function/],
  ])('rejects %j with a ValidationError', (options, message) => {
    expect(() => resolveOptions(options as never)).toThrow(ValidationError);
    expect(() => resolveOptions(options as never)).toThrow(message);
  });

  it.each([
    'localhost:6379',
    'http://localhost',
    'redis://',
    'redis://host/db1',
    'redis://:pw@host:99999',
  ])('rejects the url %s with ERR_REDIS_URL', (url) => {
    let caught: unknown;
    try {
      resolveOptions({ url });
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(RedisBackendError);
    expect((caught as RedisBackendError).code).toBe('ERR_REDIS_URL');
  });

  it('accepts redis://, rediss:// and unix:// urls', () => {
    expect(resolveOptions({ url: 'redis://u:p@cache:6380/2' }).where).toBe('cache:6380');
    expect(resolveOptions({ url: 'rediss://cache' }).where).toBe('cache:6379');
    expect(resolveOptions({ url: 'unix:///tmp/redis.sock' }).where).toBe('unix:/tmp/redis.sock');
  });
});
