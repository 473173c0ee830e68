import { describe, expect, it } from 'vitest';
import {
  BackendInvalidationStrategy,
  type CacheBackend,
  CachedValue,
  DefaultInvalidationStrategy,
  type Duration,
  makeRegion,
  NO_VALUE,
  ValidationError,
} from '../src/index.js';
import { ManualClock, MapBackend, settle } from './helpers.js';
import { collectErrors, FlakyBackend } from './resilience-fixtures.js';

/** Two "processes": regions of the same name over one shared backend, with one clock. */
async function twoProcesses(
  backend: CacheBackend = new MapBackend(),
  options: { cacheTime?: Duration } = { cacheTime: 1 },
) {
  const clock = new ManualClock();
  const make = () => {
    const strategy = new BackendInvalidationStrategy(options);
    const region = makeRegion({ name: 'users', clock }).configure(backend, {
      expirationTime: 60,
      regionInvalidator: strategy,
    });
    return { region, strategy };
  };
  const a = make();
  const b = make();
  // Both copies loaded, as they are shortly after start.
  await Promise.all([a.strategy.refresh(), b.strategy.refresh()]);
  return { clock, backend, a, b };
}

describe('BackendInvalidationStrategy: invalidation shared through the backend', () => {
  it('makes invalidate() in one process hold in the other within cacheTime', async () => {
    const { clock, a, b } = await twoProcesses();
    await b.region.getOrCreate('user:1', () => 'v1');
    clock.advance(10);
    await a.region.invalidate();
    clock.advance(10);

    // The invalidating process sees it at once.
    expect(a.region.regionInvalidator.isHardInvalidated(clock.ms / 1000 - 0.015)).toBe(true);
    // The other trusts its copy for cacheTime (one second): still the old value.
    expect(await b.region.getOrCreate('user:1', () => 'v2')).toBe('v1');

    clock.advance(1_000);
    // This check finds its copy too old and starts one background read; it answers from the
    // copy meanwhile, so a hit never waits for the backend.
    expect(await b.region.getOrCreate('user:1', () => 'v2')).toBe('v1');
    await b.strategy.refresh();
    expect(await b.region.getOrCreate('user:1', () => 'v2')).toBe('v2');
  });

  it('does not hold across processes with the default strategy (what this strategy is for)', async () => {
    const backend = new MapBackend();
    const clock = new ManualClock();
    const a = makeRegion({ clock }).configure(backend, {
      regionInvalidator: new DefaultInvalidationStrategy(() => clock.ms / 1000),
    });
    const b = makeRegion({ clock }).configure(backend);
    await b.getOrCreate('k', () => 'v1');
    clock.advance(10);
    await a.invalidate();
    clock.advance(5_000);
    expect(await b.getOrCreate('k', () => 'v2')).toBe('v1');
  });

  it('keeps the hit path off the backend: one read of the times per cacheTime, however many hits', async () => {
    const backend = new MapBackend();
    const { clock, b } = await twoProcesses(backend);
    await b.region.set('k', 'v');
    const readsBefore = backend.calls.getMulti;
    for (let i = 0; i < 1_000; i++) await b.region.getOrCreate('k', () => 'unused');
    expect(backend.calls.getMulti).toBe(readsBefore);

    clock.advance(1_000);
    // A burst of hits once the copy is old starts exactly one read (single-flight).
    await Promise.all(Array.from({ length: 1_000 }, () => b.region.getOrCreate('k', () => 'x')));
    await settle();
    expect(backend.calls.getMulti).toBe(readsBefore + 1);
  });

  it('shares soft invalidation: the other process serves the old value while one caller regenerates', async () => {
    const { clock, a, b } = await twoProcesses();
    await b.region.set('k', 'old');
    clock.advance(10);
    await a.region.invalidate({ hard: false });
    clock.advance(1_000);
    await b.strategy.refresh();
    expect(b.strategy.wasSoftInvalidated()).toBe(true);
    let release!: () => void;
    const regenerating = b.region.getOrCreate(
      'k',
      () =>
        new Promise<string>((resolve) => {
          release = () => resolve('new');
        }),
    );
    await settle();
    expect(await b.region.getOrCreate('k', () => 'unused')).toBe('old');
    release();
    expect(await regenerating).toBe('new');
  });

  it('keeps a value older than a hard invalidation a miss after a later soft one', async () => {
    const { clock, a, b } = await twoProcesses();
    await b.region.set('k', 'ancient');
    clock.advance(10);
    await a.region.invalidate({ hard: true });
    clock.advance(10);
    await a.region.invalidate({ hard: false });
    clock.advance(1_000);
    await b.strategy.refresh();
    expect(b.strategy.wasHardInvalidated()).toBe(false);
    expect(b.strategy.wasSoftInvalidated()).toBe(true);
    expect(await b.region.get('k', { ignoreExpiration: false })).toBe(NO_VALUE);
    expect(await b.region.getOrCreate('k', () => 'fresh')).toBe('fresh');
  });

  it('stores the times under keys named after the region, through its key mangler', async () => {
    const backend = new MapBackend();
    const region = makeRegion({ name: 'users', keyMangler: (key) => `app:${key}` }).configure(
      backend,
      { regionInvalidator: new BackendInvalidationStrategy() },
    );
    await region.invalidate();
    await region.invalidate({ hard: false });
    expect([...backend.store.keys()].sort()).toEqual([
      'app:_dogpile_invalidation:users:hard',
      'app:_dogpile_invalidation:users:soft',
    ]);
    const custom = makeRegion({ name: 'users' }).configure(new MapBackend(), {
      regionInvalidator: new BackendInvalidationStrategy({ key: 'users-v2' }),
    });
    await custom.invalidate();
    expect([...(custom.backend as MapBackend).store.keys()]).toEqual(['users-v2:hard']);
  });

  it('reports a failed read of the times, keeps its copy, and retries at most once per cacheTime', async () => {
    const backend = new FlakyBackend();
    const { clock, a, b } = await twoProcesses(backend);
    await a.region.invalidate();
    clock.advance(1_000);
    await b.strategy.refresh();
    const hard = b.strategy.times.hard;
    expect(hard).not.toBeNull();

    backend.failReads = true;
    clock.advance(1_000);
    const { events } = await collectErrors(async () => {
      for (let i = 0; i < 50; i++) b.strategy.isInvalidated(0);
      await b.strategy.refresh();
      for (let i = 0; i < 50; i++) b.strategy.isInvalidated(0);
      await settle();
    });
    expect(events.map((e) => e.operation)).toEqual(['invalidationRead']);
    expect(b.strategy.times.hard).toBe(hard);
  });

  it('rejects invalidate() when the time cannot be stored', async () => {
    const backend = new FlakyBackend();
    const { a } = await twoProcesses(backend);
    backend.failWrites = true;
    await expect(a.region.invalidate()).rejects.toThrow('backend down: write');
  });

  it('reports a stored time that is not a number, and ignores it', async () => {
    const backend = new MapBackend();
    const { clock, b } = await twoProcesses(backend);
    backend.store.set(
      '_dogpile_invalidation:users:hard',
      new CachedValue('yesterday', { ct: 1, v: 2 }),
    );
    clock.advance(1_000);
    const { events } = await collectErrors(() => b.strategy.refresh());
    expect(events).toHaveLength(1);
    expect((events[0]!.error as Error).message).toMatch(/not a number/);
    expect(b.strategy.times.hard).toBeNull();
  });

  it('validates its options, and serves one region only', () => {
    expect(() => new BackendInvalidationStrategy({ cacheTime: -1 })).toThrow(ValidationError);
    expect(() => new BackendInvalidationStrategy({ cacheTime: 'often' as never })).toThrow(
      ValidationError,
    );
    expect(() => new BackendInvalidationStrategy({ key: '' })).toThrow(ValidationError);
    const shared = new BackendInvalidationStrategy();
    makeRegion({ name: 'one' }).configure(new MapBackend(), { regionInvalidator: shared });
    expect(() =>
      makeRegion({ name: 'two' }).configure(new MapBackend(), { regionInvalidator: shared }),
    ).toThrow(/already serves region one/);
  });
});
