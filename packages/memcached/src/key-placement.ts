/**
 * MurmurHash3 (x86, 32-bit) as pymemcache computes it: over the string's code points (each
 * taken modulo 256, which is what pymemcache's `ord(c) & 0xff` does), not over UTF-8 bytes. For
 * ASCII keys, the two are the same.
 */
export function pymemcacheMurmur3(text: string, seed = 0): number {
  const data: number[] = [];
  for (const ch of text) data.push(ch.codePointAt(0)! & 0xff);
  const c1 = 0xcc9e2d51;
  const c2 = 0x1b873593;
  const length = data.length;
  let h1 = seed >>> 0;
  const roundedEnd = length & ~3;
  for (let i = 0; i < roundedEnd; i += 4) {
    let k1 = data[i]! | (data[i + 1]! << 8) | (data[i + 2]! << 16) | (data[i + 3]! << 24);
    k1 = Math.imul(k1, c1);
    k1 = (k1 << 15) | (k1 >>> 17);
    k1 = Math.imul(k1, c2);
    h1 ^= k1;
    h1 = (h1 << 13) | (h1 >>> 19);
    h1 = (Math.imul(h1, 5) + 0xe6546b64) | 0;
  }
  let k1 = 0;
  const tail = length & 3;
  if (tail === 3) k1 = data[roundedEnd + 2]! << 16;
  if (tail >= 2) k1 |= data[roundedEnd + 1]! << 8;
  if (tail >= 1) {
    k1 |= data[roundedEnd]!;
    k1 = Math.imul(k1, c1);
    k1 = (k1 << 15) | (k1 >>> 17);
    k1 = Math.imul(k1, c2);
    h1 ^= k1;
  }
  h1 ^= length;
  h1 ^= h1 >>> 16;
  h1 = Math.imul(h1, 0x85ebca6b);
  h1 ^= h1 >>> 13;
  h1 = Math.imul(h1, 0xc2b2ae35);
  h1 ^= h1 >>> 16;
  return h1 >>> 0;
}

/**
 * The server pymemcache's `HashClient` (which dogpile.cache's pymemcache backend uses) picks for
 * `key`: rendezvous hashing, the highest `murmur3("<host>:<port>-<key>")`, ties to the greater
 * node name. `nodes` are `host:port` as pymemcache names them (IPv6 hosts without brackets).
 * Returns the index in `nodes`.
 */
export function pymemcacheServer(nodes: readonly string[], key: string): number {
  let best = -1;
  let winner = -1;
  for (const [index, node] of nodes.entries()) {
    const score = pymemcacheMurmur3(`${node}-${key}`);
    if (score > best || (score === best && node > nodes[winner]!)) {
      best = score;
      winner = index;
    }
  }
  return winner;
}
