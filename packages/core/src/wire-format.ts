import { CachedValue, type CacheMetadata, VALUE_VERSION } from './cached-value.js';
import { CantDeserializeError } from './errors.js';
import { NO_VALUE, type NoValue } from './no-value.js';
import type { Serializer } from './serializer.js';

const PIPE = 0x7c;
const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

/**
 * Encodes a cached value as `JSON(metadata)|payload bytes`, the layout Python dogpile.cache uses,
 * so both read each other's values when they share a serializer.
 */
export function serializeCachedValue(value: CachedValue, serializer: Serializer): Uint8Array {
  const payload = serializer.serialize(value.payload);
  const meta = encoder.encode(JSON.stringify(value.metadata));
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
  const cut = bytes.indexOf(PIPE);
  if (cut < 0) {
    throw new CantDeserializeError('Stored bytes have no "|" between metadata and payload.');
  }
  let metadata: CacheMetadata;
  try {
    metadata = JSON.parse(decoder.decode(bytes.subarray(0, cut)));
  } catch (error) {
    throw new CantDeserializeError('Stored metadata is not valid JSON.', { cause: error });
  }
  if (metadata === null || typeof metadata !== 'object' || typeof metadata.ct !== 'number') {
    throw new CantDeserializeError('Stored metadata has no numeric "ct" field.');
  }
  if (metadata.v !== VALUE_VERSION) return NO_VALUE;
  return new CachedValue(serializer.deserialize(bytes.subarray(cut + 1)), metadata);
}
