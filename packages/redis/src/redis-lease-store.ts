import type { LeaseStore, ReleaseWatch } from '@dogpile/core';
import type { Cluster, Redis } from 'ioredis';
import type { LockNotifier } from './lock-notifier.js';
import { EXTEND, RELEASE, runScript } from './lock-scripts.js';

/** What {@link RedisLeaseStore} needs from its backend. */
export interface RedisLeaseContext {
  /** Runs `fn` on a ready client; errors come out as `RedisBackendError`s. */
  command<T>(operation: string, fn: (client: Redis | Cluster) => Promise<T>): Promise<T>;
  /** ioredis's `keyPrefix`, which Redis sees in front of every key (and so in release messages). */
  readonly keyPrefix: string;
  /** Wakes waiters on release; `undefined` when `lockNotify` is off. */
  readonly notifier: LockNotifier | undefined;
  /** The channel releases publish on, or `''` for none. */
  readonly channel: string;
}

/**
 * The leases of core's `LeaseMutex` in Redis: a lease is a key `<lockPrefix><key>` holding the
 * holder's token with a `PX` TTL. Take is `SET NX PX`; release and extend compare the token in
 * a Lua script, and release publishes the lock key on `<lockPrefix>:released` for waiters.
 */
export class RedisLeaseStore implements LeaseStore {
  readonly #ctx: RedisLeaseContext;
  /** Present only with `lockNotify`: waiters then hear releases instead of only polling. */
  readonly watchReleases?: (lockKey: string, onRelease: () => void) => Promise<ReleaseWatch>;

  constructor(ctx: RedisLeaseContext) {
    this.#ctx = ctx;
    const notifier = ctx.notifier;
    if (notifier !== undefined) {
      this.watchReleases = async (lockKey, onRelease) => {
        const stop = notifier.register(ctx.keyPrefix + lockKey, onRelease);
        await notifier.ready();
        return {
          get listening() {
            return notifier.subscribed;
          },
          stop,
        };
      };
    }
  }

  async tryTake(lockKey: string, token: string, ttlMs: number): Promise<boolean> {
    const reply = await this.#ctx.command('lock SET NX', (client) =>
      client.set(lockKey, token, 'PX', ttlMs, 'NX'),
    );
    return reply === 'OK';
  }

  async release(lockKey: string, token: string): Promise<boolean> {
    const released = await this.#ctx.command('lock release', (client) =>
      runScript(client, RELEASE, lockKey, [token, this.#ctx.channel]),
    );
    return released === 1;
  }

  async extend(lockKey: string, token: string, ttlMs: number): Promise<boolean> {
    const extended = await this.#ctx.command('lock extend', (client) =>
      runScript(client, EXTEND, lockKey, [token, ttlMs]),
    );
    return extended === 1;
  }

  async isHeld(lockKey: string): Promise<boolean> {
    return (await this.#ctx.command('lock EXISTS', (client) => client.exists(lockKey))) > 0;
  }
}
