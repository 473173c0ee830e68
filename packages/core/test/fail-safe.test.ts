import { describe, expect, it } from 'vitest';
import { type Duration, makeRegion, NO_VALUE, ValidationError } from '../src/index.js';
import { deferred, ManualClock, OverlapCounter, settle, sleep } from './helpers.js';
import { collectErrors, FlakyBackend } from './resilience-fixtures.js';

describe('failSafe: a failing backend', () => {
  it('treats a read that throws as a miss: the creator runs, and the error is reported', async () => {
    const backend = new FlakyBackend();
    backend.failReads = true;
    const region = makeRegion({ name: 'users', failSafe: true }).configure(backend);
    const { result, events } = await collectErrors(() => region.getOrCreate('k', () => 'created'));
    expect(result).toBe('created');
    // Reported once per outage, not once per backend call.
    expect(events).toHaveLength(1);
    for (const event of events) {
      expect(event).toMatchObject({ operation: 'read', region: 'users', key: 'k' });
      expect((event.error as Error).message).toBe('backend down: read');
    }
    // The write still went through (in the background: the caller did not wait for it).
    backend.failReads = false;
    expect(await region.get('k')).toBe('created');
  });

  it('without failSafe, the read error reaches the caller', async () => {
    const backend = new FlakyBackend();
    backend.failReads = true;
    const region = makeRegion().configure(backend);
    await expect(region.getOrCreate('k', () => 'created')).rejects.toThrow('backend down: read');
  });

  it('reports a write that throws and still returns the created value', async () => {
    const backend = new FlakyBackend();
    backend.failWrites = true;
    const region = makeRegion({ failSafe: true }).configure(backend);
    const { result, events } = await collectErrors(() => region.getOrCreate('k', () => 'created'));
    expect(result).toBe('created');
    expect(events.map((e) => e.operation)).toEqual(['write']);
    expect((events[0]!.error as Error).message).toBe('backend down: write');
  });

  it('runs one creator for a whole burst of callers while the backend (values and lock) is down', async () => {
    const backend = new FlakyBackend(true);
    backend.down();
    const region = makeRegion({ failSafe: true }).configure(backend);
    const overlap = new OverlapCounter();
    const { result, events } = await collectErrors(() =>
      Promise.all(
        Array.from({ length: 20 }, () =>
          region.getOrCreate('k', () =>
            overlap.around(async () => {
              await sleep(20);
              return 'created';
            }),
          ),
        ),
      ),
    );
    expect(result).toEqual(Array(20).fill('created'));
    // The waiters could not read the stored value; the holder handed it to them instead of each
    // creating it again in turn.
    expect(overlap.total).toBe(1);
    // One report for the outage, not one per call or per step: after the failed read no call
    // tried the lock or waited for the write.
    expect(events.map((e) => e.operation)).toEqual(['read']);
    expect(backend.lockAcquires).toBe(0);
    expect(region.lockedKeyCount).toBe(0);
  });

  it('is overridable per call', async () => {
    const backend = new FlakyBackend();
    backend.failReads = true;
    const safe = makeRegion({ failSafe: true }).configure(backend);
    await expect(safe.getOrCreate('k', () => 'v', { failSafe: false })).rejects.toThrow(
      'backend down: read',
    );
    const strict = makeRegion().configure(backend);
    const { result } = await collectErrors(() =>
      strict.getOrCreate('k', () => 'v', { failSafe: true }),
    );
    expect(result).toBe('v');
  });

  it('covers getOrCreateMulti: a failed getMulti is all misses, a failed setMulti is reported', async () => {
    const backend = new FlakyBackend();
    backend.down();
    const region = makeRegion({ failSafe: true }).configure(backend);
    const { result, events } = await collectErrors(() =>
      region.getOrCreateMulti(['a', 'b'], async (...keys) => keys.map((k) => k.toUpperCase())),
    );
    expect(result).toEqual(['A', 'B']);
    // One report for the outage; the write was still tried, in the background.
    expect(events.map((e) => e.operation)).toEqual(['readMulti']);
  });

  it('leaves get, set and delete throwing: a caller asking for just that must know', async () => {
    const backend = new FlakyBackend();
    backend.down();
    const region = makeRegion({ failSafe: true }).configure(backend);
    await expect(region.get('k')).rejects.toThrow('backend down');
    await expect(region.set('k', 1)).rejects.toThrow('backend down');
  });

  it('is validated', () => {
    expect(() => makeRegion({ failSafe: 'yes' as never })).toThrow(ValidationError);
  });
});

describe('staleIfError: a failing creator', () => {
  function setup(staleIfError: Duration | undefined) {
    const clock = new ManualClock();
    const backend = new FlakyBackend();
    const region = makeRegion({ clock, staleIfError }).configure(backend, { expirationTime: 10 });
    const failing = () => {
      throw new Error('database down');
    };
    return { clock, backend, region, failing };
  }

  it('returns a value stale by less than staleIfError, and reports the error', async () => {
    const { clock, region, failing } = setup('1m');
    await region.set('k', 'last good');
    clock.advance(10_000 + 30_000); // expired 30 s ago
    const { result, events } = await collectErrors(() => region.getOrCreate('k', failing));
    expect(result).toBe('last good');
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ operation: 'creator', key: 'k' });
    expect((events[0]!.error as Error).message).toBe('database down');
  });

  it('throws when the value expired longer ago than staleIfError', async () => {
    const { clock, region, failing } = setup(60);
    await region.set('k', 'too old');
    clock.advance(10_000 + 61_000);
    await expect(region.getOrCreate('k', failing)).rejects.toThrow('database down');
  });

  it('throws the creator’s error when staleIfError is off (the default)', async () => {
    const { clock, region, failing } = setup(undefined);
    await region.set('k', 'last good');
    clock.advance(11_000);
    await expect(region.getOrCreate('k', failing)).rejects.toThrow('database down');
  });

  it('throws when there is no value at all', async () => {
    const { region, failing } = setup('1h');
    await expect(region.getOrCreate('k', failing)).rejects.toThrow('database down');
  });

  it('keeps the value stale: the next call tries the creator again', async () => {
    const { clock, region, failing } = setup('1h');
    await region.set('k', 'last good');
    clock.advance(11_000);
    await collectErrors(() => region.getOrCreate('k', failing));
    await expect(region.getOrCreate('k', () => 'recovered')).resolves.toBe('recovered');
    await expect(region.getOrCreate('k', failing)).resolves.toBe('recovered');
  });

  it('serves a soft-invalidated value, never a hard-invalidated one', async () => {
    const { clock, region, failing } = setup('1h');
    await region.set('k', 'soft');
    clock.advance(1);
    await region.invalidate({ hard: false });
    const soft = await collectErrors(() => region.getOrCreate('k', failing));
    expect(soft.result).toBe('soft');

    await region.invalidate({ hard: true });
    clock.advance(1);
    await expect(region.getOrCreate('k', failing)).rejects.toThrow('database down');
  });

  it('does not hide a failing write: only the creator’s errors are absorbed', async () => {
    const { clock, backend, region } = setup('1h');
    await region.set('k', 'last good');
    clock.advance(11_000);
    backend.failWrites = true;
    await expect(region.getOrCreate('k', () => 'new')).rejects.toThrow('backend down: write');
  });

  it('is overridable per call', async () => {
    const { clock, region, failing } = setup(undefined);
    await region.set('k', 'last good');
    clock.advance(11_000);
    const { result } = await collectErrors(() =>
      region.getOrCreate('k', failing, { staleIfError: '5m' }),
    );
    expect(result).toBe('last good');
  });

  it('covers getOrCreateMulti when every key to create has a servable value', async () => {
    const { clock, region } = setup('1h');
    await region.setMulti({ a: 'old a', b: 'old b' });
    clock.advance(11_000);
    const failing = async (): Promise<string[]> => {
      throw new Error('database down');
    };
    const { result, events } = await collectErrors(() =>
      region.getOrCreateMulti(['b', 'a'], failing),
    );
    expect(result).toEqual(['old b', 'old a']);
    expect(events.map((e) => e.operation)).toEqual(['creator']);
    // A key with nothing to serve: the error stands.
    await expect(region.getOrCreateMulti(['a', 'new'], failing)).rejects.toThrow('database down');
  });

  it('lets the waiting callers of a failed regeneration keep the stale value too', async () => {
    const { clock, region } = setup('1h');
    await region.set('k', 'last good');
    clock.advance(11_000);
    const gate = deferred<string>();
    const regenerating = region.getOrCreate('k', () => gate.promise);
    await settle();
    const other = region.getOrCreate('k', () => 'unused');
    await expect(other).resolves.toBe('last good');
    gate.reject(new Error('database down'));
    const { result } = await collectErrors(() => regenerating);
    expect(result).toBe('last good');
    expect(await region.get('k', { ignoreExpiration: true })).toBe('last good');
    expect(await region.get('k')).toBe(NO_VALUE);
  });

  it('is validated', () => {
    expect(() => makeRegion({ staleIfError: 'a while' as never })).toThrow(ValidationError);
  });
});
