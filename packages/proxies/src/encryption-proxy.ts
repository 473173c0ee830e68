import {
  createCipheriv,
  createDecipheriv,
  createSecretKey,
  type KeyObject,
  randomBytes,
} from 'node:crypto';
import { CachedValue, type NoValue, type Serializer, ValidationError } from '@dogpile/core';
import { ByteTransformProxy } from './byte-transform-proxy.js';
import { UnreadableValueError } from './errors.js';
import { booleanOption, checkOptions } from './options.js';

/**
 * Options of {@link EncryptionProxy}.
 *
 * @example
 * new EncryptionProxy({
 *   keys: { '2025-06': process.env.CACHE_KEY_NEW!, '2025-01': process.env.CACHE_KEY_OLD! },
 *   currentKeyId: '2025-06',
 * })
 */
export interface EncryptionProxyOptions {
  /**
   * The key ring: key id → 32-byte AES-256 key (a `Uint8Array`, or a base64 or 64-digit hex
   * string). Ids are 1–255 bytes of UTF-8 and are stored in each value's frame, so values written
   * with an older key still read while it is in the ring. Required, at least one key.
   */
  keys: Record<string, Uint8Array | string>;
  /** The id of the key new values are encrypted with. Default: the ring's only key (required with several). */
  currentKeyId?: string;
  /**
   * Read values that are not encrypted (written before encryption was turned on) as they are,
   * instead of as a miss. Turn it on only while migrating. Default: `false`.
   */
  readPlaintext?: boolean;
  /**
   * Over a store of objects (a `MemoryBackend` without `serialize`), the serializer that turns
   * values into bytes to encrypt. Over a byte store the backend's serializer is used. Default:
   * core's `v8Serializer`.
   */
  serializer?: Serializer;
}

const KNOWN = ['keys', 'currentKeyId', 'readPlaintext', 'serializer'] as const;

/** Frame: 0x00 'd' 'e' 0x01, key id length, key id, 12-byte IV, 16-byte tag, ciphertext. */
const MAGIC = [0x00, 0x64, 0x65, 0x01] as const;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

function parseKey(id: string, value: unknown): KeyObject {
  let bytes: Uint8Array | undefined;
  if (value instanceof Uint8Array) bytes = value;
  else if (typeof value === 'string') {
    if (/^[0-9a-fA-F]{64}$/.test(value)) bytes = Buffer.from(value, 'hex');
    else if (/^[A-Za-z0-9+/_-]+={0,2}$/.test(value)) bytes = Buffer.from(value, 'base64');
  }
  if (bytes === undefined || bytes.length !== 32) {
    // Never the key itself in a message: only its id and length.
    throw new ValidationError(
      `EncryptionProxy key "${id}" must be 32 bytes (a Uint8Array, base64 or 64 hex digits)${bytes === undefined ? '' : `; it is ${bytes.length} bytes`}. Generate one with crypto.randomBytes(32).toString('base64').`,
    );
  }
  return createSecretKey(Buffer.from(bytes));
}

/**
 * Encrypts every stored value with AES-256-GCM (`node:crypto`). Each value carries the id of the
 * key it was written with, so keys rotate without flushing the cache: add the new key, make it
 * `currentKeyId`, and drop the old one once its values have expired. The value's storage key is
 * authenticated too, so a value copied under another key does not read. Tampered, truncated or
 * foreign bytes, and values of a key no longer in the ring, are a miss (reported as
 * `ERR_PROXY_UNREADABLE`), never an exception to the caller and never a wrong value. Keys never
 * appear in messages, logs or `util.inspect`.
 *
 * The metadata (creation time) is encrypted with the payload; the storage keys are not (use a
 * key mangler such as `sha1MangleKey` to hide them).
 *
 * @example
 * region.configure(new RedisBackend({ url }), {
 *   wrap: [new EncryptionProxy({ keys: { k1: process.env.CACHE_KEY! } })],
 * });
 */
export class EncryptionProxy extends ByteTransformProxy {
  readonly #ring = new Map<string, KeyObject>();
  readonly #current: KeyObject;
  readonly #header: Uint8Array;
  readonly #readPlaintext: boolean;
  /** The id of the key new values are written with. */
  readonly currentKeyId: string;
  protected readonly operation = 'decrypt';

  constructor(options: EncryptionProxyOptions) {
    const o = checkOptions('EncryptionProxy', options, KNOWN);
    const serializer = o.serializer as Serializer | undefined;
    if (
      serializer !== undefined &&
      (typeof serializer?.serialize !== 'function' || typeof serializer.deserialize !== 'function')
    ) {
      throw new ValidationError('EncryptionProxy serializer must be a Serializer.');
    }
    super(serializer);
    const keys = o.keys;
    if (keys === null || typeof keys !== 'object' || Object.keys(keys).length === 0) {
      throw new ValidationError(
        'EncryptionProxy needs keys: an object of key id → 32-byte key, such as { k1: process.env.CACHE_KEY }.',
      );
    }
    for (const [id, value] of Object.entries(keys)) {
      const idBytes = encoder.encode(id);
      if (idBytes.length < 1 || idBytes.length > 255 || !id.isWellFormed()) {
        throw new ValidationError(
          'EncryptionProxy key ids must be well-formed strings of 1 to 255 UTF-8 bytes.',
        );
      }
      this.#ring.set(id, parseKey(id, value));
    }
    const ids = [...this.#ring.keys()];
    if (o.currentKeyId === undefined && ids.length > 1) {
      throw new ValidationError(
        `EncryptionProxy has ${ids.length} keys: say which one new values use with currentKeyId (one of ${ids.join(', ')}).`,
      );
    }
    const current = (o.currentKeyId as string | undefined) ?? ids[0]!;
    if (!this.#ring.has(current)) {
      throw new ValidationError(
        `EncryptionProxy currentKeyId "${String(current)}" is not in keys (${ids.join(', ')}).`,
      );
    }
    this.currentKeyId = current;
    this.#current = this.#ring.get(current)!;
    const id = encoder.encode(current);
    this.#header = new Uint8Array([...MAGIC, id.length, ...id]);
    this.#readPlaintext = booleanOption('EncryptionProxy', 'readPlaintext', o.readPlaintext, false);
  }

  /** The key ids in the ring (never the keys). */
  get keyIds(): string[] {
    return [...this.#ring.keys()];
  }

  protected encode(key: string, bytes: Uint8Array): Uint8Array {
    const header = this.#header;
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.#current, iv);
    cipher.setAAD(aad(header, key));
    const body = Buffer.concat([cipher.update(bytes), cipher.final()]);
    const tag = cipher.getAuthTag();
    const out = new Uint8Array(header.length + IV_BYTES + TAG_BYTES + body.length);
    out.set(header, 0);
    out.set(iv, header.length);
    out.set(tag, header.length + IV_BYTES);
    out.set(body, header.length + IV_BYTES + TAG_BYTES);
    return out;
  }

  protected decode(key: string, stored: unknown): Uint8Array | CachedValue | NoValue {
    if (!(stored instanceof Uint8Array)) {
      if (stored instanceof CachedValue && this.#readPlaintext) return stored;
      throw new UnreadableValueError(
        'A stored value is not encrypted (it was written without EncryptionProxy); it is treated as a miss and regenerated. Set readPlaintext: true while migrating to keep such values.',
      );
    }
    if (!MAGIC.every((byte, i) => stored[i] === byte) || stored.length < MAGIC.length + 1) {
      if (this.#readPlaintext) return stored;
      throw new UnreadableValueError(
        'A stored value is not encrypted (it was written without EncryptionProxy, or by someone else); it is treated as a miss and regenerated. Set readPlaintext: true while migrating to keep such values.',
      );
    }
    const idLength = stored[MAGIC.length]!;
    const headerEnd = MAGIC.length + 1 + idLength;
    if (stored.length < headerEnd + IV_BYTES + TAG_BYTES) {
      throw new UnreadableValueError('An encrypted value is truncated; it is treated as a miss.');
    }
    let id: string;
    try {
      id = decoder.decode(stored.subarray(MAGIC.length + 1, headerEnd));
    } catch {
      throw new UnreadableValueError(
        'An encrypted value has a damaged key id; it is treated as a miss.',
      );
    }
    const secret = this.#ring.get(id);
    if (secret === undefined) {
      throw new UnreadableValueError(
        `A value was encrypted with key "${id}", which is not in the key ring any more; it is treated as a miss and regenerated.`,
      );
    }
    const iv = stored.subarray(headerEnd, headerEnd + IV_BYTES);
    const tag = stored.subarray(headerEnd + IV_BYTES, headerEnd + IV_BYTES + TAG_BYTES);
    try {
      const decipher = createDecipheriv('aes-256-gcm', secret, iv);
      decipher.setAAD(aad(stored.subarray(0, headerEnd), key));
      decipher.setAuthTag(tag);
      const plain = Buffer.concat([
        decipher.update(stored.subarray(headerEnd + IV_BYTES + TAG_BYTES)),
        decipher.final(),
      ]);
      return new Uint8Array(plain.buffer, plain.byteOffset, plain.length);
    } catch (error) {
      throw new UnreadableValueError(
        'An encrypted value failed authentication (tampered with, damaged, or stored under another key); it is treated as a miss and regenerated.',
        { cause: error },
      );
    }
  }

  /** What `util.inspect` and `console.log` show: the key ids, never the keys. */
  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return `EncryptionProxy { keyIds: [${this.keyIds.join(', ')}], currentKeyId: ${this.currentKeyId} }`;
  }

  toJSON(): { keyIds: string[]; currentKeyId: string } {
    return { keyIds: this.keyIds, currentKeyId: this.currentKeyId };
  }
}

/** The authenticated data: the frame's header and the storage key. */
function aad(header: Uint8Array, key: string): Buffer {
  return Buffer.concat([header, encoder.encode(key)]);
}
