import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { makeRegion } from '@dogpile/core';
import { type WatchedChild, watchChild } from '@dogpile/test-servers';
import { afterEach, describe, expect, it } from 'vitest';
import { RedisBackend } from '../src/index.js';
import { noServers, sleep, targets, uniquePrefix } from './helpers.js';

const fixture = (name: string) => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));

const children: ChildProcess[] = [];
afterEach(() => {
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
});

/** Runs a fixture with `args` (as JSON); killed after the test. */
function startChild(name: string, args: unknown): WatchedChild {
  const child = spawn(process.execPath, [fixture(name), JSON.stringify(args)], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  children.push(child);
  return watchChild(child, name);
}

describe.skipIf(noServers).each(targets)('across processes ($name)', (target) => {
  it('4 processes x 50 callers on a cold key: the creator runs exactly once', async () => {
    const p = uniquePrefix(`xproc-${target.name}`);
    const args = {
      connection: target.connection(),
      key: `${p}cold`,
      counterKey: `${p}runs`,
      callers: 50,
      creatorMs: 200,
    };
    const procs = Array.from({ length: 4 }, () => startChild('stampede-child.mjs', args));
    await Promise.all(procs.map((child) => child.line((line) => line === 'ready')));
    for (const child of procs) child.process.stdin!.write('go\n');
    const reports = await Promise.all(
      procs.map(async (child) => JSON.parse(await child.line((line) => line.startsWith('{')))),
    );
    expect(await target.raw().get(`${p}runs`), 'creator runs over 4 processes').toBe('1');
    const values = reports.flatMap((report) => report.values as unknown[]);
    expect(values).toHaveLength(200);
    const creatorPid = (values[0] as { createdBy: number }).createdBy;
    expect(reports.map((report) => report.pid)).toContain(creatorPid);
    for (const value of values)
      expect(value, 'every caller got the one created value').toEqual({ createdBy: creatorPid });
    // Nobody was left waiting long after the creator finished. (No lower bound: on a loaded
    // machine a child may only start its callers once the value is already there.)
    const latencies = reports.flatMap((report) => report.latencies as number[]);
    expect(Math.max(...latencies), 'slowest caller, ms').toBeLessThan(3000);
  });

  it('a SIGKILLed holder: another process takes over once the lock TTL passes, not before', async () => {
    const p = uniquePrefix(`sigkill-${target.name}`);
    const lockTimeoutMs = 600;
    const holder = startChild('holder-child.mjs', {
      connection: target.connection(),
      key: `${p}k`,
      lockTimeout: lockTimeoutMs / 1000,
    });
    await holder.line((line) => line === 'creating');

    const backend = new RedisBackend({
      ...target.connection(),
      distributedLock: true,
      lockTimeout: lockTimeoutMs / 1000,
    });
    const region = makeRegion().configure(backend, { expirationTime: 60 });
    try {
      // Alive, the holder keeps extending its lock well past the TTL.
      await sleep(lockTimeoutMs * 2);
      expect(await backend.getMutex(`${p}k`)!.acquire(false)).toBe(false);

      holder.process.kill('SIGKILL');
      await once(holder.process, 'exit');
      const killedAt = performance.now();
      let ran = 0;
      const value = await region.getOrCreate(`${p}k`, () => {
        ran++;
        return 'taken over';
      });
      const waited = performance.now() - killedAt;
      expect(value).toBe('taken over');
      expect(ran).toBe(1);
      // The lock was extended at most lockTimeout / 3 before the kill, so it expires within one
      // TTL; the waiter notices by its next poll (at most 100 ms later); the rest is slack for a
      // loaded machine, far below the 10 s default TTL the bound would catch.
      expect(waited).toBeLessThan(lockTimeoutMs + 100 + 600);
    } finally {
      await region.close();
    }
  });

  it('a holder killed after storing the value: waiters get it at their next poll, not after its TTL', async () => {
    const p = uniquePrefix(`stored-${target.name}`);
    const key = `${p}k`;
    const lockTimeout = 5;
    const holder = startChild('writer-child.mjs', {
      connection: target.connection(),
      key,
      lockTimeout,
    });
    await holder.line((line) => line === 'locked');
    const backend = new RedisBackend({
      ...target.connection(),
      distributedLock: true,
      lockTimeout,
    });
    const region = makeRegion().configure(backend, { expirationTime: 60 });
    try {
      let ran = 0;
      const waiting = region.getOrCreate(key, () => {
        ran++;
        return 'created by a waiter';
      });
      await sleep(200);
      holder.process.stdin!.write('write\n');
      await holder.line((line) => line === 'written');
      const writtenAt = performance.now();
      holder.process.kill('SIGKILL');
      await once(holder.process, 'exit');
      expect(await waiting).toBe('from the dead holder');
      const waited = performance.now() - writtenAt;
      expect(ran).toBe(0);
      // The dead holder's lock still has most of its 5 s; the waiter re-reads the key at each
      // poll (lockPollMax, 100 ms) and takes the value. Slack for a loaded machine.
      expect(waited).toBeLessThan(1000);
      console.log(`waiter got the dead holder's value ${waited.toFixed(0)} ms after it was stored`);
      expect(await target.raw().exists(`_lock${key}`)).toBe(1);
    } finally {
      await region.close();
    }
  });

  it('tags: a hard invalidateTags in another process makes this one regenerate the tagged values within tagCacheTime', async () => {
    const p = uniquePrefix(`xproc-tags-${target.name}`);
    const region = makeRegion({ tagCacheTime: '50ms' }).configure(
      new RedisBackend({ ...target.connection(), distributedLock: true }),
      { expirationTime: 600 },
    );
    try {
      const tag = `${p}user:7`;
      expect(await region.getOrCreate(`${p}post:1`, () => 'v1', { tags: [tag] })).toBe('v1');
      expect(await region.getOrCreate(`${p}post:2`, () => 'w1', { tags: [`${p}user:8`] })).toBe(
        'w1',
      );
      expect(await region.getOrCreate(`${p}post:1`, () => 'v2')).toBe('v1');
      const child = startChild('tag-child.mjs', {
        connection: target.connection(),
        tags: [tag],
        hard: true,
      });
      const [code] = await once(child.process, 'exit');
      expect(code, child.stderr()).toBe(0);
      const deadline = performance.now() + 3_000;
      let value = 'v1';
      while (value !== 'v2' && performance.now() < deadline) {
        value = await region.getOrCreate(`${p}post:1`, () => 'v2');
        await sleep(10);
      }
      expect(value).toBe('v2');
      expect(await region.getOrCreate(`${p}post:2`, () => 'w2')).toBe('w1');
    } finally {
      await region.close();
    }
  });

  it('tags: a soft invalidateTags in another process: one creator here, the other callers get the old value at once', async () => {
    const p = uniquePrefix(`xproc-stags-${target.name}`);
    const regions = [0, 1].map(() =>
      makeRegion({ tagCacheTime: '50ms' }).configure(
        new RedisBackend({ ...target.connection(), distributedLock: true }),
        { expirationTime: 600 },
      ),
    );
    try {
      const key = `${p}post:1`;
      await regions[0]!.getOrCreate(key, () => 'old', { tags: [`${p}t`] });
      const child = startChild('tag-child.mjs', {
        connection: target.connection(),
        tags: [`${p}t`],
        hard: false,
      });
      const [code] = await once(child.process, 'exit');
      expect(code, child.stderr()).toBe(0);
      await sleep(60);
      let runs = 0;
      const slow = async () => {
        runs++;
        await sleep(150);
        return 'new';
      };
      const started = performance.now();
      const values = await Promise.all(
        Array.from({ length: 6 }, async (_, i) => {
          const value = await regions[i % 2]!.getOrCreate(key, slow, { tags: [`${p}t`] });
          return { value, ms: performance.now() - started };
        }),
      );
      expect(runs).toBe(1);
      expect(values.filter((v) => v.value === 'new')).toHaveLength(1);
      for (const { value, ms } of values) if (value === 'old') expect(ms).toBeLessThan(120);
      await sleep(50);
      expect(await regions[1]!.getOrCreate(key, slow)).toBe('new');
    } finally {
      await Promise.all(regions.map((region) => region.close()));
    }
  });
});
