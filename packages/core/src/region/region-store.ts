import { type CacheBackend, type KeyMangler, syncReader } from '../backend/backend.js';
import type { CachedValue } from '../backend/cached-value.js';
import type { Serializer } from '../backend/serializer.js';
import { joinCachedValue, serializeCachedValue } from '../backend/wire-format.js';
import { CantDeserializeError } from '../errors.js';
import { reportError } from '../instrumentation.js';
import { validateKey, validateKeyType } from '../keys/key-validation.js';
import type { CacheMutex } from '../lock/mutex.js';
import { NO_VALUE, type NoValue } from '../no-value.js';
import type { HandedValue } from './handoff.js';
import { SharedReads } from './shared-reads.js';

/** A value about to be written, with what the writer hands its waiters. */
export interface Encoded {
  readonly value: CachedValue;
  /** The bytes to store, when the region serializes. */
  readonly bytes: Uint8Array | undefined;
  /** What the writer hands its waiters; `undefined` for a store of objects, read per caller. */
  readonly handed: HandedValue | undefined;
}

/**
 * The region's one door to its backend: every key is validated and mangled here, reads of one
 * key in flight together share one backend read (with a serializer), writes and deletes make the
 * next read go to the backend, unreadable values become misses (reported), and failures that
 * fail-safe absorbs are reported once per outage, not once per call.
 */
export class RegionStore {
  readonly backend: CacheBackend;
  readonly serializer: Serializer | undefined;
  readonly #mangler: KeyMangler | undefined;
  readonly #shared: SharedReads | undefined;
  readonly #region: string;
  /** Reads go to {@link readNow} with the caller's own key (see {@link readKey}). */
  readonly #exactReads: boolean;
  /** A failure was absorbed and reported, and no backend call has succeeded since. */
  #failing = false;

  constructor(options: {
    backend: CacheBackend;
    keyMangler: KeyMangler | undefined;
    serializer: Serializer | undefined;
    region: string;
  }) {
    this.backend = options.backend;
    this.serializer = options.serializer;
    this.#mangler = options.keyMangler;
    this.#shared =
      options.serializer === undefined ? undefined : new SharedReads(options.serializer);
    this.#region = options.region;
    this.readNow = this.#shared === undefined ? syncReader(options.backend) : undefined;
    this.#exactReads = this.readNow !== undefined && this.#mangler === undefined;
  }

  /** The backend key of a caller's key: validated (a well-formed string), then mangled. */
  key(key: unknown): string {
    const valid = validateKey(key);
    return this.#mangler === undefined ? valid : this.#mangler(valid);
  }

  /**
   * {@link key} for a read that may be served at once, whose caller checks the whole key with
   * `validateKey` before anything else (a lock, a creator, a write) when the read is a miss. A
   * store read with {@link readNow} and no mangler is only checked to be given a string: no
   * value can be found under a malformed key there (the region checks every key it writes, and
   * a store must keep such a key apart or refuse it, as the conformance kit checks), so a hit
   * is never another key's value, and a hit skips `isWellFormed`, a sixth of its cost.
   */
  readKey(key: unknown): string {
    return this.#exactReads ? validateKeyType(key) : this.key(key);
  }

  /**
   * The value stored under `mangled` when the backend can answer at once (`readNow`, and the
   * region reads objects); `undefined` when it must be read with {@link read}.
   */
  readonly readNow: ((mangled: string) => CachedValue | NoValue) | undefined;

  /**
   * The value stored under `mangled`. With a serializer, a read joins one of the same key already
   * in flight; each caller still deserializes its own copy. A store of objects is read per caller.
   */
  read(mangled: string): Promise<CachedValue | NoValue> {
    const shared = this.#shared;
    return shared === undefined ? this.backend.get(mangled) : shared.read(this.backend, mangled);
  }

  /**
   * A read of `mangled` for the holder of its lock, also handed to its waiters: they each take a
   * copy instead of reading again. A store of objects is read per caller (its reads may hand out
   * copies on purpose), so nothing is handed then.
   */
  readToHand(mangled: string): {
    mine: Promise<CachedValue | NoValue>;
    handed: HandedValue | undefined;
  } {
    const shared = this.#shared;
    if (shared === undefined) return { mine: this.backend.get(mangled), handed: undefined };
    const handed = shared.handOut(this.backend, mangled);
    return { mine: handed.then((value) => value.copy()), handed };
  }

  readMulti(mangled: readonly string[]): Promise<Array<CachedValue | NoValue>> {
    const shared = this.#shared;
    if (shared === undefined) return this.backend.getMulti(mangled);
    return this.backend
      .getSerializedMulti(mangled)
      .then((raw) => raw.map((bytes, i) => shared.decode(bytes, mangled[i]!)));
  }

  /**
   * Serializes `value` for writing (a `SerializationError` here means nothing was written) and
   * prepares what to hand waiters.
   */
  encode(mangled: string, value: CachedValue): Encoded {
    const shared = this.#shared;
    if (shared === undefined) return { value, bytes: undefined, handed: undefined };
    const payload = shared.serializer.serialize(value.payload);
    return {
      value,
      bytes: joinCachedValue(value.metadata, payload),
      handed: shared.written(value.metadata, payload, mangled),
    };
  }

  /** Writes what {@link encode} prepared. */
  async put(mangled: string, encoded: Encoded): Promise<void> {
    if (encoded.bytes === undefined) return this.backend.set(mangled, encoded.value);
    const shared = this.#shared!;
    shared.forget(mangled);
    try {
      await this.backend.setSerialized(mangled, encoded.bytes);
    } finally {
      // A read that started while the write was in flight may have missed it.
      shared.forget(mangled);
    }
  }

  async write(mangled: string, value: CachedValue): Promise<void> {
    await this.put(mangled, this.encode(mangled, value));
  }

  async writeMulti(mapping: ReadonlyMap<string, CachedValue>): Promise<void> {
    if (mapping.size === 0) return;
    const serializer = this.serializer;
    if (serializer === undefined) return this.backend.setMulti(mapping);
    const bytes = new Map<string, Uint8Array>();
    for (const [key, value] of mapping) bytes.set(key, serializeCachedValue(value, serializer));
    this.#forget(mapping.keys());
    try {
      await this.backend.setSerializedMulti(bytes);
    } finally {
      this.#forget(mapping.keys());
    }
  }

  async delete(mangled: string): Promise<void> {
    this.#shared?.forget(mangled);
    try {
      await this.backend.delete(mangled);
    } finally {
      this.#shared?.forget(mangled);
    }
  }

  async deleteMulti(mangled: readonly string[]): Promise<void> {
    this.#forget(mangled);
    try {
      await this.backend.deleteMulti(mangled);
    } finally {
      this.#forget(mangled);
    }
  }

  #forget(keys: Iterable<string>): void {
    const shared = this.#shared;
    if (shared !== undefined) for (const key of keys) shared.forget(key);
  }

  /** The backend's distributed mutex for `mangled`, or `null`. */
  mutex(mangled: string): CacheMutex | null {
    return this.backend.getMutex(mangled);
  }

  /**
   * What a read that threw means: a value the backend says it cannot read (a Redis key of another
   * type) is a miss, reported, which the caller regenerates and overwrites; with `failSafe` any
   * other failure is a miss too (reported once per outage); otherwise the error stands.
   */
  failedRead(error: unknown, key: string, failSafe: boolean): NoValue {
    if (error instanceof CantDeserializeError) {
      reportError({ operation: 'deserialize', region: this.#region, key, error });
      return NO_VALUE;
    }
    if (!failSafe) throw error;
    this.absorbed('read', key, error);
    return NO_VALUE;
  }

  /**
   * Reports a failure that fail-safe absorbed, once per outage: the first since the backend last
   * answered. The rest of the outage is visible in the misses and regenerations it causes.
   */
  absorbed(operation: string, key: string | undefined, error: unknown): void {
    if (this.#failing) return;
    this.#failing = true;
    reportError({ operation, region: this.#region, key, error });
  }

  /** The backend answered: the next absorbed failure is a new outage, and is reported. */
  answered(): void {
    this.#failing = false;
  }

  /** Whether a failure was absorbed since the backend last answered. */
  get failing(): boolean {
    return this.#failing;
  }
}
