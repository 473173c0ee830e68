import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  type CacheMutex,
  channelNames,
  coalescedChannel,
  errorChannel,
  hitChannel,
  lockWaitChannel,
  makeRegion,
  missChannel,
  type RegionOptions,
  regenerationEndChannel,
  regenerationStartChannel,
  staleServedChannel,
} from '../src/index.js';
import { deferred, ManualClock, MapBackend, settle, TestMutex } from './helpers.js';
import { collectCacheMetrics } from './metrics-example.js';

/** Records every message of every dogpile channel, as `[short channel name, message]`. */
function record() {
  const events: Array<[string, Record<string, unknown>]> = [];
  const listeners = Object.entries(channelNames).map(([name, channel]) => {
    const listener = (message: unknown) => events.push([name, message as Record<string, unknown>]);
    subscribe(channel, listener);
    return () => unsubscribe(channel, listener);
  });
  stops.push(() => {
    for (const stop of listeners) stop();
  });
  return events;
}

const stops: Array<() => void> = [];
afterEach(() => {
  for (const stop of stops.splice(0)) stop();
});

function setup(options: RegionOptions = {}, backend = new MapBackend()) {
  const clock = new ManualClock();
  const region = makeRegion({ clock, name: 'r', ...options }).configure(backend, {
    expirationTime: 10,
  });
  return { clock, backend, region };
}

/** A creator that takes `ms` of the region's clock. */
const taking = (clock: ManualClock, ms: number, value: unknown) => () => {
  clock.advance(ms);
  return value;
};

/** A TestMutex that also lets callers wait for its release, as RedisMutex does. */
class WatchableMutex extends TestMutex {
  #watchers: Array<() => void> = [];
  async waitForRelease(): Promise<boolean> {
    await new Promise<void>((resolve) => this.#watchers.push(resolve));
    return true;
  }
  override async release(): Promise<void> {
    await super.release();
    for (const wake of this.#watchers.splice(0)) wake();
  }
}

/** A backend whose keys share one "distributed" mutex each, as every process's client does. */
class SharedMutexBackend extends MapBackend {
  readonly mutexes = new Map<string, TestMutex>();
  constructor(readonly watchable = false) {
    super();
  }
  override getMutex(key: string): CacheMutex {
    let mutex = this.mutexes.get(key);
    if (!mutex) {
      mutex = this.watchable ? new WatchableMutex() : new TestMutex();
      this.mutexes.set(key, mutex);
    }
    return mutex;
  }
}

describe('instrumentation costs nothing when nobody subscribes', () => {
  it('publishes no message on any channel', async () => {
    const channels = [
      hitChannel,
      missChannel,
      staleServedChannel,
      regenerationStartChannel,
      regenerationEndChannel,
      lockWaitChannel,
      errorChannel,
      coalescedChannel,
    ];
    for (const channel of channels) expect(channel.hasSubscribers).toBe(false);
    const spies = channels.map((channel) => vi.spyOn(channel, 'publish'));
    try {
      const { region, clock } = setup({ backgroundRefresh: true });
      const gate = deferred<string>();
      const first = region.getOrCreate('k', () => gate.promise);
      const waiter = region.getOrCreate('k', () => 'never');
      gate.resolve('v');
      await Promise.all([first, waiter]);
      await region.getOrCreate('k', () => 'never');
      clock.advance(11_000);
      await region.getOrCreate('k', () => 'new');
      await region.getOrCreateMulti(['k', 'm'], (...keys) => keys);
      await settle();
      for (const spy of spies) expect(spy).not.toHaveBeenCalled();
    } finally {
      for (const spy of spies) spy.mockRestore();
    }
  });
});

describe('getOrCreate publishes', () => {
  it('a stampede on a cold key as 1 miss and the rest coalesced, never as 0 % hits', async () => {
    const events = record();
    const { region } = setup();
    const gate = deferred<string>();
    const callers = Array.from({ length: 100 }, () =>
      region.getOrCreate('cold', () => gate.promise),
    );
    await settle();
    gate.resolve('v');
    expect(new Set(await Promise.all(callers))).toEqual(new Set(['v']));
    const count = (name: string) => events.filter(([n]) => n === name).length;
    expect(count('miss')).toBe(1);
    expect(count('coalesced')).toBe(99);
    expect(count('hit')).toBe(0);
    expect(events.find(([n]) => n === 'coalesced')).toEqual([
      'coalesced',
      { region: 'r', key: 'cold' },
    ]);
  });

  it('a miss and the regeneration with its duration, then hits', async () => {
    const events = record();
    const { region, clock } = setup();
    await region.getOrCreate('k', taking(clock, 40, 'v'));
    await region.getOrCreate('k', () => 'never');
    expect(events).toEqual([
      ['miss', { region: 'r', key: 'k', stale: false }],
      ['regenerationStart', { region: 'r', key: 'k', reason: 'miss', background: false }],
      [
        'regenerationEnd',
        { region: 'r', key: 'k', reason: 'miss', background: false, durationMs: 40, ok: true },
      ],
      ['hit', { region: 'r', key: 'k' }],
    ]);
  });

  it('a failed regeneration with its error, which the caller gets too', async () => {
    const events = record();
    const { region, clock } = setup();
    const failure = new Error('boom');
    await expect(
      region.getOrCreate('k', () => {
        clock.advance(5);
        throw failure;
      }),
    ).rejects.toBe(failure);
    expect(events.at(-1)).toEqual([
      'regenerationEnd',
      {
        region: 'r',
        key: 'k',
        reason: 'miss',
        background: false,
        durationMs: 5,
        ok: false,
        error: failure,
      },
    ]);
  });

  it('a stale value served while another caller regenerates it', async () => {
    const { region, clock } = setup();
    await region.set('k', 'old');
    clock.advance(11_000);
    const events = record();
    const gate = deferred<string>();
    const regenerating = region.getOrCreate('k', () => gate.promise);
    expect(await region.getOrCreate('k', () => 'never')).toBe('old');
    gate.resolve('new');
    expect(await regenerating).toBe('new');
    // Two callers run side by side, so only the order within each caller's story is fixed.
    expect(events.filter(([name]) => name === 'miss')).toEqual([
      ['miss', { region: 'r', key: 'k', stale: true }],
      ['miss', { region: 'r', key: 'k', stale: true }],
    ]);
    expect(events.filter(([name]) => name === 'staleServed')).toEqual([
      ['staleServed', { region: 'r', key: 'k', handedOver: false }],
    ]);
    expect(events.filter(([name]) => name.startsWith('regeneration'))).toEqual([
      ['regenerationStart', { region: 'r', key: 'k', reason: 'stale', background: false }],
      [
        'regenerationEnd',
        { region: 'r', key: 'k', reason: 'stale', background: false, durationMs: 0, ok: true },
      ],
    ]);
    expect(events).toHaveLength(5);
  });

  it('a stale value served while the background regenerates, and the background failure', async () => {
    const { region, clock } = setup({ backgroundRefresh: true });
    await region.set('k', 'old');
    clock.advance(11_000);
    const events = record();
    const failure = new Error('boom');
    expect(
      await region.getOrCreate('k', () => {
        throw failure;
      }),
    ).toBe('old');
    await settle();
    expect(events).toEqual([
      ['miss', { region: 'r', key: 'k', stale: true }],
      ['staleServed', { region: 'r', key: 'k', handedOver: true }],
      ['regenerationStart', { region: 'r', key: 'k', reason: 'stale', background: true }],
      [
        'regenerationEnd',
        {
          region: 'r',
          key: 'k',
          reason: 'stale',
          background: true,
          durationMs: 0,
          ok: false,
          error: failure,
        },
      ],
      ['error', { operation: 'backgroundRefresh', region: 'r', key: 'k', error: failure }],
    ]);
  });

  it('an early refresh as a hit and an "early" regeneration, with no stale value served', async () => {
    const { region, clock } = setup({ earlyRefresh: { beta: 1 }, random: () => 0 });
    await region.getOrCreate('k', taking(clock, 1000, 'v1'));
    const events = record();
    expect(await region.getOrCreate('k', taking(clock, 1000, 'v2'))).toBe('v2');
    expect(events.map(([name]) => name)).toEqual(['hit', 'regenerationStart', 'regenerationEnd']);
    expect(events[1]![1]).toMatchObject({ reason: 'early', background: false });
  });

  it('how long a caller waited for another caller’s creator in this process', async () => {
    const events = record();
    const { region, clock } = setup();
    const gate = deferred<string>();
    const creating = region.getOrCreate('k', () => gate.promise);
    const waiting = region.getOrCreate('k', () => 'never');
    await settle();
    clock.advance(250);
    gate.resolve('v');
    expect(await Promise.all([creating, waiting])).toEqual(['v', 'v']);
    expect(events.filter(([name]) => name === 'lockWait')).toEqual([
      ['lockWait', { region: 'r', key: 'k', durationMs: 250, remote: false }],
    ]);
  });

  it('each blocking acquire of a distributed mutex, contended or not (it cannot tell)', async () => {
    const backend = new SharedMutexBackend();
    const clock = new ManualClock();
    const processA = makeRegion({ clock, name: 'a' }).configure(backend, { expirationTime: 10 });
    const processB = makeRegion({ clock, name: 'b' }).configure(backend, { expirationTime: 10 });
    const events = record();
    const gate = deferred<string>();
    const creating = processA.getOrCreate('k', () => gate.promise);
    await settle();
    const waiting = processB.getOrCreate('k', () => 'never');
    await settle();
    clock.advance(300);
    gate.resolve('v');
    expect(await Promise.all([creating, waiting])).toEqual(['v', 'v']);
    expect(events.filter(([name]) => name === 'lockWait')).toEqual([
      ['lockWait', { region: 'a', key: 'k', durationMs: 0, remote: true }],
      ['lockWait', { region: 'b', key: 'k', durationMs: 300, remote: true }],
    ]);
  });
});

describe('lock waits across processes, with a mutex that can wait for a release', () => {
  it('reports the wait for the other process’s release, and no wait for an uncontended lock', async () => {
    const backend = new SharedMutexBackend(true);
    const clock = new ManualClock();
    const processA = makeRegion({ clock, name: 'a' }).configure(backend, { expirationTime: 10 });
    const processB = makeRegion({ clock, name: 'b' }).configure(backend, { expirationTime: 10 });
    const events = record();
    const gate = deferred<string>();
    const creating = processA.getOrCreate('k', () => gate.promise);
    await settle();
    const waiting = processB.getOrCreate('k', () => 'never');
    await settle();
    clock.advance(120);
    gate.resolve('v');
    expect(await Promise.all([creating, waiting])).toEqual(['v', 'v']);
    expect(events.filter(([name]) => name === 'lockWait')).toEqual([
      ['lockWait', { region: 'b', key: 'k', durationMs: 120, remote: true }],
    ]);
  });
});

describe('getOrCreateMulti publishes per key', () => {
  it('hits, misses and one regeneration per created key', async () => {
    const { region, clock } = setup();
    await region.set('a', 'cached');
    const events = record();
    await region.getOrCreateMulti(['a', 'b', 'c'], (...keys) => {
      clock.advance(20);
      return keys.map((key) => `made ${key}`);
    });
    expect(events).toEqual([
      ['hit', { region: 'r', key: 'a' }],
      ['miss', { region: 'r', key: 'b', stale: false }],
      ['miss', { region: 'r', key: 'c', stale: false }],
      ['regenerationStart', { region: 'r', key: 'b', reason: 'miss', background: false }],
      ['regenerationStart', { region: 'r', key: 'c', reason: 'miss', background: false }],
      [
        'regenerationEnd',
        { region: 'r', key: 'b', reason: 'miss', background: false, durationMs: 20, ok: true },
      ],
      [
        'regenerationEnd',
        { region: 'r', key: 'c', reason: 'miss', background: false, durationMs: 20, ok: true },
      ],
    ]);
  });

  it('a stale value served for a key another caller is creating', async () => {
    const { region, clock } = setup();
    await region.set('a', 'old');
    clock.advance(11_000);
    const gate = deferred<string>();
    const creating = region.getOrCreate('a', () => gate.promise);
    const events = record();
    expect(await region.getOrCreateMulti(['a'], () => ['never'])).toEqual(['old']);
    gate.resolve('new');
    await creating;
    expect(events.filter(([name]) => name === 'staleServed')).toEqual([
      ['staleServed', { region: 'r', key: 'a', handedOver: false }],
    ]);
  });
});

describe('the README metrics example', () => {
  it('is the code in the README, word for word', () => {
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    const example = readFileSync(new URL('./metrics-example.ts', import.meta.url), 'utf8');
    expect(readme).toContain(example.replace("'../src/index.js'", "'@dogpile/core'"));
  });

  it('counts hits and misses by region and buckets regeneration times', async () => {
    const { metrics, stop } = collectCacheMetrics();
    stops.push(stop);
    const { region, clock } = setup({ name: 'users' });
    await region.getOrCreate('a', taking(clock, 30, 1));
    await region.getOrCreate('b', taking(clock, 700, 2));
    await region.getOrCreate('a', () => 0);
    await region.getOrCreate('a', () => 0);
    await expect(
      region.getOrCreate('c', () => {
        throw new Error('no');
      }),
    ).rejects.toThrow('no');

    expect(metrics.hits).toEqual(new Map([['users', 2]]));
    expect(metrics.misses).toEqual(new Map([['users', 3]]));
    expect(metrics.regenerations).toMatchObject({ count: 3, sumMs: 730, failures: 1 });
    expect(metrics.regenerations.buckets.map(({ count }) => count)).toEqual([
      1, 1, 2, 2, 2, 3, 3, 3,
    ]);

    stop();
    expect(hitChannel.hasSubscribers).toBe(false);
    await region.getOrCreate('a', () => 0);
    expect(metrics.hits.get('users')).toBe(2);
  });
});
