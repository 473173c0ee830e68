import {
  brotliCompressSync,
  brotliDecompressSync,
  constants,
  gunzipSync,
  gzipSync,
} from 'node:zlib';
import {
  CachedValue,
  NO_VALUE,
  type NoValue,
  type Serializer,
  ValidationError,
} from '@dogpile/core';
import { ByteTransformProxy } from './byte-transform-proxy.js';
import { UnreadableValueError } from './errors.js';
import { checkOptions, integerOption } from './options.js';

/** The algorithms {@link CompressionProxy} writes with (it reads both). */
export type CompressionAlgorithm = 'gzip' | 'brotli';

/**
 * Options of {@link CompressionProxy}.
 *
 * @example
 * new CompressionProxy({ algorithm: 'brotli', threshold: 2048 })
 */
export interface CompressionProxyOptions {
  /** `'gzip'` or `'brotli'` for new values; values in either are read. Default: `'gzip'`. */
  algorithm?: CompressionAlgorithm;
  /** Bytes: values smaller than this are stored as they are. Default: `1024`. */
  threshold?: number;
  /**
   * Compression level: gzip 1–9 (default `6`), brotli quality 0–11 (default `4`: brotli's own
   * default, 11, is several times slower for a few percent).
   */
  level?: number;
  /**
   * Bytes: the largest value a decompression may produce; a stored value that would inflate
   * beyond it (a "zip bomb") is a miss. Default: `67108864` (64 MiB).
   */
  maxDecompressedBytes?: number;
  /**
   * Over a store of objects (a `MemoryBackend` without `serialize`), the serializer that turns
   * values into bytes to compress. Over a byte store the backend's serializer is used. Default:
   * core's `v8Serializer`.
   */
  serializer?: Serializer;
}

const KNOWN = ['algorithm', 'threshold', 'level', 'maxDecompressedBytes', 'serializer'] as const;

/** Frame: 0x00 'd' 'z' then the algorithm byte. Values of dogpile (and Python's) start with '{'. */
const MAGIC = [0x00, 0x64, 0x7a] as const;
const GZIP = 1;
const BROTLI = 2;
const HEADER = 4;

function isFramed(bytes: Uint8Array): boolean {
  return (
    bytes.length >= HEADER &&
    bytes[0] === MAGIC[0] &&
    bytes[1] === MAGIC[1] &&
    bytes[2] === MAGIC[2]
  );
}

/**
 * Compresses values of at least `threshold` bytes with gzip or brotli (`node:zlib`), in a small
 * frame, so values stored uncompressed, by an older version, or by Python dogpile.cache still
 * read as they are. A framed value that fails to decompress (damaged, truncated, or over
 * `maxDecompressedBytes`) is a miss, reported, and is regenerated. Compression runs
 * synchronously on the caller's thread: it suits values up to a few hundred KiB.
 *
 * Put it outside an `EncryptionProxy` (compress, then encrypt): ciphertext does not compress.
 *
 * @example
 * region.configure(new RedisBackend({ url }), { wrap: [new CompressionProxy({ algorithm: 'brotli' })] });
 */
export class CompressionProxy extends ByteTransformProxy {
  readonly algorithm: CompressionAlgorithm;
  readonly threshold: number;
  readonly level: number;
  readonly maxDecompressedBytes: number;
  protected readonly operation = 'decompress';

  constructor(options: CompressionProxyOptions = {}) {
    const o = checkOptions('CompressionProxy', options, KNOWN);
    const serializer = o.serializer as Serializer | undefined;
    if (
      serializer !== undefined &&
      (typeof serializer?.serialize !== 'function' || typeof serializer.deserialize !== 'function')
    ) {
      throw new ValidationError('CompressionProxy serializer must be a Serializer.');
    }
    super(serializer);
    if (o.algorithm !== undefined && o.algorithm !== 'gzip' && o.algorithm !== 'brotli') {
      throw new ValidationError(
        `CompressionProxy algorithm must be 'gzip' or 'brotli'; got ${String(o.algorithm)}.`,
      );
    }
    this.algorithm = (o.algorithm as CompressionAlgorithm | undefined) ?? 'gzip';
    this.threshold = integerOption('CompressionProxy', 'threshold', o.threshold, 0, 1024);
    this.level =
      this.algorithm === 'gzip'
        ? integerOption('CompressionProxy', 'level', o.level, 1, 6)
        : integerOption('CompressionProxy', 'level', o.level, 0, 4);
    if (this.level > (this.algorithm === 'gzip' ? 9 : 11)) {
      throw new ValidationError(
        `CompressionProxy level for ${this.algorithm} must be at most ${this.algorithm === 'gzip' ? 9 : 11}; got ${this.level}.`,
      );
    }
    this.maxDecompressedBytes = integerOption(
      'CompressionProxy',
      'maxDecompressedBytes',
      o.maxDecompressedBytes,
      1,
      64 * 1024 * 1024,
    );
  }

  protected encode(_key: string, bytes: Uint8Array): Uint8Array {
    if (bytes.length < this.threshold) return bytes;
    const packed =
      this.algorithm === 'gzip'
        ? gzipSync(bytes, { level: this.level })
        : brotliCompressSync(bytes, {
            params: {
              [constants.BROTLI_PARAM_QUALITY]: this.level,
              [constants.BROTLI_PARAM_SIZE_HINT]: bytes.length,
            },
          });
    // Not worth it (already compressed data): store as it is.
    if (packed.length + HEADER >= bytes.length) return bytes;
    const out = new Uint8Array(HEADER + packed.length);
    out.set(MAGIC, 0);
    out[3] = this.algorithm === 'gzip' ? GZIP : BROTLI;
    out.set(packed, HEADER);
    return out;
  }

  protected decode(_key: string, stored: unknown): Uint8Array | CachedValue | NoValue {
    if (stored instanceof CachedValue) return stored;
    if (!(stored instanceof Uint8Array)) {
      throw new UnreadableValueError(
        `The backend returned ${typeof stored} where stored bytes were expected; it is treated as a miss and regenerated.`,
      );
    }
    if (!isFramed(stored)) return stored;
    const body = stored.subarray(HEADER);
    const limit = { maxOutputLength: this.maxDecompressedBytes };
    let out: Buffer;
    try {
      if (stored[3] === GZIP) out = gunzipSync(body, limit);
      else if (stored[3] === BROTLI) out = brotliDecompressSync(body, limit);
      else
        throw new UnreadableValueError(
          `A compressed value names an unknown algorithm (${stored[3]}); it was written by a newer version, or is damaged.`,
        );
    } catch (error) {
      if (error instanceof UnreadableValueError) throw error;
      throw new UnreadableValueError(
        `A compressed value could not be decompressed (${(error as Error).message}); it is treated as a miss and regenerated.`,
        { cause: error },
      );
    }
    return out.length === 0 ? NO_VALUE : new Uint8Array(out.buffer, out.byteOffset, out.length);
  }
}
