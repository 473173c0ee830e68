import * as zlib from 'node:zlib';

/** Node's CRC-32 (20.15 and later), else a table-driven one with the same results. */
const crc32: (data: Uint8Array) => number =
  typeof zlib.crc32 === 'function' ? (data) => zlib.crc32(data) : tableCrc32();

function tableCrc32(): (data: Uint8Array) => number {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return (data) => {
    let crc = 0xffffffff;
    for (const byte of data) crc = table[(crc ^ byte) & 0xff]! ^ (crc >>> 8);
    return (crc ^ 0xffffffff) >>> 0;
  };
}

/**
 * The bytes of one value file: a 24-byte header, then the value's bytes.
 *
 * | offset | size | field |
 * |---|---|---|
 * | 0 | 4 | magic `DPF1` |
 * | 4 | 4 | CRC-32 of the value (uint32, little-endian) |
 * | 8 | 8 | expiry, ms since the epoch (float64 LE); `0`: never |
 * | 16 | 8 | the value's length in bytes (float64 LE) |
 *
 * A file whose magic, length or checksum does not match (truncated, damaged, foreign) is a miss,
 * never a wrong value.
 */
export const HEADER_BYTES = 24;
const MAGIC = 0x31465044; // 'DPF1' read as a little-endian uint32

/** The file contents for `value`, expiring at `expiresAt` (ms since the epoch) or never (`null`). */
export function encodeValueFile(value: Uint8Array, expiresAt: number | null): Buffer {
  const file = Buffer.allocUnsafe(HEADER_BYTES + value.byteLength);
  file.writeUInt32LE(MAGIC, 0);
  file.writeUInt32LE(crc32(value), 4);
  file.writeDoubleLE(expiresAt ?? 0, 8);
  file.writeDoubleLE(value.byteLength, 16);
  file.set(value, HEADER_BYTES);
  return file;
}

/** The expiry of a file's header, `null` for never, `undefined` if the header is not ours. */
export function readExpiry(header: Buffer): number | null | undefined {
  if (header.byteLength < HEADER_BYTES || header.readUInt32LE(0) !== MAGIC) return undefined;
  const expiresAt = header.readDoubleLE(8);
  return expiresAt === 0 ? null : expiresAt;
}

/** What {@link decodeValueFile} found. */
export type DecodedFile =
  | { ok: true; value: Uint8Array; expiresAt: number | null }
  | { ok: false; reason: string };

/** Checks a whole file and returns its value (a view on `file`), or why it is not one. */
export function decodeValueFile(file: Buffer): DecodedFile {
  const expiresAt = readExpiry(file);
  if (expiresAt === undefined) return { ok: false, reason: 'not a dogpile value file' };
  const length = file.readDoubleLE(16);
  if (length !== file.byteLength - HEADER_BYTES) {
    return {
      ok: false,
      reason: `truncated or damaged: ${file.byteLength - HEADER_BYTES} bytes where its header says ${length}`,
    };
  }
  const value = file.subarray(HEADER_BYTES);
  if (crc32(value) !== file.readUInt32LE(4)) {
    return { ok: false, reason: 'damaged: its checksum does not match' };
  }
  return { ok: true, value, expiresAt };
}
