import type { CacheBackend } from '../backend/backend.js';
import { CachedValue, type CacheMetadata } from '../backend/cached-value.js';
import type { Serializer } from '../backend/serializer.js';
import { deserializeCachedValue, payloadOffset, readMetadata } from '../backend/wire-format.js';
import { CantDeserializeError } from '../errors.js';
import { reportError } from '../instrumentation.js';
import { NO_VALUE, type NoValue } from '../no-value.js';

const NOT_DECODED = 0;
const PRESENT = 1;
const ABSENT = 2;

/**
 * A stored value read once for several callers: its metadata is decoded once, by the first of
 * them, and its payload deserialized once per caller, so no two callers share an object one of
 * them might mutate.
 */
export class SharedValue {
  #state: typeof NOT_DECODED | typeof PRESENT | typeof ABSENT = NOT_DECODED;
  #metadata: CacheMetadata | undefined;
  #payload: Uint8Array | undefined;
  /** Someone holds `#metadata` already, so every further copy gets its own. */
  #metadataTaken = false;

  /**
   * @param read the backend read this value comes from; `undefined` for a value just written.
   */
  constructor(
    private readonly serializer: Serializer,
    private readonly key: string,
    readonly read?: Promise<Uint8Array | NoValue>,
  ) {}

  /** A value just written: the writer keeps `metadata`, so every copy gets its own. */
  static written(
    serializer: Serializer,
    key: string,
    metadata: CacheMetadata,
    payload: Uint8Array,
  ): SharedValue {
    const value = new SharedValue(serializer, key, undefined);
    value.#state = PRESENT;
    value.#metadata = metadata;
    value.#payload = payload;
    value.#metadataTaken = true;
    return value;
  }

  /** Decodes the bytes that were read, the first time only; bytes that cannot be read are none. */
  decode(bytes: Uint8Array | NoValue): this {
    if (this.#state !== NOT_DECODED) return this;
    this.#state = ABSENT;
    if (bytes === NO_VALUE) return this;
    try {
      const offset = payloadOffset(bytes as Uint8Array);
      const metadata = readMetadata(bytes as Uint8Array, offset);
      if (metadata === NO_VALUE) return this;
      this.#metadata = metadata as CacheMetadata;
      this.#payload = (bytes as Uint8Array).subarray(offset);
      this.#state = PRESENT;
    } catch (error) {
      if (!(error instanceof CantDeserializeError)) throw error;
      this.#unreadable(error);
    }
    return this;
  }

  /**
   * A caller's own copy of the bytes read. One function per shared read, given to each joining
   * caller's `then` on the backend's promise, so they need no closures of their own.
   */
  readonly copyOf = (bytes: Uint8Array | NoValue): CachedValue | NoValue =>
    this.decode(bytes).copy();

  /** A caller's own copy; a payload the serializer cannot read is none, reported once. */
  copy(): CachedValue | NoValue {
    if (this.#state !== PRESENT) return NO_VALUE;
    let payload: unknown;
    try {
      payload = this.serializer.deserialize(this.#payload!);
    } catch (error) {
      if (!(error instanceof CantDeserializeError)) throw error;
      this.#state = ABSENT;
      this.#unreadable(error);
      return NO_VALUE;
    }
    let metadata = this.#metadata!;
    if (this.#metadataTaken) metadata = { ...metadata };
    else this.#metadataTaken = true;
    return new CachedValue(payload, metadata);
  }

  #unreadable(error: CantDeserializeError): void {
    // A value we cannot read is a miss: regenerating it is the only way to a correct value.
    reportError({ operation: 'deserialize', key: this.key, error });
  }
}

/**
 * Reads of serialized values, shared: a read of a key joins the read of that key already in
 * flight, so a cold key asked for by a thousand callers at once costs one backend read and one
 * metadata decode, not a thousand. A write or delete through the region calls {@link forget}, so a
 * read after a write never joins a read from before it.
 *
 * A read nobody joins (a hit, usually) allocates nothing for sharing: the {@link SharedValue} is
 * made when a second caller joins or the read is handed out.
 */
export class SharedReads {
  readonly #inFlight = new Map<string, Promise<Uint8Array | NoValue>>();
  /** The shared value of reads in flight that more than one caller uses. */
  readonly #joined = new Map<string, SharedValue>();

  constructor(readonly serializer: Serializer) {}

  /** This caller's own copy of what `key` holds, sharing the read with concurrent callers. */
  read(backend: CacheBackend, key: string): Promise<CachedValue | NoValue> {
    const inFlight = this.#inFlight.get(key);
    if (inFlight !== undefined) return inFlight.then(this.#join(key, inFlight).copyOf);
    const read = backend.getSerialized(key);
    this.#inFlight.set(key, read);
    // This caller's own handler also forgets the read once it settles: a hit, the common case,
    // costs one promise on top of the backend's, not two.
    return read.then(
      (bytes) => {
        const joined = this.#joined.size === 0 ? undefined : this.#joined.get(key);
        this.#settled(key, read);
        if (joined !== undefined && joined.read === read) return joined.copyOf(bytes);
        return this.decode(bytes, key);
      },
      (error: unknown) => {
        this.#settled(key, read);
        throw error;
      },
    );
  }

  /**
   * The read of `key` in flight, or a new one, decoded once for several callers: the holder of
   * the key's lock hands it to the callers waiting for it, and each takes its own copy.
   */
  handOut(backend: CacheBackend, key: string): Promise<SharedValue> {
    let read = this.#inFlight.get(key);
    if (read === undefined) {
      read = backend.getSerialized(key);
      this.#inFlight.set(key, read);
      this.#track(key, read);
    }
    const value = this.#join(key, read);
    return read.then((bytes) => value.decode(bytes));
  }

  /** A value just written, to hand to waiting callers; `metadata` stays with the writer. */
  written(metadata: CacheMetadata, payload: Uint8Array, key: string): SharedValue {
    return SharedValue.written(this.serializer, key, metadata, payload);
  }

  /** Makes the next read of `key` go to the backend. */
  forget(key: string): void {
    if (this.#inFlight.size === 0) return;
    this.#inFlight.delete(key);
    if (this.#joined.size > 0) this.#joined.delete(key);
  }

  #join(key: string, read: Promise<Uint8Array | NoValue>): SharedValue {
    let value = this.#joined.get(key);
    if (value === undefined || value.read !== read) {
      value = new SharedValue(this.serializer, key, read);
      this.#joined.set(key, value);
    }
    return value;
  }

  /** Forgets `read` once it settles, unless a later read of `key` took its place. */
  #track(key: string, read: Promise<Uint8Array | NoValue>): void {
    const settled = () => this.#settled(key, read);
    read.then(settled, settled);
  }

  #settled(key: string, read: Promise<Uint8Array | NoValue>): void {
    if (this.#inFlight.get(key) !== read) return;
    this.#inFlight.delete(key);
    if (this.#joined.size > 0 && this.#joined.get(key)?.read === read) this.#joined.delete(key);
  }

  /** A value from bytes read for one caller only; bytes it cannot read are a miss, reported. */
  decode(bytes: Uint8Array | NoValue, key: string): CachedValue | NoValue {
    if (bytes === NO_VALUE) return NO_VALUE;
    try {
      return deserializeCachedValue(bytes as Uint8Array, this.serializer);
    } catch (error) {
      if (!(error instanceof CantDeserializeError)) throw error;
      reportError({ operation: 'deserialize', key, error });
      return NO_VALUE;
    }
  }
}
