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
  // The common shape is read in one pass that also finds the `|` right after it (the first one:
  // none can be inside that shape), with no search for it.
  const plain = bytes instanceof Uint8Array ? plainMetadata(bytes, bytes.length) : undefined;
  if (plain !== undefined) {
    if (plain.v !== VALUE_VERSION) return NO_VALUE;
    return new CachedValue(serializer.deserialize(bytes.subarray(scanned + 1)), plain);
  }
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
  let metadata: CacheMetadata | undefined = plainMetadata(bytes, offset - 1);
  if (metadata !== undefined && scanned === offset - 1) {
    return metadata.v === VALUE_VERSION ? metadata : NO_VALUE;
  }
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

// ---------------------------------------------------------------- the common shape, without JSON.parse

const SPACE = 0x20;
const TAB = 0x09;
const LF = 0x0a;
const CR = 0x0d;
const QUOTE = 0x22;
const COLON = 0x3a;
const COMMA = 0x2c;
const OPEN = 0x7b;
const CLOSE = 0x7d;
const MINUS = 0x2d;
const PLUS = 0x2b;
const DOT = 0x2e;
const ZERO = 0x30;
const NINE = 0x39;
const LOWER_C = 0x63;
const LOWER_T = 0x74;
const LOWER_V = 0x76;
const LOWER_E = 0x65;
const UPPER_E = 0x45;

/** Exact powers of ten as doubles (10^22 is the largest). */
const POW10 = Array.from({ length: 23 }, (_, i) => Number(`1e${i}`));

/** Where the number {@link scanNumber} read last ended. */
let scanned = 0;

/**
 * The JSON number that starts at `i` (JSON's grammar, nothing looser), its end left in
 * {@link scanned}; `NaN`, which no JSON number is, when none starts there. Up to 2^53 as an
 * integer of all its digits and at most 22 decimals, it is that integer divided by an exact power
 * of ten: one correctly rounded division of two exact doubles, which is the correctly rounded
 * value of the decimal, the double JSON.parse gives. Other numbers (an exponent, more digits) go
 * through `Number()`, which gives the same as JSON.parse for text in JSON's grammar.
 */
function scanNumber(bytes: Uint8Array, i: number, end: number): number {
  const start = i;
  const negative = bytes[i] === MINUS;
  if (negative) i++;
  if (i >= end || !isDigit(bytes[i]!)) return Number.NaN;
  let digits = bytes[i]! - ZERO;
  i++;
  if (digits !== 0) {
    for (; i < end && isDigit(bytes[i]!); i++) digits = digits * 10 + (bytes[i]! - ZERO);
  }
  let scale = 0;
  if (i < end && bytes[i] === DOT) {
    const first = ++i;
    for (; i < end && isDigit(bytes[i]!); i++) digits = digits * 10 + (bytes[i]! - ZERO);
    if (i === first) return Number.NaN;
    scale = i - first;
  }
  let exact = digits <= Number.MAX_SAFE_INTEGER && scale < POW10.length;
  if (i < end && (bytes[i] === LOWER_E || bytes[i] === UPPER_E)) {
    i++;
    if (i < end && (bytes[i] === PLUS || bytes[i] === MINUS)) i++;
    const first = i;
    while (i < end && isDigit(bytes[i]!)) i++;
    if (i === first) return Number.NaN;
    exact = false;
  }
  scanned = i;
  if (exact) {
    const value = digits / POW10[scale]!;
    return negative ? -value : value;
  }
  let text = '';
  for (let j = start; j < i; j++) text += String.fromCharCode(bytes[j]!);
  return Number(text);
}

function isDigit(b: number): boolean {
  return b >= ZERO && b <= NINE;
}

function skipSpace(bytes: Uint8Array, i: number, end: number): number {
  while (i < end) {
    const b = bytes[i]!;
    if (b !== SPACE && b !== TAB && b !== LF && b !== CR) break;
    i++;
  }
  return i;
}

/**
 * The metadata in front of the first `|` when it is exactly `{"ct":<number>,"v":<number>}` (JSON
 * whitespace allowed between tokens, as Python's `json.dumps` writes it), decoded without a string
 * or `JSON.parse`, the position of that `|` left in {@link scanned}; `undefined` for anything else,
 * which then goes through `JSON.parse` (so the result for any bytes is the same as `JSON.parse`
 * gives). Reads no further than `end` (the `|` when known, else the length): nothing this accepts
 * is a `|`, so what it reads is all in front of the first one.
 */
function plainMetadata(bytes: Uint8Array, end: number): CacheMetadata | undefined {
  let i: number;
  // What this project writes, `{"ct":`, checked byte by byte first; whitespace only after that.
  if (
    bytes[0] === OPEN &&
    bytes[1] === QUOTE &&
    bytes[2] === LOWER_C &&
    bytes[3] === LOWER_T &&
    bytes[4] === QUOTE &&
    bytes[5] === COLON
  ) {
    i = 6;
  } else {
    i = skipSpace(bytes, 0, end);
    if (bytes[i] !== OPEN) return undefined;
    i = afterName(bytes, i + 1, end, LOWER_C, LOWER_T);
    if (i < 0) return undefined;
  }
  const ct = scanNumber(bytes, skipSpace(bytes, i, end), end);
  if (Number.isNaN(ct)) return undefined; // no number there
  i = scanned;
  if (
    bytes[i] === COMMA &&
    bytes[i + 1] === QUOTE &&
    bytes[i + 2] === LOWER_V &&
    bytes[i + 3] === QUOTE &&
    bytes[i + 4] === COLON
  ) {
    i += 5;
  } else {
    i = skipSpace(bytes, i, end);
    if (bytes[i] !== COMMA) return undefined;
    i = afterName(bytes, i + 1, end, LOWER_V, -1);
    if (i < 0) return undefined;
  }
  const v = scanNumber(bytes, skipSpace(bytes, i, end), end);
  if (Number.isNaN(v)) return undefined;
  i = scanned;
  if (bytes[i] !== CLOSE) return undefined;
  i = skipSpace(bytes, i + 1, end);
  if (bytes[i] !== PIPE) return undefined;
  scanned = i;
  return { ct, v };
}

/**
 * Where the value after `"<a><b>":` (or `"<a>":` when `b` is -1) starts, whitespace skipped, when
 * that name starts at `i` after whitespace; -1 otherwise. Never reads past `end` but for the byte
 * at `end` itself, the `|`, which matches nothing looked for.
 */
function afterName(bytes: Uint8Array, i: number, end: number, a: number, b: number): number {
  i = skipSpace(bytes, i, end);
  if (bytes[i] !== QUOTE || bytes[i + 1] !== a) return -1;
  i += 2;
  if (b >= 0) {
    if (bytes[i] !== b) return -1;
    i++;
  }
  if (bytes[i] !== QUOTE) return -1;
  i = skipSpace(bytes, i + 1, end);
  if (bytes[i] !== COLON) return -1;
  return skipSpace(bytes, i + 1, end);
}
