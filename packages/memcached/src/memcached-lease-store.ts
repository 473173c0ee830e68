import type { LeaseStore } from '@dogpile/core';
import { exptime } from './expire-time.js';
import { Op, type Reply, type Request, Status, statusError } from './transport.js';
import { wireKey } from './wire-key.js';

/** What {@link MemcachedLeaseStore} needs from its backend. */
export interface MemcachedLeaseContext {
  /** Sends one request; errors come out as `MemcachedBackendError`s. */
  send(request: Request): Promise<Reply>;
  /** `host:port` of the server that holds `wireKey`, for messages. */
  where(wireKey: string): string;
}

/**
 * Memcached counts TTLs in whole seconds of its own clock, which ticks once a second: an item
 * given `n` seconds expires between `n - 1` and `n` seconds later. A lease asked for `ttlMs` is
 * therefore given `ceil(ttlMs / 1000) + 1` seconds, so it never expires before `ttlMs`, and
 * lives at most one second and a fraction longer.
 */
export function leaseSeconds(ttlMs: number): number {
  return Math.ceil(ttlMs / 1000) + 1;
}

function expiryExtras(seconds: number): Buffer {
  const extras = Buffer.alloc(8); // flags (0: raw bytes, as pymemcache writes them), exptime
  extras.writeUInt32BE(exptime(seconds), 4);
  return extras;
}

/**
 * The leases of core's `LeaseMutex` in Memcached: a lease is an item `<lockPrefix><key>` holding
 * the holder's token, expiring on the server. Take is `ADD` (which Python dogpile.cache's
 * `MemcachedLock` also uses, so both exclude each other). Release and extend are token-safe and
 * atomic: a `GET` returns the item's token and CAS, and the `DELETE` (release) or `SET`
 * (extend) carries that CAS, so the server refuses it if the item changed in between (expired
 * and was taken by another holder, whose `ADD` gave it a new CAS).
 */
export class MemcachedLeaseStore implements LeaseStore {
  readonly #ctx: MemcachedLeaseContext;

  constructor(ctx: MemcachedLeaseContext) {
    this.#ctx = ctx;
  }

  async tryTake(lockKey: string, token: string, ttlMs: number): Promise<boolean> {
    const key = wireKey(lockKey);
    const reply = await this.#ctx.send({
      opcode: Op.ADD,
      key,
      extras: expiryExtras(leaseSeconds(ttlMs)),
      value: Buffer.from(token),
      operation: 'lock ADD',
      // Not resent: a first ADD that took effect would make the second fail, and orphan the lease.
      idempotent: false,
    });
    if (reply.status === Status.OK) return true;
    if (reply.status === Status.EXISTS || reply.status === Status.NOT_STORED) return false;
    throw statusError(reply.status, this.#ctx.where(key), 'lock ADD');
  }

  /** The CAS of the lease if `token` holds it, or `undefined`. */
  async #casIfOurs(key: string, token: string, operation: string): Promise<Buffer | undefined> {
    const reply = await this.#ctx.send({ opcode: Op.GET, key, operation, idempotent: true });
    if (reply.status === Status.NOT_FOUND) return undefined;
    if (reply.status !== Status.OK)
      throw statusError(reply.status, this.#ctx.where(key), operation);
    if (!reply.value.equals(Buffer.from(token))) return undefined;
    return Buffer.from(reply.cas);
  }

  async release(lockKey: string, token: string): Promise<boolean> {
    const key = wireKey(lockKey);
    const cas = await this.#casIfOurs(key, token, 'lock release GET');
    if (cas === undefined) return false;
    const reply = await this.#ctx.send({
      opcode: Op.DELETE,
      key,
      cas,
      operation: 'lock release DELETE',
      idempotent: false,
    });
    if (reply.status === Status.OK) return true;
    // Gone (expired) or changed (expired and re-taken) since the GET: not ours to remove.
    if (reply.status === Status.NOT_FOUND || reply.status === Status.EXISTS) return false;
    throw statusError(reply.status, this.#ctx.where(key), 'lock release DELETE');
  }

  async extend(lockKey: string, token: string, ttlMs: number): Promise<boolean> {
    const key = wireKey(lockKey);
    const cas = await this.#casIfOurs(key, token, 'lock extend GET');
    if (cas === undefined) return false;
    const reply = await this.#ctx.send({
      opcode: Op.SET,
      key,
      cas,
      extras: expiryExtras(leaseSeconds(ttlMs)),
      value: Buffer.from(token),
      operation: 'lock extend SET',
      idempotent: false,
    });
    if (reply.status === Status.OK) return true;
    if (reply.status === Status.NOT_FOUND || reply.status === Status.EXISTS) return false;
    throw statusError(reply.status, this.#ctx.where(key), 'lock extend SET');
  }

  async isHeld(lockKey: string): Promise<boolean> {
    const key = wireKey(lockKey);
    const reply = await this.#ctx.send({
      opcode: Op.GET,
      key,
      operation: 'lock GET',
      idempotent: true,
    });
    if (reply.status === Status.OK) return true;
    if (reply.status === Status.NOT_FOUND) return false;
    throw statusError(reply.status, this.#ctx.where(key), 'lock GET');
  }
}
