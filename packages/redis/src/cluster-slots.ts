/**
 * Redis Cluster key slots (CRC16/XMODEM of the key, or of its `{hash tag}`, modulo 16384), so
 * multi-key commands can be split into one command per slot: Cluster refuses MGET, MSET and DEL
 * over keys of different slots with CROSSSLOT, and ioredis does not split them.
 */

export const SLOT_COUNT = 16384;

const TABLE = (() => {
  const table = new Uint16Array(256);
  for (let i = 0; i < 256; i++) {
    let crc = i << 8;
    for (let bit = 0; bit < 8; bit++)
      crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
    table[i] = crc;
  }
  return table;
})();

const encoder = new TextEncoder();

function crc16(bytes: Uint8Array): number {
  let crc = 0;
  for (let i = 0; i < bytes.length; i++)
    crc = ((crc << 8) & 0xffff) ^ TABLE[((crc >> 8) ^ bytes[i]!) & 0xff]!;
  return crc;
}

/** The part of `key` Redis hashes: the text between the first `{` and the next `}`, if not empty. */
export function hashTag(key: string): string {
  const open = key.indexOf('{');
  if (open < 0) return key;
  const close = key.indexOf('}', open + 1);
  if (close < 0 || close === open + 1) return key;
  return key.slice(open + 1, close);
}

/** The Cluster slot of `key` (a string, taken as UTF-8). */
export function keySlot(key: string): number {
  return crc16(encoder.encode(hashTag(key))) % SLOT_COUNT;
}

/**
 * Groups the indexes of `keys` by slot, in first-seen order. `prefix` is the client's ioredis
 * `keyPrefix`, which is part of the key Redis sees.
 */
export function groupBySlot(keys: readonly string[], prefix = ''): number[][] {
  const groups = new Map<number, number[]>();
  for (let i = 0; i < keys.length; i++) {
    const slot = keySlot(prefix + keys[i]!);
    const group = groups.get(slot);
    if (group) group.push(i);
    else groups.set(slot, [i]);
  }
  return [...groups.values()];
}
