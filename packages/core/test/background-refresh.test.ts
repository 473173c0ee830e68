import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  type AsyncCreationRunner,
  type CacheMutex,
  type ErrorEvent,
  makeRegion,
  type RegionOptions,
  ValidationError,
} from '../src/index.js';
import { deferred, ManualClock, MapBackend, settle, TestMutex } from './helpers.js';

/** A backend whose keys share one "distributed" mutex each, as every process's Redis client does. */
class SharedMutexBackend extends MapBackend {
  readonly mutexes = new Map<string, TestMutex>();
  override getMutex(key: string): CacheMutex {
    let mutex = this.mutexes.get(key);
    if (!mutex) {
      mutex = new TestMutex();
      this.mutexes.set(key, mutex);
    }
    return mutex;
  }
}

function setup(options: RegionOptions = {}, backend = new MapBackend()) {
  const clock = new ManualClock();
  const region = makeRegion({ clock, backgroundRefresh: true, ...options }).configure(backend, {
    expirationTime: 10,
  });
  return { clock, backend, region };
}

/** A creator held open until the test resolves `gate`, counting its calls. */
function gated<T>() {
  const gate = deferred<T>();
  const creator = () => {
    creator.calls++;
    return gate.promise;
  };
  creator.calls = 0;
  return { gate, creator };
}

let errors: ErrorEvent[] = [];
const onError = (message: unknown) => errors.push(message as ErrorEvent);
beforeEach(() => {
  errors = [];
  subscribe('dogpile:error', onError);
});
afterEach(() => {
  unsubscribe('dogpile:error', onError);
});

describe('backgroundRefresh serves the stale value and regenerates it once in the background', () => {
  it('every caller, the one that starts the regeneration included, gets the stale value at once', async () => {
    const { region, clock } = setup();
    await region.set('k', 'old');
    clock.advance(11_000);
    const { gate, creator } = gated<string>();
    const got = await Promise.all([1, 2, 3, 4, 5].map(() => region.getOrCreate('k', creator)));
    expect(got).toEqual(['old', 'old', 'old', 'old', 'old']);
    await settle();
    expect(creator.calls).toBe(1);
    expect(region.backgroundRefreshCount).toBe(1);
    expect(await region.keyIsLocked('k')).toBe(true);

    expect(await region.getOrCreate('k', creator)).toBe('old');
    gate.resolve('new');
    await settle();
    expect(region.backgroundRefreshCount).toBe(0);
    expect(await region.keyIsLocked('k')).toBe(false);
    expect(await region.getOrCreate('k', creator)).toBe('new');
    expect(creator.calls).toBe(1);
    expect(errors).toEqual([]);
  });

  it('the creator starts only after the caller has its stale value', async () => {
    const { region, clock } = setup();
    await region.set('k', 'old');
    clock.advance(11_000);
    let calls = 0;
    expect(
      await region.getOrCreate('k', () => {
        calls++;
        return 'new';
      }),
    ).toBe('old');
    expect(calls).toBe(0);
    await settle();
    expect(calls).toBe(1);
    expect(await region.get('k')).toBe('new');
  });

  it('a failing creator leaves the stale value and reports the error on dogpile:error', async () => {
    const { region, clock } = setup({ name: 'reports' });
    await region.set('k', 'old');
    clock.advance(11_000);
    const failure = new Error('database down');
    expect(
      await region.getOrCreate('k', () => {
        throw failure;
      }),
    ).toBe('old');
    await settle();
    expect(errors).toEqual([
      { operation: 'backgroundRefresh', region: 'reports', key: 'k', error: failure },
    ]);
    expect(await region.keyIsLocked('k')).toBe(false);
    expect(await region.get('k', { ignoreExpiration: true })).toBe('old');
    // The next read of the still-stale value tries again.
    expect(await region.getOrCreate('k', () => 'new')).toBe('old');
    await settle();
    expect(await region.get('k')).toBe('new');
  });

  it('a key with no value at all is still created in the foreground', async () => {
    const { region } = setup();
    expect(await region.getOrCreate('k', () => 'first')).toBe('first');
    expect(region.backgroundRefreshCount).toBe(0);
  });

  it('soft invalidation makes values stale, so they regenerate in the background too', async () => {
    const { region, clock } = setup();
    await region.set('k', 'old');
    clock.advance(1);
    await region.invalidate({ hard: false });
    expect(await region.getOrCreate('k', () => 'new')).toBe('old');
    await settle();
    expect(await region.getOrCreate('k', () => 'newer')).toBe('new');
  });
});

describe('backgroundRefresh across processes', () => {
  it('the background regeneration holds the distributed mutex until it is done', async () => {
    const backend = new SharedMutexBackend();
    const clock = new ManualClock();
    const processA = makeRegion({ clock, backgroundRefresh: true }).configure(backend, {
      expirationTime: 10,
    });
    const processB = makeRegion({ clock, backgroundRefresh: true }).configure(backend, {
      expirationTime: 10,
    });
    await processA.set('k', 'old');
    clock.advance(11_000);
    const { gate, creator } = gated<string>();

    expect(await processA.getOrCreate('k', creator)).toBe('old');
    await settle();
    const remote = backend.mutexes.get('k')!;
    expect(remote.held).toBe(true);
    expect(await processB.getOrCreate('k', creator)).toBe('old');
    await settle();
    expect(creator.calls).toBe(1);
    expect(processB.backgroundRefreshCount).toBe(0);

    gate.resolve('new');
    await settle();
    expect(remote.held).toBe(false);
    expect(remote.log.filter((entry) => entry === 'release')).toHaveLength(1);
    expect(await processB.getOrCreate('k', creator)).toBe('new');
  });
});

describe('backgroundRefresh per call', () => {
  it('false regenerates in the foreground on a region that has it', async () => {
    const { region, clock } = setup();
    await region.set('k', 'old');
    clock.advance(11_000);
    expect(await region.getOrCreate('k', () => 'new', { backgroundRefresh: false })).toBe('new');
  });

  it('true regenerates in the background on a region without it', async () => {
    const { region, clock } = setup({ backgroundRefresh: false });
    await region.set('k', 'old');
    clock.advance(11_000);
    expect(await region.getOrCreate('k', () => 'new')).toBe('new');
    clock.advance(11_000);
    expect(await region.getOrCreate('k', () => 'newer', { backgroundRefresh: true })).toBe('new');
    await settle();
    expect(await region.get('k')).toBe('newer');
  });

  it('rejects a value that is not a boolean', async () => {
    const { region, clock } = setup();
    await region.set('k', 'old');
    clock.advance(11_000);
    await expect(
      region.getOrCreate('k', () => 'new', { backgroundRefresh: 'yes' as never }),
    ).rejects.toThrow(ValidationError);
  });
});

describe('backgroundRefresh and a user asyncCreationRunner', () => {
  it('the user runner takes precedence and still gets the held mutex, as in dogpile', async () => {
    const seen: string[] = [];
    const runner: AsyncCreationRunner = (region, key, creator, mutex) => {
      seen.push(key);
      void (async () => {
        try {
          await region.set(key, await creator());
        } finally {
          await mutex.release();
        }
      })();
    };
    const { region, clock } = setup({ asyncCreationRunner: runner });
    await region.set('k', 'old');
    clock.advance(11_000);
    expect(await region.getOrCreate('k', () => 'new')).toBe('old');
    expect(seen).toEqual(['k']);
    expect(region.backgroundRefreshCount).toBe(0);
    await settle();
    expect(await region.get('k')).toBe('new');
  });

  it('backgroundRefresh: false beside an asyncCreationRunner is a ValidationError', () => {
    expect(() => makeRegion({ asyncCreationRunner: () => {}, backgroundRefresh: false })).toThrow(
      /contradicts asyncCreationRunner/,
    );
  });

  it('backgroundRefresh must be a boolean', () => {
    expect(() => makeRegion({ backgroundRefresh: 1 as never })).toThrow(ValidationError);
  });
});

describe('close() and background regenerations', () => {
  it('waits for running regenerations, which still store their value, then closes the backend', async () => {
    const { region, clock, backend } = setup();
    await region.set('k', 'old');
    clock.advance(11_000);
    const { gate, creator } = gated<string>();
    await region.getOrCreate('k', creator);
    await settle();
    expect(creator.calls).toBe(1);

    let closed = false;
    const closing = region.close().then(() => {
      closed = true;
    });
    await settle();
    expect(closed).toBe(false);
    expect(backend.calls.close).toBe(0);

    const setsBefore = backend.calls.set;
    gate.resolve('new');
    await closing;
    expect(backend.calls.set).toBe(setsBefore + 1);
    expect(backend.calls.close).toBe(1);
    expect(region.backgroundRefreshCount).toBe(0);
  });

  it('a regeneration that had not started yet when close() was called does not run', async () => {
    const { region, clock, backend } = setup();
    await region.set('k', 'old');
    clock.advance(11_000);
    let calls = 0;
    await region.getOrCreate('k', () => {
      calls++;
      return 'new';
    });
    const setsBefore = backend.calls.set;
    await region.close();
    expect(calls).toBe(0);
    expect(backend.calls.set).toBe(setsBefore);
    expect(region.lockedKeyCount).toBe(0);
  });
});
