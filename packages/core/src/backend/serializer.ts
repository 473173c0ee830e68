import * as v8 from 'node:v8';
import { CantDeserializeError, SerializationError } from '../errors.js';

/**
 * Turns payloads into bytes and back. `deserialize` may throw {@link CantDeserializeError}, which
 * the region treats as a miss and regenerates.
 */
export interface Serializer {
  serialize(value: unknown): Uint8Array;
  deserialize(bytes: Uint8Array): unknown;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

/**
 * JSON as UTF-8. Values written with it are readable by Python dogpile.cache configured with a
 * `json.dumps`/`json.loads` serializer, and the other way round. It stores what `JSON.stringify`
 * keeps (a `Date` becomes a string); `undefined` and `BigInt` payloads are rejected with a
 * {@link SerializationError} rather than silently changed. Use {@link v8Serializer} for those.
 */
export const jsonSerializer: Serializer = {
  serialize(value) {
    let text: string | undefined;
    try {
      text = JSON.stringify(value);
    } catch (error) {
      throw new SerializationError(
        `jsonSerializer cannot store this value: ${(error as Error).message}. Use v8Serializer, or convert the value first.`,
        { cause: error },
      );
    }
    if (text === undefined) {
      throw new SerializationError(
        `jsonSerializer cannot store ${typeof value} payloads. Return null instead, or use v8Serializer.`,
      );
    }
    return encoder.encode(text);
  },
  deserialize(bytes) {
    try {
      return JSON.parse(decoder.decode(bytes));
    } catch (error) {
      throw new CantDeserializeError(
        `Stored bytes are not valid JSON: ${(error as Error).message}`,
        {
          cause: error,
        },
      );
    }
  },
};

/**
 * Node's structured clone format (`node:v8`): keeps `Map`, `Set`, `Date`, `BigInt`, typed arrays,
 * `undefined` and cycles. Only Node reads it. Each value it reads is its own: `v8.deserialize`
 * returns typed arrays that are views into the bytes it was given, so it is given a copy, and no
 * caller's typed array shares memory with the cache or with another caller's.
 */
export const v8Serializer: Serializer = {
  serialize(value) {
    try {
      return v8.serialize(value);
    } catch (error) {
      throw new SerializationError(
        `v8Serializer cannot store this value: ${(error as Error).message}. Functions, symbols and class behaviour do not survive structured cloning.`,
        { cause: error },
      );
    }
  },
  deserialize(bytes) {
    try {
      // A copy, not a view: the typed arrays of the value point into it.
      return v8.deserialize(Buffer.from(bytes));
    } catch (error) {
      throw new CantDeserializeError(
        `Stored bytes are not in v8 format: ${(error as Error).message}`,
        {
          cause: error,
        },
      );
    }
  },
};
