import { describe, expect, it } from 'vitest';
import {
  CachedValue,
  LockTimeoutError,
  makeRegion,
  VALUE_VERSION,
  ValidationError,
} from '../src/index.js';
import { gatedCreator, ManualClock, MapBackend, settle, sleep } from './helpers.js';
import { LockServer, ServerBackend, ServerMutex, timed } from './resilience-fixtures.js';

// Timing windows are wide on purpose: a timeout of 60 ms must not fire before ~60 ms, and must
// fire long before the creator it gave up on (held open until the test ends) would finish.
const TIMEOUT_MS = 60;
const EARLIEST = TIMEOUT_MS - 15;
const LATEST = 1_000;

function valueNow(payload: unknown): CachedValue {
  return new CachedValue(payload, { ct: Date.now() / 1000, v: VALUE_VERSION });
}

describe("lockWaitTimeout with onLockTimeout: 'throw' (the default)", () => {
  it('gives a waiter a LockTimeoutError after lockWaitTimeout; the creator and its value are unaffected', async () => {
    const region = makeRegion({ lockWaitTimeout: TIMEOUT_MS / 1000 }).configure(new MapBackend());
    const creator = gatedCreator<string>();
    const creating = region.getOrCreate('k', creator.fn);
    await settle();

    const { ms, error } = await timed(region.getOrCreate('k', creator.fn));
    expect(error).toBeInstanceOf(LockTimeoutError);
    expect((error as LockTimeoutError).code).toBe('ERR_LOCK_TIMEOUT');
    expect((error as Error).message).toContain('"k"');
    expect(ms).toBeGreaterThanOrEqual(EARLIEST);
    expect(ms).toBeLessThan(LATEST);

    creator.gate.resolve('value');
    await expect(creating).resolves.toBe('value');
    expect(creator.runs).toBe(1);
    expect(await region.get('k')).toBe('value');
  });

  it('leaves nothing queued: the lock registry is empty once the creator is done', async () => {
    const region = makeRegion({ lockWaitTimeout: '30ms' }).configure(new MapBackend());
    const creator = gatedCreator<string>();
    const creating = region.getOrCreate('k', creator.fn);
    await settle();
    const waiters = Array.from({ length: 200 }, () =>
      region.getOrCreate('k', creator.fn).catch((error: unknown) => error),
    );
    const outcomes = await Promise.all(waiters);
    expect(outcomes.every((e) => e instanceof LockTimeoutError)).toBe(true);
    // Only the creator's own lock is held while it runs...
    expect(region.lockedKeyCount).toBe(1);
    creator.gate.resolve('value');
    await creating;
    // ...and nothing is left afterwards.
    expect(region.lockedKeyCount).toBe(0);
  });

  it('is overridable per call, and -1 or null means wait as long as it takes', async () => {
    const region = makeRegion({ lockWaitTimeout: '20ms' }).configure(new MapBackend());
    const creator = gatedCreator<string>();
    const creating = region.getOrCreate('k', creator.fn);
    await settle();
    const patient = region.getOrCreate('k', creator.fn, { lockWaitTimeout: -1 });
    const alsoPatient = region.getOrCreate('k', creator.fn, { lockWaitTimeout: null });
    const hasty = region.getOrCreate('k', creator.fn, { lockWaitTimeout: '1ms' });
    await expect(hasty).rejects.toBeInstanceOf(LockTimeoutError);
    await sleep(60);
    creator.gate.resolve('value');
    await expect(Promise.all([creating, patient, alsoPatient])).resolves.toEqual([
      'value',
      'value',
      'value',
    ]);
  });

  it('counts the total time waited, not each wait: a caller that waited locally then remotely', async () => {
    const server = new LockServer();
    const otherProcess = new ServerMutex(server, 'k');
    await otherProcess.acquire(false);
    const region = makeRegion({ lockWaitTimeout: 0.1 }).configure(
      new ServerBackend(server, { waitForRelease: true }),
    );
    // The first caller waits for the other process; the second for the first, then for the other
    // process in its turn. Both give up about 100 ms after they started, not 200.
    const first = timed(region.getOrCreate('k', () => 'first'));
    const second = timed(region.getOrCreate('k', () => 'second'));
    const [a, b] = await Promise.all([first, second]);
    expect(a.error).toBeInstanceOf(LockTimeoutError);
    expect(b.error).toBeInstanceOf(LockTimeoutError);
    for (const { ms } of [a, b]) {
      expect(ms).toBeGreaterThanOrEqual(85);
      expect(ms).toBeLessThan(190);
    }
    expect(server.listening).toBe(0);
    expect(region.lockedKeyCount).toBe(0);
    await otherProcess.release();
  });

  it('covers a blocking acquire of the distributed mutex, and leaves it unqueued', async () => {
    const server = new LockServer();
    const otherProcess = new ServerMutex(server, 'k');
    await otherProcess.acquire(false);
    const region = makeRegion({ lockWaitTimeout: TIMEOUT_MS / 1000 }).configure(
      new ServerBackend(server),
    );
    const { ms, error } = await timed(region.getOrCreate('k', () => 'mine'));
    expect(error).toBeInstanceOf(LockTimeoutError);
    expect(ms).toBeGreaterThanOrEqual(EARLIEST);
    expect(ms).toBeLessThan(LATEST);
    expect(server.listening).toBe(0);
    expect(region.lockedKeyCount).toBe(0);
    expect(server.holders.get('k')).toBe(otherProcess);
    await otherProcess.release();
  });

  it('covers a wait for another process’s release, well before the mutex’s own timeout', async () => {
    const server = new LockServer();
    const otherProcess = new ServerMutex(server, 'k');
    await otherProcess.acquire(false);
    const region = makeRegion({ lockWaitTimeout: TIMEOUT_MS / 1000 }).configure(
      new ServerBackend(server, { waitForRelease: true, blockingTimeoutMs: 30_000 }),
    );
    const { ms, error } = await timed(region.getOrCreate('k', () => 'mine'));
    expect(error).toBeInstanceOf(LockTimeoutError);
    expect(ms).toBeLessThan(LATEST);
    expect(server.listening).toBe(0);
    expect(region.lockedKeyCount).toBe(0);
    await otherProcess.release();
  });

  it('returns the value if the holder stored it by the time the wait ran out', async () => {
    const server = new LockServer();
    const otherProcess = new ServerMutex(server, 'k');
    await otherProcess.acquire(false);
    const region = makeRegion({ lockWaitTimeout: TIMEOUT_MS / 1000 }).configure(
      new ServerBackend(server, { waitForRelease: true }),
    );
    const pending = region.getOrCreate('k', () => 'never');
    await sleep(10);
    // The holder stores its value but, being slow, has not released yet when the wait gives up.
    server.values.set('k', valueNow('theirs'));
    await expect(pending).resolves.toBe('theirs');
    await otherProcess.release();
  });

  it('never makes a caller with a stale value wait, so it never times out', async () => {
    const clock = new ManualClock();
    const region = makeRegion({ clock, lockWaitTimeout: 0 }).configure(new MapBackend(), {
      expirationTime: 10,
    });
    await region.set('k', 'old');
    clock.advance(20_000);
    const creator = gatedCreator<string>();
    const regenerating = region.getOrCreate('k', creator.fn);
    await settle();
    await expect(region.getOrCreate('k', () => 'x')).resolves.toBe('old');
    creator.gate.resolve('new');
    await expect(regenerating).resolves.toBe('new');
  });
});

describe("lockWaitTimeout with onLockTimeout: 'create'", () => {
  it('runs the creator itself after the timeout, without the lock, and stores the value', async () => {
    const backend = new MapBackend();
    const region = makeRegion({
      lockWaitTimeout: TIMEOUT_MS / 1000,
      onLockTimeout: 'create',
    }).configure(backend);
    const stuck = gatedCreator<string>();
    const creating = region.getOrCreate('k', stuck.fn);
    await settle();

    const { ms, value } = await timed(region.getOrCreate('k', () => 'made after the timeout'));
    expect(value).toBe('made after the timeout');
    expect(ms).toBeGreaterThanOrEqual(EARLIEST);
    expect(ms).toBeLessThan(LATEST);
    // Stored: while the holder is still stuck, later callers get a hit instead of waiting too.
    const later = await timed(region.getOrCreate('k', () => 'not called'));
    expect(later.value).toBe('made after the timeout');
    expect(later.ms).toBeLessThan(EARLIEST);
    expect(region.lockedKeyCount).toBe(1);

    // The holder finishes later and stores its value: the newest write wins, both being fresh.
    stuck.gate.resolve('from the holder');
    await expect(creating).resolves.toBe('from the holder');
    expect(await region.get('k')).toBe('from the holder');
    expect(region.lockedKeyCount).toBe(0);
  });

  it('honours shouldCacheFn for the value created without the lock', async () => {
    const region = makeRegion({ lockWaitTimeout: '20ms', onLockTimeout: 'create' }).configure(
      new MapBackend(),
    );
    const stuck = gatedCreator<string>();
    const creating = region.getOrCreate('k', stuck.fn);
    await settle();
    await expect(
      region.getOrCreate('k', () => 'uncacheable', { shouldCacheFn: () => false }),
    ).resolves.toBe('uncacheable');
    expect(await region.get('k')).not.toBe('uncacheable');
    stuck.gate.resolve('v');
    await creating;
  });

  it('is chosen per call', async () => {
    const region = makeRegion({ lockWaitTimeout: '20ms' }).configure(new MapBackend());
    const stuck = gatedCreator<string>();
    const creating = region.getOrCreate('k', stuck.fn);
    await settle();
    await expect(region.getOrCreate('k', () => 'x')).rejects.toBeInstanceOf(LockTimeoutError);
    await expect(region.getOrCreate('k', () => 'x', { onLockTimeout: 'create' })).resolves.toBe(
      'x',
    );
    stuck.gate.resolve('v');
    await creating;
  });

  it('with lockWaitTimeout 0, creates at once instead of waiting', async () => {
    const region = makeRegion({ lockWaitTimeout: 0, onLockTimeout: 'create' }).configure(
      new MapBackend(),
    );
    const stuck = gatedCreator<string>();
    const creating = region.getOrCreate('k', stuck.fn);
    await settle();
    const { ms, value } = await timed(region.getOrCreate('k', () => 'now'));
    expect(value).toBe('now');
    expect(ms).toBeLessThan(EARLIEST);
    stuck.gate.resolve('v');
    await creating;
  });

  it('also applies when the distributed mutex gives up on its own blocking timeout', async () => {
    const server = new LockServer();
    const otherProcess = new ServerMutex(server, 'k');
    await otherProcess.acquire(false);
    const backend = new ServerBackend(server, { blockingTimeoutMs: 30 });
    const throwing = makeRegion().configure(backend);
    await expect(throwing.getOrCreate('k', () => 'x')).rejects.toBeInstanceOf(LockTimeoutError);
    const creating = makeRegion({ onLockTimeout: 'create' }).configure(backend);
    await expect(creating.getOrCreate('k', () => 'created anyway')).resolves.toBe('created anyway');
    await otherProcess.release();
  });

  it('does not take a LockTimeoutError thrown by the creator for its own wait', async () => {
    const region = makeRegion({ onLockTimeout: 'create' }).configure(new MapBackend());
    let runs = 0;
    const nested = new LockTimeoutError('inner', 5);
    await expect(
      region.getOrCreate('k', () => {
        runs++;
        throw nested;
      }),
    ).rejects.toBe(nested);
    expect(runs).toBe(1);
  });
});

describe('lockWaitTimeout in getOrCreateMulti', () => {
  it('throws a LockTimeoutError naming the key it waited for, releasing the locks it took', async () => {
    const region = makeRegion({ lockWaitTimeout: '30ms' }).configure(new MapBackend());
    const stuck = gatedCreator<string>();
    const creating = region.getOrCreate('b', stuck.fn);
    await settle();
    const error = await region
      .getOrCreateMulti(['a', 'b', 'c'], async (...keys) => keys)
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LockTimeoutError);
    expect((error as Error).message).toContain('"b"');
    expect(region.lockedKeyCount).toBe(1);
    stuck.gate.resolve('single');
    await creating;
    expect(region.lockedKeyCount).toBe(0);
  });

  it("with 'create', creates the key it gave up on along with the others", async () => {
    const region = makeRegion({ lockWaitTimeout: '30ms', onLockTimeout: 'create' }).configure(
      new MapBackend(),
    );
    const stuck = gatedCreator<string>();
    const creating = region.getOrCreate('b', stuck.fn);
    await settle();
    const created: string[][] = [];
    await expect(
      region.getOrCreateMulti(['c', 'b', 'a'], async (...keys) => {
        created.push(keys);
        return keys.map((key) => `multi:${key}`);
      }),
    ).resolves.toEqual(['multi:c', 'multi:b', 'multi:a']);
    expect(created).toEqual([['a', 'b', 'c']]);
    stuck.gate.resolve('single');
    await creating;
    expect(region.lockedKeyCount).toBe(0);
  });

  it('gives a LockTimeoutError, not undefined, when the distributed mutex gives up on its own', async () => {
    const server = new LockServer();
    const otherProcess = new ServerMutex(server, 'b');
    await otherProcess.acquire(false);
    const region = makeRegion().configure(new ServerBackend(server, { blockingTimeoutMs: 30 }));
    await expect(
      region.getOrCreateMulti(['a', 'b'], async (...keys) => keys),
    ).rejects.toBeInstanceOf(LockTimeoutError);
    expect(region.lockedKeyCount).toBe(0);
    await otherProcess.release();
  });
});

describe('lock wait timeout options are validated', () => {
  it('at construction', () => {
    expect(() => makeRegion({ lockWaitTimeout: 'soon' as never })).toThrow(ValidationError);
    expect(() => makeRegion({ lockWaitTimeout: -5 })).toThrow(ValidationError);
    expect(() => makeRegion({ onLockTimeout: 'retry' as never })).toThrow(
      /onLockTimeout must be 'throw'.*or 'create'/,
    );
  });

  it('per call, when the call has to wait or create', async () => {
    const region = makeRegion().configure(new MapBackend());
    await expect(
      region.getOrCreate('k', () => 1, { lockWaitTimeout: 'soon' as never }),
    ).rejects.toThrow(ValidationError);
    await expect(
      region.getOrCreate('k', () => 1, { onLockTimeout: 'wait' as never }),
    ).rejects.toThrow(ValidationError);
  });
});
