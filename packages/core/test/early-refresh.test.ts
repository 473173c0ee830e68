import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { describe, expect, it } from 'vitest';
import {
  earlyRefreshProbability,
  makeRegion,
  type RegionOptions,
  ValidationError,
} from '../src/index.js';
import { BytesMapBackend, deferred, ManualClock, MapBackend, settle } from './helpers.js';

const EXPIRATION = 60;

/**
 * A region whose random source the test sets through `coin.value`, over a fresh backend, with a
 * 60 s expiration. `create(ms)` makes a creator that takes `ms` of the region's clock.
 */
function setup(options: RegionOptions = {}, expirationTime: number | null = EXPIRATION) {
  const clock = new ManualClock();
  const backend = new MapBackend();
  const coin = { value: 0.5, flips: 0 };
  const random = () => {
    coin.flips++;
    return coin.value;
  };
  const region = makeRegion({ clock, random, earlyRefresh: { beta: 1 }, ...options }).configure(
    backend,
    expirationTime === null ? {} : { expirationTime },
  );
  let made = 0;
  const create = (ms: number) => {
    const creator = () => {
      clock.advance(ms);
      creator.calls++;
      return `value ${++made}`;
    };
    creator.calls = 0;
    return creator;
  };
  /** Moves the clock to `seconds` before the stored value of `key` expires. */
  const moveToTimeLeft = async (key: string, seconds: number) => {
    const stored = await region.getValueMetadata(key, { ignoreExpiration: true });
    clock.ms = (stored!.metadata.ct + EXPIRATION - seconds) * 1000;
  };
  return { clock, backend, region, coin, create, moveToTimeLeft };
}

describe('early refresh stores how long the creator took', () => {
  it('in the metadata as cd, in seconds, beside an unchanged ct and v', async () => {
    const { region, clock, create } = setup();
    await region.getOrCreate('k', create(2500));
    const stored = await region.getValueMetadata('k');
    expect(stored!.metadata).toEqual({ ct: clock.ms / 1000, v: 2, cd: 2.5 });
  });

  it('through the JSON(metadata)|payload format, which Python dogpile.cache reads (it ignores cd)', async () => {
    const clock = new ManualClock(1_700_000_000_000);
    const backend = new BytesMapBackend();
    const region = makeRegion({ clock, earlyRefresh: {} }).configure(backend, {
      expirationTime: 60,
    });
    await region.getOrCreate('k', () => {
      clock.advance(250);
      return 'v';
    });
    expect(new TextDecoder().decode(backend.store.get('k')!)).toBe(
      '{"ct":1700000000.25,"v":2,"cd":0.25}|"v"',
    );
    expect((await region.getValueMetadata('k'))!.metadata.cd).toBe(0.25);
  });

  it('and writes nothing extra when early refresh is off', async () => {
    const clock = new ManualClock(1_700_000_000_000);
    const backend = new BytesMapBackend();
    const region = makeRegion({ clock }).configure(backend, { expirationTime: 60 });
    await region.getOrCreate('k', () => {
      clock.advance(250);
      return 'v';
    });
    expect(new TextDecoder().decode(backend.store.get('k')!)).toBe(
      '{"ct":1700000000.25,"v":2}|"v"',
    );
  });
});

describe('a read of a fresh value refreshes it early with probability exp(-t / (beta * delta))', () => {
  it('refreshes when the coin comes up 0, and the caller gets the new value', async () => {
    const { region, coin, create, moveToTimeLeft } = setup();
    const creator = create(2000);
    expect(await region.getOrCreate('k', creator)).toBe('value 1');
    await moveToTimeLeft('k', 30);
    coin.value = 0;
    expect(await region.getOrCreate('k', creator)).toBe('value 2');
    expect(creator.calls).toBe(2);
    expect((await region.getValueMetadata('k'))!.payload).toBe('value 2');
  });

  it('keeps the value when the coin comes up 0.999, far from expiry', async () => {
    const { region, coin, create, moveToTimeLeft } = setup();
    const creator = create(2000);
    await region.getOrCreate('k', creator);
    await moveToTimeLeft('k', 30);
    coin.value = 0.999;
    expect(await region.getOrCreate('k', creator)).toBe('value 1');
    expect(creator.calls).toBe(1);
    expect(coin.flips).toBe(1);
  });

  it('refreshes just below the exact threshold and not at it', async () => {
    const { region, coin, create, moveToTimeLeft } = setup();
    const creator = create(2000); // delta = 2 s
    await region.getOrCreate('k', creator);
    await moveToTimeLeft('k', 1); // t = 1 s
    const threshold = Math.exp(-1 / (1 * 2));
    expect(
      earlyRefreshProbability(
        (await region.getValueMetadata('k'))!.metadata,
        EXPIRATION,
        1_700_000_061,
        1,
      ),
    ).toBeCloseTo(threshold, 12);

    coin.value = threshold;
    expect(await region.getOrCreate('k', creator)).toBe('value 1');
    coin.value = threshold - 1e-9;
    expect(await region.getOrCreate('k', creator)).toBe('value 2');
    expect(creator.calls).toBe(2);
  });

  it('refreshes earlier with a larger beta', async () => {
    const flipAt = async (beta: number) => {
      const { region, coin, create, moveToTimeLeft } = setup({ earlyRefresh: { beta } });
      const creator = create(2000);
      await region.getOrCreate('k', creator);
      await moveToTimeLeft('k', 1);
      coin.value = 0.7; // between exp(-1/2) ≈ 0.61 and exp(-1/4) ≈ 0.78
      await region.getOrCreate('k', creator);
      return creator.calls - 1;
    };
    expect(await flipAt(1)).toBe(0);
    expect(await flipAt(2)).toBe(1);
  });

  it('never refreshes a value without a stored duration (set(), older values, other programs)', async () => {
    const { region, coin, create, moveToTimeLeft } = setup();
    await region.set('k', 'set by hand');
    await moveToTimeLeft('k', 0.001);
    coin.value = 0;
    const creator = create(2000);
    expect(await region.getOrCreate('k', creator)).toBe('set by hand');
    expect(creator.calls).toBe(0);
  });

  it('never refreshes a value that never expires', async () => {
    const { region, clock, coin, create } = setup({}, null);
    const creator = create(2000);
    await region.getOrCreate('k', creator);
    clock.advance(10 ** 9);
    coin.value = 0;
    expect(await region.getOrCreate('k', creator)).toBe('value 1');
    expect(creator.calls).toBe(1);
  });

  it('is off by default: no coin is flipped', async () => {
    const { region, coin, create, moveToTimeLeft } = setup({ earlyRefresh: false });
    const creator = create(2000);
    await region.getOrCreate('k', creator);
    await moveToTimeLeft('k', 0.001);
    coin.value = 0;
    expect(await region.getOrCreate('k', creator)).toBe('value 1');
    expect(coin.flips).toBe(0);
  });
});

describe('an early refresh regenerates once, like a stale value', () => {
  it('one caller regenerates; the others get the current value at once', async () => {
    const { region, clock, coin, moveToTimeLeft } = setup();
    await region.getOrCreate('k', () => {
      clock.advance(2000);
      return 'old';
    });
    await moveToTimeLeft('k', 1);
    coin.value = 0;
    const gate = deferred<string>();
    let calls = 0;
    const slow = () => {
      calls++;
      return gate.promise;
    };
    const first = region.getOrCreate('k', slow);
    const others = await Promise.all([1, 2, 3, 4].map(() => region.getOrCreate('k', slow)));
    expect(others).toEqual(['old', 'old', 'old', 'old']);
    expect(calls).toBe(1);
    gate.resolve('new');
    expect(await first).toBe('new');
    expect(await region.getOrCreate('k', slow)).toBe('new');
  });

  it('with backgroundRefresh, in the background: every caller gets the current value', async () => {
    const { region, coin, create, moveToTimeLeft } = setup({ backgroundRefresh: true });
    const creator = create(2000);
    await region.getOrCreate('k', creator);
    await moveToTimeLeft('k', 1);
    coin.value = 0;
    expect(await region.getOrCreate('k', creator)).toBe('value 1');
    expect(creator.calls).toBe(1);
    await settle();
    expect(creator.calls).toBe(2);
    const stored = await region.getValueMetadata('k');
    expect(stored!.payload).toBe('value 2');
    expect(stored!.metadata.cd).toBe(2);
  });
});

describe('earlyRefresh per call', () => {
  it('false turns it off for the call', async () => {
    const { region, coin, create, moveToTimeLeft } = setup();
    const creator = create(2000);
    await region.getOrCreate('k', creator);
    await moveToTimeLeft('k', 1);
    coin.value = 0;
    expect(await region.getOrCreate('k', creator, { earlyRefresh: false })).toBe('value 1');
    expect(coin.flips).toBe(0);
  });

  it('{ beta } turns it on for the call on a region without it', async () => {
    const { region, coin, create, moveToTimeLeft } = setup({ earlyRefresh: false });
    const creator = create(2000);
    await region.getOrCreate('k', creator, { earlyRefresh: { beta: 1 } });
    await moveToTimeLeft('k', 1);
    coin.value = 0;
    expect(await region.getOrCreate('k', creator)).toBe('value 1');
    expect(await region.getOrCreate('k', creator, { earlyRefresh: { beta: 1 } })).toBe('value 2');
  });
});

describe('earlyRefresh options are validated', () => {
  it.each([
    [{ beta: 0 }],
    [{ beta: -1 }],
    [{ beta: Number.NaN }],
    [{ beta: Number.POSITIVE_INFINITY }],
    [{ beta: '1' }],
    [null],
    [1],
  ])('rejects %j', (earlyRefresh) => {
    expect(() => makeRegion({ earlyRefresh: earlyRefresh as never })).toThrow(ValidationError);
    expect(() => makeRegion({ earlyRefresh: earlyRefresh as never })).toThrow(/earlyRefresh/);
  });

  it('rejects a bad per-call value', async () => {
    const { region } = setup();
    await expect(
      region.getOrCreate('k', () => 1, { earlyRefresh: { beta: 0 } }),
    ).rejects.toMatchObject({ code: 'ERR_VALIDATION' });
  });

  it('rejects a random source that is not a function', () => {
    expect(() => makeRegion({ random: 0.5 as never })).toThrow(/random must be a function/);
  });
});

describe('a failed early refresh', () => {
  it('keeps serving the value, which is still fresh, and reports the error on dogpile:error', async () => {
    const errors: unknown[] = [];
    const listener = (message: unknown) => errors.push(message);
    subscribe('dogpile:error', listener);
    try {
      const { region, coin, create, moveToTimeLeft } = setup({ name: 'r' });
      await region.getOrCreate('k', create(2000));
      await moveToTimeLeft('k', 1);
      coin.value = 0;
      const failure = new Error('database down');
      expect(
        await region.getOrCreate('k', () => {
          throw failure;
        }),
      ).toBe('value 1');
      expect(errors).toEqual([
        { operation: 'earlyRefresh', region: 'r', key: 'k', error: failure },
      ]);
      expect(await region.keyIsLocked('k')).toBe(false);
      expect(await region.getOrCreate('k', create(2000))).toBe('value 2');
    } finally {
      unsubscribe('dogpile:error', listener);
    }
  });
});
