import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import {
  type AcquireOptions,
  type CachedValue,
  type CacheMutex,
  type ErrorEvent,
  NO_VALUE,
  type NoValue,
} from '../src/index.js';
import { MapBackend } from './helpers.js';

/**
 * What several processes share through a server: the values and one lock per key. Its mutexes
 * honour abort signals the way the CacheMutex contract asks (reject with the signal's reason and
 * leave nothing behind), so tests can see every way a caller waits being stopped.
 */
export class LockServer {
  readonly values = new Map<string, CachedValue>();
  readonly holders = new Map<string, object>();
  readonly #listeners = new Map<string, Set<() => void>>();

  /** Release listeners still registered: waiters that were neither woken nor cleaned up. */
  get listening(): number {
    let n = 0;
    for (const set of this.#listeners.values()) n += set.size;
    return n;
  }

  /** Takes `key` for `holder` if free. */
  take(key: string, holder: object): boolean {
    if (this.holders.has(key)) return false;
    this.holders.set(key, holder);
    return true;
  }

  release(key: string, holder: object): void {
    if (this.holders.get(key) !== holder) return;
    this.holders.delete(key);
    const set = this.#listeners.get(key);
    if (set) for (const listener of [...set]) listener();
  }

  /**
   * Resolves `true` at the next release of `key`, `false` after `timeoutMs`; rejects with the
   * signal's reason when it aborts. Always unregisters.
   */
  nextRelease(key: string, timeoutMs: number, signal: AbortSignal | undefined): Promise<boolean> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise<boolean>((resolve, reject) => {
      let set = this.#listeners.get(key);
      if (!set) {
        set = new Set();
        this.#listeners.set(key, set);
      }
      const listeners = set;
      const done = () => {
        clearTimeout(timer);
        listeners.delete(onRelease);
        if (listeners.size === 0) this.#listeners.delete(key);
        signal?.removeEventListener('abort', onAbort);
      };
      const onRelease = () => {
        done();
        resolve(true);
      };
      const onAbort = () => {
        done();
        reject(signal!.reason);
      };
      const timer = setTimeout(() => {
        done();
        resolve(false);
      }, timeoutMs);
      listeners.add(onRelease);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }
}

/** A distributed mutex on a {@link LockServer}. `blockingTimeoutMs`: its own give-up time. */
export class ServerMutex implements CacheMutex {
  constructor(
    readonly server: LockServer,
    readonly key: string,
    readonly blockingTimeoutMs = 60_000,
  ) {}

  async acquire(wait = true, options?: AcquireOptions): Promise<boolean> {
    const signal = options?.signal;
    signal?.throwIfAborted();
    const deadline = Date.now() + this.blockingTimeoutMs;
    for (;;) {
      if (this.server.take(this.key, this)) return true;
      if (!wait) return false;
      const left = deadline - Date.now();
      if (left <= 0) return false;
      await this.server.nextRelease(this.key, left, signal);
    }
  }

  async release(): Promise<void> {
    this.server.release(this.key, this);
  }

  async locked(): Promise<boolean> {
    return this.server.holders.has(this.key);
  }
}

/** A {@link ServerMutex} that also offers `waitForRelease`. */
export class WaitingServerMutex extends ServerMutex {
  async waitForRelease(options?: AcquireOptions): Promise<boolean> {
    options?.signal?.throwIfAborted();
    if (!this.server.holders.has(this.key)) return true;
    return this.server.nextRelease(this.key, this.blockingTimeoutMs, options?.signal);
  }
}

/** One process's backend onto a {@link LockServer}. */
export class ServerBackend extends MapBackend {
  constructor(
    readonly server: LockServer,
    readonly options: { waitForRelease?: boolean; blockingTimeoutMs?: number } = {},
  ) {
    super();
  }
  override async get(key: string): Promise<CachedValue | NoValue> {
    this.calls.get++;
    return this.server.values.get(key) ?? NO_VALUE;
  }
  override async set(key: string, value: CachedValue): Promise<void> {
    this.calls.set++;
    this.server.values.set(key, value);
  }
  override async delete(key: string): Promise<void> {
    this.server.values.delete(key);
  }
  override getMutex(key: string): CacheMutex {
    return this.options.waitForRelease
      ? new WaitingServerMutex(this.server, key, this.options.blockingTimeoutMs)
      : new ServerMutex(this.server, key, this.options.blockingTimeoutMs);
  }
}

/** A {@link MapBackend} whose reads, writes and mutex fail on demand, as a backend that is down. */
export class FlakyBackend extends MapBackend {
  failReads = false;
  failWrites = false;
  /** When set, `getMutex` returns a mutex whose every call fails. */
  failLocks = false;
  /** Calls of the mutexes' `acquire`, failed or not. */
  lockAcquires = 0;
  /** Gives a distributed mutex at all (over a LockServer of its own). */
  constructor(readonly withMutex = false) {
    super();
  }
  readonly #server = new LockServer();

  down(): void {
    this.failReads = true;
    this.failWrites = true;
    this.failLocks = true;
  }

  override async get(key: string): Promise<CachedValue | NoValue> {
    if (this.failReads) throw new Error('backend down: read');
    return super.get(key);
  }
  override async getMulti(keys: readonly string[]): Promise<Array<CachedValue | NoValue>> {
    if (this.failReads) throw new Error('backend down: read');
    return super.getMulti(keys);
  }
  override async set(key: string, value: CachedValue): Promise<void> {
    if (this.failWrites) throw new Error('backend down: write');
    return super.set(key, value);
  }
  override async setMulti(mapping: ReadonlyMap<string, CachedValue>): Promise<void> {
    if (this.failWrites) throw new Error('backend down: write');
    return super.setMulti(mapping);
  }
  override getMutex(key: string): CacheMutex | null {
    if (!this.withMutex) return null;
    const mutex = new WaitingServerMutex(this.#server, key);
    const fails = () => this.failLocks;
    const down = async () => {
      throw new Error('backend down: lock');
    };
    return {
      acquire: (wait, options) => {
        this.lockAcquires++;
        return fails() ? down() : mutex.acquire(wait, options);
      },
      release: () => (fails() ? down() : mutex.release()),
      locked: () => (fails() ? down() : mutex.locked()),
      waitForRelease: (options) => (fails() ? down() : mutex.waitForRelease(options)),
    };
  }
}

/** Collects what is published on `dogpile:error` while `fn` runs (and keeps it from warnings). */
export async function collectErrors<T>(
  fn: (events: ErrorEvent[]) => Promise<T>,
): Promise<{ result: T; events: ErrorEvent[] }> {
  const events: ErrorEvent[] = [];
  const listener = (message: unknown) => {
    events.push(message as ErrorEvent);
  };
  subscribe('dogpile:error', listener);
  try {
    return { result: await fn(events), events };
  } finally {
    unsubscribe('dogpile:error', listener);
  }
}

/** Milliseconds `promise` takes to settle, and how it settled. */
export async function timed<T>(
  promise: Promise<T>,
): Promise<{ ms: number; value?: T; error?: unknown }> {
  const started = performance.now();
  try {
    const value = await promise;
    return { ms: performance.now() - started, value };
  } catch (error) {
    return { ms: performance.now() - started, error };
  }
}
