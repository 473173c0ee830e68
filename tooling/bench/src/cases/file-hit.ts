import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeRegion } from '@dogpile/core';
import { FileBackend } from '@dogpile/file';
import { BentoCache, bentostore } from 'bentocache';
import { fileDriver } from 'bentocache/drivers/file';
import { HOT_KEYS, makeKeys, neverCalled, TTL_MS, VALUE } from '../fixtures.js';
import type { TimingGroup } from '../groups.js';
import { type BenchCase, type RunOptions, runInterleaved } from '../harness.js';
import { hashName } from './file-shared.js';

const BASELINE = 'raw fs.readFile of the same file';

/**
 * The file hit path: dogpile's region on a FileBackend against a raw `fs.readFile` of the very
 * files that backend wrote (no decoding: the floor of any async file read), the same with
 * `syncIO: false`, the backend's own read (`getSerialized`: read, check header and checksum, no
 * JSON), and bentocache's file driver.
 */
export async function fileHit(options: RunOptions): Promise<TimingGroup> {
  const dir = mkdtempSync(join(tmpdir(), 'dogpile-bench-file-'));
  const keys = makeKeys('file', HOT_KEYS);
  mkdirSync(join(dir, 'dogpile'));
  const backend = new FileBackend({ directory: join(dir, 'dogpile') });
  const region = makeRegion();
  let i = 0;
  const ours: BenchCase = {
    name: 'dogpile getOrCreate (FileBackend)',
    setup: async () => {
      region.configure(backend, { expirationTime: TTL_MS / 1000 });
      for (const key of keys) await region.getOrCreate(key, async () => VALUE);
    },
    op: () => region.getOrCreate(keys[i++ & (HOT_KEYS - 1)]!, neverCalled),
    teardown: () => region.close(),
  };
  // The same files, read raw.
  const files = keys.map((key) => {
    const hash = hashName(key);
    return join(dir, 'dogpile', hash.slice(0, 2), hash.slice(2, 4), hash);
  });
  // The same files through async reads (thread pool), as on a network file system.
  const asyncBackend = new FileBackend({ directory: join(dir, 'dogpile'), syncIO: false });
  const asyncRegion = makeRegion();
  let a = 0;
  const oursAsync: BenchCase = {
    name: 'dogpile getOrCreate (FileBackend, syncIO: false)',
    setup: () => {
      asyncRegion.configure(asyncBackend, { expirationTime: TTL_MS / 1000 });
    },
    op: () => asyncRegion.getOrCreate(keys[a++ & (HOT_KEYS - 1)]!, neverCalled),
    teardown: () => asyncRegion.close(),
  };
  let j = 0;
  const raw: BenchCase = { name: BASELINE, op: () => readFile(files[j++ & (HOT_KEYS - 1)]!) };
  let k = 0;
  const backendRead: BenchCase = {
    name: 'FileBackend.getSerialized (read + header/checksum)',
    op: () => backend.getSerialized(keys[k++ & (HOT_KEYS - 1)]!),
  };
  const bento = new BentoCache({
    default: 'cache',
    ttl: TTL_MS,
    stores: { cache: bentostore().useL2Layer(fileDriver({ directory: join(dir, 'bento') })) },
  });
  let b = 0;
  const bentoCase: BenchCase = {
    name: 'bentocache getOrSet (file driver)',
    setup: async () => {
      for (const key of keys) await bento.getOrSet({ key, factory: () => VALUE });
    },
    op: () => bento.getOrSet({ key: keys[b++ & (HOT_KEYS - 1)]!, factory: neverCalled }),
    teardown: () => bento.disconnectAll(),
  };
  try {
    const results = await runInterleaved([raw, ours, oursAsync, backendRead, bentoCase], options);
    return {
      kind: 'timing',
      title: `File hit path (warm key, ${HOT_KEYS} keys, one file each, 1 in flight)`,
      baseline: BASELINE,
      reference: ours.name,
      results,
      notApplicable: [],
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
