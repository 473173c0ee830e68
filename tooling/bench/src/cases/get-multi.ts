import Database from 'better-sqlite3';
import { Redis } from 'ioredis';
import { makeKeys, TTL_SECONDS, VALUE } from '../fixtures.js';
import type { TimingGroup } from '../groups.js';
import { type BenchCase, type RunOptions, runInterleaved } from '../harness.js';
import type { Contender, NotApplicable, Store } from '../peers/contender.js';
import { closeAll, contendersOn } from '../peers/index.js';

/** Keys read by one multi-get. */
export const MULTI_KEYS = 100;

/** A raw multi-read: the natural baseline on each store, with no cache library involved. */
interface Raw {
  name: string;
  case: BenchCase;
}

function isSeededValue(value: unknown): boolean {
  return typeof value === 'object' && value !== null && (value as typeof VALUE).id === VALUE.id;
}

/**
 * A contender's own multi-key read of 100 warm keys. The keys are seeded through its
 * read-through call, and one untimed read checks that every key comes back, so a multi-get
 * that misses cannot pass for a fast one.
 */
function multiCase(contender: Contender): BenchCase {
  const keys = makeKeys(`${contender.id}-multi`, MULTI_KEYS);
  const multi = contender.multi!;
  const seed = () => Promise.resolve(VALUE);
  return {
    name: multi.name,
    setup: async () => {
      for (const key of keys) await contender.getOrCreate(key, seed);
      const values = await multi.get(keys);
      if (values.length !== MULTI_KEYS || !values.every(isSeededValue)) {
        throw new Error(
          `${contender.name}: the multi-get did not return the ${MULTI_KEYS} seeded values`,
        );
      }
    },
    op: () => multi.get(keys),
    teardown: () => contender.close(),
  };
}

function rawMemory(): Raw {
  const keys = makeKeys('map-multi', MULTI_KEYS);
  const map = new Map<string, unknown>(keys.map((k) => [k, VALUE]));
  const name = `${MULTI_KEYS} Map.get, awaited once`;
  return { name, case: { name, op: async () => keys.map((k) => map.get(k)) } };
}

function rawRedis(url: string): Raw {
  const keys = makeKeys('raw-multi', MULTI_KEYS);
  const name = 'raw ioredis MGET';
  let client: Redis | undefined;
  return {
    name,
    case: {
      name,
      setup: async () => {
        client = new Redis(url);
        const json = JSON.stringify(VALUE);
        for (const key of keys) await client.set(key, json, 'EX', TTL_SECONDS);
      },
      op: () => client!.mget(keys),
      teardown: async () => {
        await client?.quit();
      },
    },
  };
}

function rawSqlite(filename: string): Raw {
  const keys = makeKeys('raw-multi', MULTI_KEYS);
  const name = 'raw prepared SELECT ... IN (100 keys)';
  let db: Database.Database | undefined;
  let select: Database.Statement | undefined;
  return {
    name,
    case: {
      name,
      setup: () => {
        // Its own table in the same file (WAL, as dogpile's backend leaves it), JSON bytes as
        // the value: what a hand-written cache table would hold.
        db = new Database(filename);
        db.exec('CREATE TABLE IF NOT EXISTS raw_cache (key TEXT PRIMARY KEY, value BLOB NOT NULL)');
        const insert = db.prepare('INSERT OR REPLACE INTO raw_cache (key, value) VALUES (?, ?)');
        const bytes = Buffer.from(JSON.stringify(VALUE));
        db.transaction(() => {
          for (const key of keys) insert.run(key, bytes);
        })();
        select = db.prepare(
          `SELECT key, value FROM raw_cache WHERE key IN (${keys.map(() => '?').join(', ')})`,
        );
      },
      op: () => select!.all(...keys),
      teardown: () => {
        db?.close();
      },
    },
  };
}

const TITLES: Record<Store['kind'], string> = {
  memory: 'getMulti of 100 warm keys, memory',
  redis: 'getMulti of 100 warm keys, Redis',
  sqlite: 'getMulti of 100 warm keys, SQLite (one file, WAL)',
};

/** One multi-get of 100 keys per op, on `store`, ours and the peers that have one, vs raw. */
export async function getMulti(store: Store, options: RunOptions): Promise<TimingGroup> {
  const raw =
    store.kind === 'memory'
      ? rawMemory()
      : store.kind === 'redis'
        ? rawRedis(store.url)
        : rawSqlite(store.filename);
  const { contenders, notApplicable } = await contendersOn(store);
  const withMulti = contenders.filter((c) => c.multi);
  const without = contenders.filter((c) => !c.multi);
  const na: NotApplicable[] = [
    ...without.map((c) => ({ name: c.name, reason: 'no multi-key read in its API' })),
    ...notApplicable,
  ];
  try {
    // Those without a multi-get take no part; close them now.
    await closeAll(without);
    const results = await runInterleaved([raw.case, ...withMulti.map(multiCase)], options);
    return {
      kind: 'timing',
      title: TITLES[store.kind],
      baseline: raw.name,
      reference: results[1]!.name,
      results,
      notApplicable: na,
    };
  } catch (error) {
    await closeAll(contenders).catch(() => {});
    throw error;
  }
}
