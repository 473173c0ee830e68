import {
  BytesBackend,
  LeaseLocks,
  type LeaseMutex,
  NO_VALUE,
  type NoValue,
  reportError,
  validateKey,
} from '@dogpile/core';
import memjs from 'memjs';
import { closedError, MemcachedBackendError } from './errors.js';
import { exptime } from './expire-time.js';
import { pymemcacheServer } from './key-placement.js';
import { MemcachedLeaseStore } from './memcached-lease-store.js';
import { type MemcachedBackendOptions, type ResolvedOptions, resolveOptions } from './options.js';
import { Op, type Reply, Status, statusError, Transport } from './transport.js';
import { wireKey } from './wire-key.js';

/** How often a server that failed is probed until it answers. */
const PROBE_INTERVAL_MS = 100;
/** How many keys' too-large reports are remembered (so each is reported once). */
const TOO_LARGE_MEMORY = 1000;

const SILENT_LOGGER = { log() {} };

function toBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes)
    ? bytes
    : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** `undefined` for a valid key, or the rejection of core's `validateKey`. */
function checkKey(key: string): Promise<never> | undefined {
  try {
    validateKey(key);
    return undefined;
  } catch (error) {
    return Promise.reject(error);
  }
}

/**
 * A dogpile.cache backend on Memcached through memjs, optionally with a distributed dogpile lock
 * (core's `LeaseMutex` over {@link MemcachedLeaseStore}). Values are stored as
 * `JSON(metadata)|payload` bytes, the layout Python dogpile.cache uses, so with the JSON
 * serializer both read each other's values, and with the default `lockPrefix` both take the same
 * locks. Keys Memcached cannot store (over 250 bytes, or with spaces or control characters) are
 * stored under their SHA-1 (`sha1MangleKey`).
 *
 * @example
 * const region = makeRegion().configure(
 *   new MemcachedBackend({ servers: 'cache1:11211,cache2:11211', distributedLock: true, memcachedExpireTime: '2h' }),
 *   { expirationTime: '10m' },
 * );
 * // or, once @dogpile/memcached is imported:
 * region.configure('memcached', { expirationTime: 600, arguments: { servers: 'cache1:11211' } });
 */
export class MemcachedBackend extends BytesBackend {
  /** The memjs client in use: the one given as `client`, or the one this backend opened. */
  readonly client: memjs.Client;
  readonly #options: ResolvedOptions;
  readonly #ownsClient: boolean;
  readonly #transport: Transport;
  readonly #locks: LeaseLocks;
  readonly #tooLargeReported = new Set<string>();
  #closed = false;

  /** @param options see {@link MemcachedBackendOptions}; with none, connects to `127.0.0.1:11211`. */
  constructor(options: MemcachedBackendOptions = {}) {
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
      const servers = connection.servers.map((address) => {
        const server = new memjs.Server(address.host, address.port, undefined, undefined, {
          timeout: resolved.commandTimeoutMs / 1000,
          conntimeout: resolved.connectTimeoutMs / 1000,
          keepAlive: resolved.keepAlive,
        });
        // memjs falls back to MEMCACHIER_*/MEMCACHE_* environment credentials when given none:
        // here only the credentials in the options are used.
        const credentials = server as unknown as { username?: string; password?: string };
        credentials.username = address.username ?? resolved.username;
        credentials.password = address.password ?? resolved.password;
        return server;
      });
      // Failures reach the callers as MemcachedBackendErrors: memjs's console logging is off.
      // No failover: moving a key to another server while its own is down would split its lock.
      this.client = new memjs.Client(servers, { logger: SILENT_LOGGER, retries: 1 });
    }
    // A request may wait for its connection (connectTimeout), then for its reply (commandTimeout).
    const nodes = this.client.servers.map((server) => `${server.host}:${server.port}`);
    this.#transport = new Transport(this.client, {
      placement:
        resolved.keyPlacement === 'pymemcache'
          ? (key: string) => pymemcacheServer(nodes, key)
          : undefined,
      requestTimeoutMs: resolved.connectTimeoutMs + resolved.commandTimeoutMs + 100,
      retries: resolved.retries,
      retryDelayMs: resolved.retryDelayMs,
      probeIntervalMs: PROBE_INTERVAL_MS,
    });
    const transport = this.#transport;
    this.#locks = new LeaseLocks({
      store: new MemcachedLeaseStore({
        send: (request) => (this.#closed ? Promise.reject(closedError()) : transport.send(request)),
        where: (key) => transport.where(transport.serverFor(key)),
      }),
      settings: resolved.lease,
      where: `Memcached at ${resolved.where}`,
      lostError: (message) => new MemcachedBackendError('ERR_MEMCACHED_LOCK_LOST', message),
      closedError: () =>
        new MemcachedBackendError(
          'ERR_MEMCACHED_CLOSED',
          'The MemcachedBackend was closed while waiting for a lock. Do not close a backend that is still in use.',
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

  /**
   * The key Memcached stores `key` under: `key` itself, or its SHA-1 in hex when Memcached
   * cannot store it (over 250 UTF-8 bytes, spaces, control characters).
   */
  static wireKey(key: string): string {
    return wireKey(key);
  }

  // ---------------------------------------------------------------- storage

  #where(key: string): string {
    return this.#transport.where(this.#transport.serverFor(key));
  }

  async #get(key: string): Promise<Uint8Array | NoValue> {
    if (this.#closed) throw closedError();
    const wire = wireKey(key);
    const reply = await this.#transport.send({
      opcode: Op.GET,
      key: wire,
      operation: 'GET',
      idempotent: true,
    });
    if (reply.status === Status.OK) return reply.value;
    if (reply.status === Status.NOT_FOUND) return NO_VALUE;
    throw statusError(reply.status, this.#where(wire), 'GET');
  }

  override getSerialized(key: string): Promise<Uint8Array | NoValue> {
    // Not async, so a read costs no extra promise; a bad key still rejects rather than throws.
    const invalid = checkKey(key);
    return invalid ?? this.#get(key);
  }

  /** One GET per key, all sent at once (memjs has no multi-get): one round trip, not one per key. */
  override async getSerializedMulti(keys: readonly string[]): Promise<Array<Uint8Array | NoValue>> {
    for (const key of keys) validateKey(key);
    if (keys.length === 0) return [];
    return Promise.all(keys.map((key) => this.#get(key)));
  }

  #expiryExtras(): Buffer {
    const extras = Buffer.alloc(8); // flags 0 (raw bytes, as pymemcache writes bytes), exptime
    const seconds = this.#options.expireSeconds;
    if (seconds !== undefined) extras.writeUInt32BE(exptime(seconds), 4);
    return extras;
  }

  async #set(key: string, value: Uint8Array, extras: Buffer): Promise<void> {
    if (this.#closed) throw closedError();
    const wire = wireKey(key);
    const reply = await this.#transport.send({
      opcode: Op.SET,
      key: wire,
      extras,
      value: toBuffer(value),
      operation: 'SET',
      idempotent: true,
    });
    if (reply.status === Status.OK) return;
    if (reply.status === Status.TOO_LARGE) return this.#tooLarge(key, wire, value.byteLength);
    throw statusError(reply.status, this.#where(wire), 'SET');
  }

  #tooLarge(key: string, wire: string, bytes: number): void {
    const error = new MemcachedBackendError(
      'ERR_MEMCACHED_VALUE_TOO_LARGE',
      `The value for key "${key.length > 100 ? `${key.slice(0, 100)}...` : key}" (${bytes} bytes) is over the item size limit of Memcached at ${this.#where(wire)} ` +
        '(1 MiB unless the server runs with -I), so it was not stored. Store less under one key, compress it, or raise the limit with memcached -I.',
    );
    if (this.#options.onValueTooLarge === 'throw') throw error;
    if (this.#tooLargeReported.has(key)) return;
    if (this.#tooLargeReported.size >= TOO_LARGE_MEMORY) this.#tooLargeReported.clear();
    this.#tooLargeReported.add(key);
    reportError({ operation: 'set', key, error });
  }

  override setSerialized(key: string, value: Uint8Array): Promise<void> {
    const invalid = checkKey(key);
    return invalid ?? this.#set(key, value, this.#expiryExtras());
  }

  override async setSerializedMulti(mapping: ReadonlyMap<string, Uint8Array>): Promise<void> {
    for (const key of mapping.keys()) validateKey(key);
    if (mapping.size === 0) return;
    const extras = this.#expiryExtras();
    await Promise.all(Array.from(mapping, ([key, value]) => this.#set(key, value, extras)));
  }

  async #delete(key: string): Promise<void> {
    if (this.#closed) throw closedError();
    const wire = wireKey(key);
    const reply: Reply = await this.#transport.send({
      opcode: Op.DELETE,
      key: wire,
      operation: 'DELETE',
      idempotent: true,
    });
    if (reply.status === Status.OK || reply.status === Status.NOT_FOUND) return;
    throw statusError(reply.status, this.#where(wire), 'DELETE');
  }

  override delete(key: string): Promise<void> {
    const invalid = checkKey(key);
    return invalid ?? this.#delete(key);
  }

  override async deleteMulti(keys: readonly string[]): Promise<void> {
    for (const key of keys) validateKey(key);
    await Promise.all(keys.map((key) => this.#delete(key)));
  }

  // ---------------------------------------------------------------- locking

  /**
   * Core's `LeaseMutex` on `<lockPrefix><key>` when `distributedLock` is on (see
   * {@link MemcachedLeaseStore}); otherwise `null`, and the region's in-process lock alone guards
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
   * `lockTimeout`), rejects pending lock waiters with `ERR_MEMCACHED_CLOSED`, fails requests in
   * flight, and, when this backend opened the connections, closes them. A client passed in as
   * `client` is left open.
   */
  override async close(): Promise<void> {
    if (this.#closed || this.#locks.closed) return;
    // While the connections still work, so held leases go back at once.
    await this.#locks.close();
    this.#closed = true;
    this.#transport.close();
    if (this.#ownsClient) this.client.close();
  }
}
