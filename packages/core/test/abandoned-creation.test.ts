import { describe, expect, it } from 'vitest';
import {
  CreationAbandonedError,
  type CreationContext,
  makeRegion,
  NO_VALUE,
  ValidationError,
} from '../src/index.js';
import { deferred, MapBackend, settle } from './helpers.js';

/** A creator that waits for `gate` and records the signal it was given. */
function watchedCreator() {
  const gate = deferred<string>();
  const seen: { signal?: AbortSignal; runs: number } = { runs: 0 };
  const fn = (ctx: CreationContext) => {
    seen.runs++;
    seen.signal = ctx.signal;
    return gate.promise;
  };
  return { fn, gate, seen };
}

describe('abortWhenAbandoned', () => {
  it('aborts the creation once the caller running it and every caller waiting for it aborted', async () => {
    const backend = new MapBackend();
    const region = makeRegion({ abortWhenAbandoned: true }).configure(backend);
    const creator = watchedCreator();
    const controllers = [0, 1, 2].map(() => new AbortController());
    const calls = controllers.map((c) => region.getOrCreate('k', creator.fn, { signal: c.signal }));
    const settled = calls.map((call) =>
      call.then(
        () => 'resolved',
        (error: unknown) => error,
      ),
    );
    await settle();
    controllers[1]!.abort();
    controllers[0]!.abort(); // the holder
    await settle();
    expect(creator.seen.signal!.aborted).toBe(false); // one caller still waits
    controllers[2]!.abort();
    await settle();
    expect(creator.seen.signal!.aborted).toBe(true);
    expect(creator.seen.signal!.reason).toBeInstanceOf(CreationAbandonedError);
    const [holder] = await Promise.all(settled);
    expect(holder).toBeInstanceOf(CreationAbandonedError);
    expect((holder as CreationAbandonedError).code).toBe('ERR_CREATION_ABANDONED');
    creator.gate.resolve('late'); // dropped
    await settle();
    expect(backend.store.size).toBe(0);
    expect(region.lockedKeyCount).toBe(0);
    expect(await region.getOrCreate('k', () => 'next')).toBe('next');
  });

  it('a caller without a signal keeps the creation alive; it finishes and stores', async () => {
    const region = makeRegion({ abortWhenAbandoned: true }).configure(new MapBackend());
    const creator = watchedCreator();
    const controller = new AbortController();
    const holder = region.getOrCreate('k', creator.fn, { signal: controller.signal });
    const patient = region.getOrCreate('k', creator.fn);
    await settle();
    controller.abort();
    await settle();
    expect(creator.seen.signal!.aborted).toBe(false);
    creator.gate.resolve('v');
    expect(await patient).toBe('v');
    expect(await holder).toBe('v'); // its creation finished: it is not interrupted
    expect(await region.get('k')).toBe('v');
  });

  it('a holder alone whose signal aborts abandons its creation at once', async () => {
    const region = makeRegion().configure(new MapBackend());
    const creator = watchedCreator();
    const controller = new AbortController();
    const holder = region.getOrCreate('k', creator.fn, {
      signal: controller.signal,
      abortWhenAbandoned: true,
    });
    await settle();
    controller.abort();
    await expect(holder).rejects.toBeInstanceOf(CreationAbandonedError);
    expect(creator.seen.signal!.aborted).toBe(true);
    expect(await region.get('k')).toBe(NO_VALUE);
  });

  it('is off by default: a creation everyone gave up on still finishes and stores its value', async () => {
    const region = makeRegion().configure(new MapBackend());
    const creator = watchedCreator();
    const controllers = [0, 1].map(() => new AbortController());
    const calls = controllers.map((c) =>
      region.getOrCreate('k', creator.fn, { signal: c.signal }).catch((error: unknown) => error),
    );
    await settle();
    for (const c of controllers) c.abort();
    await settle();
    expect(creator.seen.signal!.aborted).toBe(false);
    creator.gate.resolve('v');
    expect((await Promise.all(calls))[0]).toBe('v'); // the holder finished its creation
    await settle();
    expect(await region.get('k')).toBe('v');
  });

  it('rejects a value that is not a boolean', async () => {
    expect(() => makeRegion({ abortWhenAbandoned: 'yes' as never })).toThrow(ValidationError);
    const region = makeRegion().configure(new MapBackend());
    await expect(
      region.getOrCreate('k', () => 'v', { abortWhenAbandoned: 1 as never }),
    ).rejects.toBeInstanceOf(ValidationError);
  });
});
