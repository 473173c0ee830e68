import {
  BytesBackend,
  CantDeserializeError,
  LeaseLocks,
  type LeaseMutex,
  NO_VALUE,
  type NoValue,
  reportError,
  validateKey,
} from '@dogpile/core';
import { Cluster, Redis } from 'ioredis';
import { groupBySlot } from './cluster-slots.js';
import { closedError, RedisBackendError, toRedisError } from './errors.js';
import { LockNotifier } from './lock-notifier.js';
import { type RedisBackendOptions, type ResolvedOptions, resolveOptions } from './options.js';
import { ReadBatcher, type ReadChannel } from './read-batcher.js';
import { RedisLeaseStore } from './redis-lease-store.js';
import { keepTimerList } from './timer-list.js';

type Client = Redis | Cluster;

const QUIT_TIMEOUT_MS = 2000;

function toBuffer(bytes: Uint8Array): Buffer {
  // ioredis sends a Buffer as is but turns any other object into a string ("1,2,3").
  return Buffer.isBuffer(bytes)
    ? bytes
    : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** Throws the first error of an ioredis pipeline's results. */
function checkPipeline(results: Array<[Error | null, unknown]> | null): void {
  if (results === null) throw new Error('Connection is closed.');
  for (const [error] of results) if (error) throw error;
}

/**
 * A dogpile.cache backend on Redis through ioredis: standalone, Sentinel or Cluster, optionally
 * with a distributed dogpile lock (core's `LeaseMutex`). Values are stored as
 * `JSON(metadata)|payload` bytes, the layout Python dogpile.cache uses, so with the JSON serializer
 * both read each other's values, and with the default `lockPrefix` both take the same locks.
 *
 * @example
 * const region = makeRegion().configure(
 *   new RedisBackend({ url: 'redis://localhost:6379/0', distributedLock: true, redisExpirationTime: '2h' }),
 *   { expirationTime: '10m' },
 * );
 * // or, once @dogpile/redis is imported:
 * region.configure('redis', { expirationTime: 600, arguments: { url: 'redis://localhost:6379/0' } });
 */
export class RedisBackend extends BytesBackend {
  /** The ioredis client in use: the one given as `client`, or the one this backend opened. */
  readonly client: Client;
  /** Whether this backend talks to a Redis Cluster (multi-key calls are then split by slot). */
  readonly isCluster: boolean;
  readonly #options: ResolvedOptions;
  readonly #ownsClient: boolean;
  readonly #keyPrefix: string;
  readonly #notifier: LockNotifier | undefined;
  readonly #locks: LeaseLocks;
  #readyPromise: Promise<void> | undefined;
  #lastError: unknown;
  /**
   * Set when connecting failed, cleared when the client is ready again: while it is set, calls
   * fail at once instead of each waiting for ioredis's next reconnect attempt.
   */
  #down: RedisBackendError | undefined;
  readonly #onReady = () => {
    this.#down = undefined;
  };
  /**
   * Set when a command got no reply within `commandTimeout` (a stalled server: SIGSTOP, a full
   * network buffer), cleared when a PING is answered: while it is set, calls fail at once
   * instead of each waiting out its own timeout.
   */
  #stalled: RedisBackendError | undefined;
  #closed = false;
  /** This backend's GETs, gathered into MGETs with `batchReads` (outside Cluster). */
  readonly #reads: ReadBatcher;
  /** See {@link keepTimerList}. */
  #timerKeeper: NodeJS.Timeout | undefined;

  /** @param options see {@link RedisBackendOptions}; with none, connects to `127.0.0.1:6379`. */
  constructor(options: RedisBackendOptions = {}) {
    super();
    const resolved = resolveOptions(options);
    this.#options = resolved;
    if (resolved.keyMangler) this.keyMangler = resolved.keyMangler;
    if (resolved.serializer) this.serializer = resolved.serializer;

    const connection = resolved.connection;
    if (connection.kind === 'client') {
      this.client = connection.client;
      this.#ownsClient = false;
    } else {
      this.#ownsClient = true;
      if (connection.kind === 'cluster') {
        this.client = new Cluster(connection.startupNodes, connection.options);
      } else if (connection.kind === 'sentinel') {
        this.client = new Redis(connection.options);
      } else if (connection.url !== undefined) {
        this.client = new Redis(connection.url, connection.options);
      } else {
        this.client = new Redis(connection.options);
      }
      // Failures reach the callers as RedisBackendErrors; without a listener ioredis would also
      // print every reconnect attempt as an unhandled error.
      this.client.on('error', (error: unknown) => {
        this.#lastError = error;
      });
    }
    this.client.on('ready', this.#onReady);
    this.isCluster = (this.client as Cluster).isCluster === true;
    this.#reads = new ReadBatcher(this.#readChannel(), {
      batching: resolved.batchReads && !this.isCluster,
    });
    const clientOptions = this.isCluster
      ? (this.client as Cluster).options.redisOptions
      : (this.client as Redis).options;
    this.#keyPrefix = clientOptions?.keyPrefix ?? '';
    this.#timerKeeper = keepTimerList(clientOptions?.commandTimeout);

    const channel =
      resolved.distributedLock && resolved.lockNotify
        ? `${resolved.lease.lockPrefix}:released`
        : '';
    this.#notifier =
      channel === ''
        ? undefined
        : new LockNotifier(
            channel,
            () => this.client.duplicate() as Client,
            (error) =>
              reportError({
                operation: 'lockSubscribe',
                error: toRedisError(error, resolved.where, `SUBSCRIBE ${channel}`),
              }),
          );
    this.#locks = new LeaseLocks({
      store: new RedisLeaseStore({
        command: (operation, fn) => this.#command(operation, fn),
        keyPrefix: this.#keyPrefix,
        notifier: this.#notifier,
        channel,
      }),
      settings: resolved.lease,
      where: `Redis at ${resolved.where}`,
      lostError: (message) => new RedisBackendError('ERR_REDIS_LOCK_LOST', message),
      closedError: () =>
        new RedisBackendError(
          'ERR_REDIS_CLOSED',
          'The RedisBackend was closed while waiting for a lock. Do not close a backend that is still in use.',
        ),
    });
  }

  /** The lock key prefix in use (`'_lock'` unless configured). */
  get lockPrefix(): string {
    return this.#options.lease.lockPrefix;
  }

  /** Whether {@link close} was called. */
  get closed(): boolean {
    return this.#closed;
  }

  // ---------------------------------------------------------------- connection state

  /**
   * Resolves once the client can take commands. Waiting here instead of in ioredis's offline queue
   * turns a server that is down, refusing or rejecting our password into a prompt, precise error.
   * Only the first call after a disconnect waits (at most `connectTimeout`): once connecting
   * failed, every call fails at once with that error until the client is ready again, while
   * ioredis keeps reconnecting in the background.
   */
  #whenReady(operation: string): Promise<void> {
    if (this.#closed) return Promise.reject(closedError());
    const client = this.client;
    const status = client.status;
    if (status === 'ready') return Promise.resolve();
    const down = this.#down;
    if (down !== undefined && status !== 'end') {
      return Promise.reject(
        new RedisBackendError(
          down.code,
          `${down.message.replace(/\.$/, '')}. Failing at once until it is reachable again (ioredis reconnects in the background); ${operation} was not sent.`,
          { cause: down.cause },
        ),
      );
    }
    if (status === 'end') {
      return Promise.reject(
        new RedisBackendError(
          'ERR_REDIS_CONNECTION',
          `The Redis client for ${this.#options.where} has been closed (status "end") and will not reconnect; ${operation} cannot run.` +
            (this.#ownsClient
              ? ''
              : ' The client was passed in as `client`: whoever owns it closed it.'),
          { cause: this.#lastError },
        ),
      );
    }
    this.#readyPromise ??= new Promise<void>((resolve, reject) => {
      const finish = (error?: RedisBackendError) => {
        clearTimeout(timer);
        client.off('ready', onReady);
        client.off('error', onError);
        client.off('end', onEnd);
        this.#readyPromise = undefined;
        if (error) {
          // Not while closing: a close is not an outage.
          if (!this.#closed && client.status !== 'ready') this.#down = error;
          reject(error);
        } else resolve();
      };
      const onReady = () => finish();
      const onError = (error: unknown) =>
        finish(toRedisError(error, this.#options.where, 'connect'));
      const onEnd = () =>
        finish(
          new RedisBackendError(
            'ERR_REDIS_CONNECTION',
            `The connection to Redis at ${this.#options.where} ended before it was ready.`,
            { cause: this.#lastError },
          ),
        );
      const timer = setTimeout(
        () =>
          finish(
            new RedisBackendError(
              'ERR_REDIS_CONNECTION',
              `Redis at ${this.#options.where} was not ready within connectTimeout (${this.#options.connectTimeoutMs} ms)` +
                (this.#lastError instanceof Error
                  ? `; last error: ${this.#lastError.message}`
                  : '') +
                '. Check that the server is running and reachable.',
              { cause: this.#lastError },
            ),
          ),
        this.#options.connectTimeoutMs,
      );
      client.on('ready', onReady);
      client.on('error', onError);
      client.on('end', onEnd);
      if (status === 'wait') client.connect().catch(() => {});
    });
    return this.#readyPromise;
  }

  /** Runs `fn` once the client is ready, turning its errors into {@link RedisBackendError}s. */
  async #command<T>(operation: string, fn: (client: Client) => Promise<T>): Promise<T> {
    if (this.#closed) throw closedError();
    if (this.#stalled !== undefined) throw this.#stillStalled(operation);
    try {
      if (this.client.status !== 'ready') await this.#whenReady(operation);
      return await fn(this.client);
    } catch (error) {
      throw this.#failure(error, operation);
    }
  }

  /** The error a failed command rejects with; a timeout marks the server as stalled. */
  #failure(error: unknown, operation: string): RedisBackendError {
    // A command cut off by our own close() fails because of the close, not the server.
    if (this.#closed) return closedError();
    const failure = toRedisError(error, this.#options.where, operation);
    if (failure.code === 'ERR_REDIS_TIMEOUT' && this.#stalled === undefined) {
      this.#stalled = failure;
      void this.#probe();
    }
    return failure;
  }

  #stillStalled(operation: string): RedisBackendError {
    const stalled = this.#stalled!;
    return new RedisBackendError(
      'ERR_REDIS_TIMEOUT',
      `Redis at ${this.#options.where} did not answer within commandTimeout (${this.#options.commandTimeoutMs} ms) and has not answered since; ${operation} fails at once until it answers a PING.`,
      { cause: stalled.cause },
    );
  }

  /** PINGs a stalled server until it answers (each PING bounded by commandTimeout). */
  async #probe(): Promise<void> {
    while (this.#stalled !== undefined && !this.#closed) {
      try {
        if (this.client.status === 'ready') {
          await this.client.ping();
          this.#stalled = undefined;
          return;
        }
      } catch {
        // Still stalled: the next PING, after a pause so a dead link is not hammered.
      }
      await new Promise((resolve) => setTimeout(resolve, 100).unref());
    }
  }

  // ---------------------------------------------------------------- storage

  override getSerialized(key: string): Promise<Uint8Array | NoValue> {
    // A promise-returning method rejects rather than throws, whatever is wrong.
    try {
      validateKey(key);
    } catch (error) {
      return Promise.reject(error);
    }
    // The fast path of every read: no wrapper closure, no extra promise when ready.
    if (this.#closed) return Promise.reject(closedError());
    if (this.#stalled !== undefined) return Promise.reject(this.#stillStalled('GET'));
    return this.#reads.read(key);
  }

  /** How the read batcher reaches Redis, with this backend's view of the connection. */
  #readChannel(): ReadChannel {
    return {
      ready: () => this.client.status === 'ready',
      whenReady: async () => {
        try {
          await this.#whenReady('GET');
        } catch (error) {
          // A connection that ended because of our own close() fails because of the close.
          throw this.#closed ? closedError() : error;
        }
      },
      check: () => {
        if (this.#closed) throw closedError();
        if (this.#stalled !== undefined) throw this.#stillStalled('GET');
      },
      get: (key) => this.client.getBuffer(key),
      mget: (keys) => this.client.mgetBuffer(keys),
      failure: (error, key) => this.#getFailure(error, key),
      closed: () => this.#closed,
    };
  }

  /** What a caller of a failed read gets (a GET's, or an MGET's it was gathered into). */
  #getFailure(error: unknown, key: string): Error {
    if (this.#closed) return closedError();
    if (error instanceof RedisBackendError) return error;
    if (error instanceof Error && error.message.startsWith('WRONGTYPE')) {
      // Something else (a list, a hash) lives under the key: an unreadable value, which the
      // region reports, regenerates and overwrites (SET replaces any type). Only a GET says so.
      return new CantDeserializeError(
        `Redis key "${key}" holds a value of another type, not a string this backend wrote: ${error.message}`,
        { cause: error },
      );
    }
    return this.#failure(error, 'GET');
  }

  override async getSerializedMulti(keys: readonly string[]): Promise<Array<Uint8Array | NoValue>> {
    for (const key of keys) validateKey(key);
    if (keys.length === 0) return [];
    const values = await this.#command('MGET', async (client) => {
      if (!this.isCluster) return client.mgetBuffer(keys as string[]);
      // Cluster refuses MGET across slots: one MGET per slot, all in flight together.
      const out = new Array<Buffer | null>(keys.length);
      await Promise.all(
        groupBySlot(keys, this.#keyPrefix).map(async (group) => {
          const found = await client.mgetBuffer(...group.map((i) => keys[i]!));
          group.forEach((index, j) => {
            out[index] = found[j] ?? null;
          });
        }),
      );
      return out;
    });
    const out = values as Array<Uint8Array | NoValue | null>;
    for (let i = 0; i < out.length; i++) if (out[i] === null) out[i] = NO_VALUE;
    return out as Array<Uint8Array | NoValue>;
  }

  override async setSerialized(key: string, value: Uint8Array): Promise<void> {
    validateKey(key);
    const ttl = this.#options.expirationMs;
    await this.#command('SET', (client) =>
      ttl === undefined
        ? client.set(key, toBuffer(value))
        : client.set(key, toBuffer(value), 'PX', ttl),
    );
  }

  override async setSerializedMulti(mapping: ReadonlyMap<string, Uint8Array>): Promise<void> {
    for (const key of mapping.keys()) validateKey(key);
    if (mapping.size === 0) return;
    const keys = [...mapping.keys()];
    await this.#command(
      this.#options.expirationMs === undefined ? 'MSET' : 'SET (pipeline)',
      async (client) => {
        const groups = this.isCluster
          ? groupBySlot(keys, this.#keyPrefix)
          : [keys.map((_, i) => i)];
        await Promise.all(
          groups.map((group) =>
            this.#setGroup(
              client,
              group.map((i) => keys[i]!),
              mapping,
            ),
          ),
        );
      },
    );
  }

  /** Writes keys of one slot (or, outside Cluster, any keys) in one round trip. */
  async #setGroup(
    client: Client,
    keys: string[],
    mapping: ReadonlyMap<string, Uint8Array>,
  ): Promise<void> {
    if (this.#options.expirationMs === undefined) {
      const args: Array<string | Buffer> = [];
      for (const key of keys) args.push(key, toBuffer(mapping.get(key)!));
      await client.mset(...args);
      return;
    }
    // MSET cannot set a TTL; a pipeline of SET ... PX costs the same single round trip.
    const ttl = this.#options.expirationMs;
    const pipeline = client.pipeline();
    for (const key of keys) pipeline.set(key, toBuffer(mapping.get(key)!), 'PX', ttl);
    checkPipeline(await pipeline.exec());
  }

  override async delete(key: string): Promise<void> {
    validateKey(key);
    await this.#command('DEL', (client) => client.del(key));
  }

  override async deleteMulti(keys: readonly string[]): Promise<void> {
    for (const key of keys) validateKey(key);
    if (keys.length === 0) return;
    await this.#command('DEL', async (client) => {
      if (!this.isCluster) {
        await client.del(...keys);
        return;
      }
      await Promise.all(
        groupBySlot(keys, this.#keyPrefix).map((group) =>
          client.del(...group.map((i) => keys[i]!)),
        ),
      );
    });
  }

  // ---------------------------------------------------------------- locking

  /**
   * Core's `LeaseMutex` on `<lockPrefix><key>` when `distributedLock` is on (see
   * {@link RedisLeaseStore}); otherwise `null`, and the region's in-process lock alone guards
   * creation.
   */
  override getMutex(key: string): LeaseMutex | null {
    validateKey(key);
    if (!this.#options.distributedLock) return null;
    return this.#locks.mutex(key);
  }

  // ---------------------------------------------------------------- lifecycle

  /**
   * Gives back the locks still held (waiting at most 2 s; what is left expires within
   * `lockTimeout`), rejects pending lock waiters with `ERR_REDIS_CLOSED`, closes the lock
   * subscriber connection and, when this backend opened the client, the client too (gracefully
   * with QUIT when connected). A client passed in as `client` is left open.
   */
  override async close(): Promise<void> {
    if (this.#closed || this.#locks.closed) return;
    // While the connection still works, so held leases go back at once.
    await this.#locks.close();
    this.#closed = true;
    clearInterval(this.#timerKeeper);
    await this.#notifier?.close();
    this.client.off('ready', this.#onReady);
    if (!this.#ownsClient) return;
    const client = this.client;
    if (client.status !== 'ready') {
      client.disconnect();
      return;
    }
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      client.quit().catch(() => client.disconnect()),
      new Promise<void>((resolve) => {
        timer = setTimeout(() => {
          client.disconnect();
          resolve();
        }, QUIT_TIMEOUT_MS);
        timer.unref();
      }),
    ]);
    clearTimeout(timer);
  }
}
