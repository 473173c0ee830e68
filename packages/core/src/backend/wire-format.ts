import { CantDeserializeError } from '../errors.js';
import { NO_VALUE, type NoValue } from '../no-value.js';
import { CachedValue, type CacheMetadata, VALUE_VERSION } from './cached-value.js';
import type { Serializer } from './serializer.js';

const PIPE = 0x7c;
const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

/**
 * Encodes a cached value as `JSON(metadata)|payload bytes`, the layout Python dogpile.cache uses,
 * so both read each other's values when they share a serializer.
 */
export function serializeCachedValue(value: CachedValue, serializer: Serializer): Uint8Array {
  return joinCachedValue(value.metadata, serializer.serialize(value.payload));
}

/** Lays out metadata and already serialized payload bytes as {@link serializeCachedValue} does. */
export function joinCachedValue(metadata: CacheMetadata, payload: Uint8Array): Uint8Array {
  const meta = encoder.encode(JSON.stringify(metadata));
  const out = new Uint8Array(meta.length + 1 + payload.length);
  out.set(meta, 0);
  out[meta.length] = PIPE;
  out.set(payload, meta.length + 1);
  return out;
}

/**
 * Decodes `JSON(metadata)|payload bytes`, splitting on the first `|`. Returns {@link NO_VALUE} for
 * a value written in another format version. Throws {@link CantDeserializeError} when the bytes are
 * not in this layout or the serializer cannot read the payload; the region treats both as a miss.
 */
export function deserializeCachedValue(
  bytes: Uint8Array,
  serializer: Serializer,
): CachedValue | NoValue {
  const offset = payloadOffset(bytes);
  const metadata = readMetadata(bytes, offset);
  if (metadata === NO_VALUE) return NO_VALUE;
  return new CachedValue(serializer.deserialize(bytes.subarray(offset)), metadata as CacheMetadata);
}

/**
 * Where the payload starts in stored bytes: just after the first `|`. Throws
 * {@link CantDeserializeError} when there is none.
 */
export function payloadOffset(bytes: Uint8Array): number {
  if (!(bytes instanceof Uint8Array)) {
    // A store that hands back something else (a number in a SQLite column, a string) holds a
    // value this project did not write: unreadable, so the region regenerates and replaces it.
    throw new CantDeserializeError(
      `The backend returned ${bytes === null ? 'null' : typeof bytes} where stored bytes (a Uint8Array) were expected.`,
    );
  }
  const cut = bytes.indexOf(PIPE);
  if (cut < 0) {
    throw new CantDeserializeError('Stored bytes have no "|" between metadata and payload.');
  }
  return cut + 1;
}

/**
 * The metadata in front of the payload that starts at `offset`, or {@link NO_VALUE} for a value
 * written in another format version. Throws {@link CantDeserializeError} when it is not valid.
 */
export function readMetadata(bytes: Uint8Array, offset: number): CacheMetadata | NoValue {
  let metadata: CacheMetadata;
  try {
    metadata = JSON.parse(decoder.decode(bytes.subarray(0, offset - 1)));
  } catch (error) {
    throw new CantDeserializeError('Stored metadata is not valid JSON.', { cause: error });
  }
  if (metadata === null || typeof metadata !== 'object' || typeof metadata.ct !== 'number') {
    throw new CantDeserializeError('Stored metadata has no numeric "ct" field.');
  }
  if (metadata.v !== VALUE_VERSION) return NO_VALUE;
  return metadata;
}
