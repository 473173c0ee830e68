import { getBackendFactory, ValidationError } from '@dogpile/core';
import { describe, expect, it } from 'vitest';
import { MemcachedBackend, MemcachedBackendError } from '../src/index.js';

const make = (options: unknown) =>
  new MemcachedBackend(options as ConstructorParameters<typeof MemcachedBackend>[0]);

describe('MemcachedBackend options', () => {
  it('rejects unknown options, listing the known ones', () => {
    expect(() => make({ server: 'x:1' })).toThrow(ValidationError);
    expect(() => make({ server: 'x:1' })).toThrow(
      /Unknown MemcachedBackend option "server".*servers/,
    );
    expect(() => make({ redisExpirationTime: 1 })).toThrow(/memcachedExpireTime/);
  });

  it('rejects malformed servers with ERR_MEMCACHED_SERVERS', () => {
    for (const servers of [
      '',
      'a:1,,b:2',
      'host:port',
      'host:0',
      'host:70000',
      'a:1:2',
      'memcached://host:11211',
      'host 1:11211',
      ':11211',
      'user@host:1',
      '[::1',
      [],
      [1],
      42,
    ]) {
      const error = (() => {
        try {
          make({ servers });
        } catch (e) {
          return e;
        }
      })();
      expect(error, JSON.stringify(servers)).toBeInstanceOf(MemcachedBackendError);
      expect((error as MemcachedBackendError).code).toBe('ERR_MEMCACHED_SERVERS');
    }
  });

  it('takes the forms memjs and Python dogpile.cache take, with the password kept out of messages', async () => {
    const ok = [
      'host',
      'host:11211',
      'a:1,b:2',
      ['a:1', 'b:2'],
      'user:pa%40ss@host:11211',
      '[::1]:11211',
      ' a:1 , b:2 ',
    ];
    for (const servers of ok) {
      const backend = make({ servers });
      await backend.close();
    }
    const viaUrl = make({ url: ['127.0.0.1:1', '127.0.0.1:2'] });
    expect(viaUrl.client.servers.map((s) => s.port)).toEqual([1, 2]);
    await viaUrl.close();
    expect(() => make({ url: 'a:1', servers: 'b:2' })).toThrow(/alias/);
    try {
      make({ servers: 'user:secret@host:bad' });
    } catch (e) {
      expect(String((e as Error).message)).not.toContain('secret');
    }
  });

  it('rejects bad values with typed errors', () => {
    const bad: Array<[Record<string, unknown>, RegExp]> = [
      [{ retries: -1 }, /retries/],
      [{ retries: 1.5 }, /retries/],
      [{ onValueTooLarge: 'ignore' }, /onValueTooLarge/],
      [{ memcachedExpireTime: 'soon' }, /memcachedExpireTime|duration/],
      [{ memcachedExpireTime: -5 }, /memcachedExpireTime/],
      [{ memcachedExpireTime: {} }, /memcachedExpireTime/],
      [{ commandTimeout: 0 }, /commandTimeout/],
      [{ connectTimeout: 'x' }, /connectTimeout|duration/],
      [{ lockTimeout: 0 }, /lockTimeout/],
      [{ lockPrefix: 1 }, /lockPrefix/],
      [{ distributedLock: 'yes' }, /distributedLock/],
      [{ username: 1 }, /username/],
      [{ keepAlive: 'no' }, /keepAlive/],
      [{ serializer: {} }, /serializer/],
      [{ client: {} }, /memjs Client/],
      [{ client: { servers: [], incrSeq() {}, getServer() {} }, servers: 'a:1' }, /only one/],
    ];
    for (const [options, message] of bad) {
      expect(() => make(options), JSON.stringify(options)).toThrow(ValidationError);
      expect(() => make(options), JSON.stringify(options)).toThrow(message);
    }
  });

  it('is registered as memcached and under the Python backend names', async () => {
    for (const name of ['memcached', 'dogpile.cache.pymemcache', 'dogpile.cache.memcached']) {
      const backend = getBackendFactory(name)({ servers: '127.0.0.1:1', distributedLock: true });
      expect(backend).toBeInstanceOf(MemcachedBackend);
      expect(backend.getMutex('k')).not.toBeNull();
      await backend.close();
    }
  });
});
