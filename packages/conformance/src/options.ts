import type { CacheBackend } from '@dogpile/core';

/**
 * What the kit asks of `createBackend` for one test. Most tests pass `{}` and want the backend as
 * users configure it; a few need a property they cannot get otherwise. Honour every hint your
 * backend supports; a hint it cannot honour must match what its capabilities declare.
 *
 * @example
 * createBackend: (hints) =>
 *   new MyServerBackend({
 *     url: process.env.MY_SERVER_URL,
 *     lockTtlMs: hints.lockTtlMs ?? 30_000,
 *     extendLocks: hints.lockTtlMs === undefined,
 *     entryTtlMs: hints.ttlMs,
 *   }),
 */
export interface BackendHints {
  /**
   * Milliseconds. Given only to the lock-expiry tests (when {@link BackendCapabilities.lockTtlMs}
   * is set), always equal to it. Build a backend whose locks expire this long after they were
   * taken unless released, and do **not** extend held locks automatically: the kit simulates a
   * holder that vanished by simply never releasing. Let blocking acquires wait at least twice as
   * long (or without limit), so a waiter outlives a dead holder's lock. Default: absent.
   */
  lockTtlMs?: number;
  /**
   * Milliseconds. Given only to the server-side TTL test (when {@link BackendCapabilities.ttl} is
   * set): make the store itself drop each entry this long after it was written (Redis `PX`/`EX`,
   * Memcached exptime). With `ttl: 'seconds'` it is a whole number of seconds times 1000.
   * Default: absent (no server-side expiry).
   */
  ttlMs?: number;
}

/** Builds a fresh backend for one test. May be async (to connect first). */
export type BackendFactory = (hints: BackendHints) => CacheBackend | Promise<CacheBackend>;

/** Releases a backend the kit built. Default: `backend.close()`. */
export type BackendDisposer = (backend: CacheBackend) => void | Promise<void>;

/**
 * What the backend under test can do. The kit runs every check these allow, and checks that the
 * backend really behaves as declared (a declared capability that does not hold fails).
 *
 * @example
 * capabilities: { serialized: true, ttl: 'milliseconds', mutex: 'distributed', lockTtlMs: 1000 }
 */
export interface BackendCapabilities {
  /**
   * Whether values written can be read back. `false` for a backend that stores nothing
   * (`NullBackend`): the kit then checks that every read misses and every caller creates.
   * Default: `true`.
   */
  stores?: boolean;
  /**
   * Whether the backend stores bytes: it has a `serializer` (a `BytesBackend`, or a backend
   * configured to serialize), so the region calls its `*Serialized` methods. Enables the
   * serializer suite and the byte-level round trips, which require every byte value 0x00–0xFF to
   * survive. Must agree with `backend.serializer` being set. Default: `false`.
   */
  serialized?: boolean;
  /**
   * The granularity of the store's own expiry, when it has one and honours
   * {@link BackendHints.ttlMs}: `'milliseconds'` (Redis `PX`), `'seconds'` (Redis `EX`,
   * Memcached), or `false` for none. Default: `false`.
   */
  ttl?: 'milliseconds' | 'seconds' | false;
  /**
   * How far `getMutex(key)` makes creators exclude each other:
   * - `false`: not at all; `getMutex` returns a `NullMutex`, and every caller runs its creator
   *   (`NullBackend`);
   * - `'local'`: within one process; `getMutex` returns `null` (the region's in-process lock is
   *   enough) or a mutex that excludes between the mutexes of one backend instance;
   * - `'distributed'`: across backend instances and processes sharing the store; `getMutex`
   *   returns such a mutex.
   *
   * Default: `'local'`.
   */
  mutex?: false | 'local' | 'distributed';
  /**
   * Milliseconds after which the backend's mutex frees a lock whose holder vanished without
   * releasing it. The kit passes it as {@link BackendHints.lockTtlMs}; a backend whose lock TTL
   * is fixed declares that TTL here instead. Keep it short (500–2000) so the expiry tests are
   * quick. Default: absent, and the lock-expiry and SIGKILL tests are skipped.
   */
  lockTtlMs?: number;
  /**
   * Milliseconds: the longest a waiter of your mutex may take to notice a release nobody told it
   * about (the `lockPollMax` of backends built on core's `LeaseMutex`). The kit's
   * `waitForRelease` checks allow this plus 50 ms; with release notifications it is an upper
   * bound, not a target. Default: `100`.
   */
  lockPollMaxMs?: number;
  /**
   * The longest key, in UTF-8 bytes after the backend's `keyMangler`, that the backend promises to
   * store. Longer keys may be rejected with a `DogpileError` (never an obscure error, never a
   * collision). Default: no limit (the kit's 10 000-character key must round-trip).
   */
  maxKeyLength?: number;
  /**
   * The largest stored value, in bytes, that the backend accepts; at least 1 MiB + 4 KiB, since
   * the kit stores a 1 MiB payload. When set, a payload above it must be rejected with a
   * `DogpileError` or read back as a miss, never truncated. Default: no limit.
   */
  maxValueBytes?: number;
}

/**
 * How child processes build the backend for the cross-process suite. Children inherit
 * `process.env`, so put connection details (ports, file paths) there.
 *
 * @example
 * crossProcess: { factoryModule: new URL('./factory.ts', import.meta.url), processes: 4 }
 */
export interface CrossProcessOptions {
  /**
   * An absolute path or `file:` URL of a module that exports `createBackend(hints)` (a
   * {@link BackendFactory}) and optionally `disposeBackend(backend)`. It must not import
   * `vitest`. A `.ts` module needs `tsx` installed (children then run `node --import tsx`).
   * Give this or `registeredBackend`.
   */
  factoryModule?: string | URL;
  /**
   * Build the backend by its registered name instead: children import `module` (which calls
   * `registerBackend`) and call the factory registered as `name` with `arguments`. Hints are not
   * passed, so `capabilities.lockTtlMs` must describe the backend as these arguments build it.
   */
  registeredBackend?: {
    /** An absolute path or `file:` URL of the module that registers the backend. */
    module: string | URL;
    /** The registered name, e.g. `'memory'`. */
    name: string;
    /** Passed to the registered factory. Default: `{}`. */
    arguments?: Record<string, unknown>;
  };
  /** Child processes racing on one key. Default: `4`. */
  processes?: number;
  /** Concurrent `getOrCreate` callers in each child. Default: `50`. */
  callersPerProcess?: number;
  /** How long the slow creator takes, in milliseconds. Default: `300`. */
  creatorMs?: number;
  /** Milliseconds each cross-process test may take before it fails. Default: `60_000`. */
  timeoutMs?: number;
}

/**
 * Options of {@link runConformance} and of each suite.
 *
 * @example
 * runConformance({
 *   name: 'MyBackend',
 *   createBackend: () => new MyBackend({ url: process.env.MY_URL }),
 *   capabilities: { serialized: true, mutex: 'distributed', lockTtlMs: 1000 },
 *   crossProcess: { factoryModule: new URL('./my-factory.ts', import.meta.url) },
 * });
 */
export interface ConformanceOptions {
  /** The name shown in test titles. Default: `'backend'`. */
  name?: string;
  /** Builds a fresh backend; called once or more per test. See {@link BackendHints}. */
  createBackend: BackendFactory;
  /** Releases each backend after its test. Default: `backend.close()`. */
  disposeBackend?: BackendDisposer;
  /** What the backend can do. Default: every field's default (a storing backend, local mutex). */
  capabilities?: BackendCapabilities;
  /**
   * Prepended to every key the kit uses, so runs sharing a server never meet. Default:
   * `'dogpile-conformance:<random>:'`.
   */
  keyPrefix?: string;
  /** Concurrent callers or acquirers in the in-process concurrency tests. Default: `8`. */
  concurrency?: number;
  /** Milliseconds each in-process test may take before it fails; at least 5000. Default: `20_000`. */
  timeoutMs?: number;
  /** Enables the cross-process suite. Default: absent (the suite is skipped). */
  crossProcess?: CrossProcessOptions;
}
