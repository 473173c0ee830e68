import { describe, expect, it } from 'vitest';
import { pymemcacheMurmur3, pymemcacheServer } from '../src/index.js';

// Computed with pymemcache 3.5's own murmur3_32 and RendezvousHash (see the README).
const KEYS = [
  '',
  'a',
  'ab',
  'abc',
  'abcd',
  'abcde',
  '127.0.0.1:11211-user:42',
  'é€😀x',
  't:python:ff:key-17',
];
const HASHES = [
  0, 1009084850, 2613040991, 3017643002, 1139631978, 3902511862, 383303529, 1175612710, 317618987,
];
const PLACED = [
  0, 2, 1, 0, 2, 1, 0, 1, 2, 0, 2, 0, 1, 2, 2, 0, 0, 0, 1, 1, 2, 2, 0, 1, 1, 2, 2, 0, 2, 2, 0, 1, 2,
  0, 1, 1, 0, 0, 0, 0, 0, 1, 2, 1, 0, 2, 1, 2, 0, 0,
];

describe('pymemcache key placement', () => {
  it('hashes as pymemcache murmur3_32 does', () => {
    expect(KEYS.map((key) => pymemcacheMurmur3(key))).toEqual(HASHES);
  });

  it('places keys as pymemcache RendezvousHash does', () => {
    const nodes = ['127.0.0.1:1', '127.0.0.1:2', '127.0.0.1:3'];
    expect(PLACED.map((_, i) => pymemcacheServer(nodes, `k${i}`))).toEqual(PLACED);
  });
});
