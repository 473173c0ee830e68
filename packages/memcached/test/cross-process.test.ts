import { once } from 'node:events';
import { makeRegion } from '@dogpile/core';
import { describe, expect, it } from 'vitest';
import { MemcachedBackend, wireKey } from '../src/index.js';
import { startChild } from './child.js';
import { noServers, sleep, targets, uniquePrefix } from './helpers.js';

describe.skipIf(noServers).each(targets)('across processes ($name)', (target) => {
  it('4 processes x 50 callers on a cold key: the creator runs exactly once', async () => {
    const p = uniquePrefix('xproc');
    const args = {
      servers: target.servers(),
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
    const runs = (await target.raw().get(`${p}runs`)).value?.toString();
    expect(runs, 'creator runs over 4 processes').toBe('1');
    const values = reports.flatMap((report) => report.values as unknown[]);
    expect(values).toHaveLength(200);
    const creatorPid = (values[0] as { createdBy: number }).createdBy;
    expect(reports.map((report) => report.pid)).toContain(creatorPid);
    for (const value of values)
      expect(value, 'every caller got the one created value').toEqual({ createdBy: creatorPid });
    const latencies = reports.flatMap((report) => report.latencies as number[]);
    expect(Math.max(...latencies), 'slowest caller, ms').toBeLessThan(3000);
  });

  for (const phase of ['locked', 'creating'] as const) {
    // Where the lease lives does not matter here: the trio runs the kit's SIGKILL test.
    it.skipIf(target.name !== 'one server')(
      `a holder SIGKILLed ${phase === 'locked' ? 'right after taking the lock' : 'mid-creation'}: another process takes over once the lease runs out, not before`,
      async () => {
        const p = uniquePrefix(`sigkill-${phase}`);
        const lockTimeoutMs = 1000;
        const key = `${p}k`;
        const holder = startChild('holder-child.mjs', {
          servers: target.servers(),
          key,
          lockTimeout: lockTimeoutMs / 1000,
          phase,
        });
        await holder.line((line) => line === phase);

        const backend = new MemcachedBackend({
          servers: target.servers(),
          distributedLock: true,
          lockTimeout: lockTimeoutMs / 1000,
        });
        const region = makeRegion().configure(backend, { expirationTime: 60 });
        try {
          // Alive, the holder keeps extending its lease well past its TTL (2 s on the server).
          await sleep(2100);
          expect(await backend.getMutex(key)!.acquire(false)).toBe(false);

          holder.process.kill('SIGKILL');
          await once(holder.process, 'exit');
          const killedAt = performance.now();
          let ran = 0;
          const value = await region.getOrCreate(key, () => {
            ran++;
            return 'taken over';
          });
          const waited = performance.now() - killedAt;
          expect(value).toBe('taken over');
          expect(ran).toBe(1);
          // Last extended at most lockTimeout / 3 before the kill, for ceil(1 s) + 1 = 2 server
          // seconds, which Memcached's once-a-second clock ends between 1 and 2 s later; the
          // waiter notices within lockPollMax (10 ms). The rest is slack for a loaded machine.
          expect(waited).toBeLessThan(2000 + 600);
          console.log(
            `[${target.name}] took over ${waited.toFixed(0)} ms after the ${phase} holder was killed`,
          );
        } finally {
          await region.close();
        }
      },
    );
  }

  it.skipIf(target.name !== 'one server')(
    'a holder killed after storing the value: waiters get it at their next poll, not after its lease',
    async () => {
      const p = uniquePrefix('stored');
      const key = `${p}k`;
      const lockTimeout = 5;
      const holder = startChild('holder-child.mjs', {
        servers: target.servers(),
        key,
        lockTimeout,
        phase: 'written',
      });
      await holder.line((line) => line === 'locked');
      const backend = new MemcachedBackend({
        servers: target.servers(),
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
        expect(waited).toBeLessThan(1000);
        // The dead holder's lease is still there: the waiter did not wait for it.
        expect((await target.raw().get(wireKey(`_lock${key}`))).value).not.toBeNull();
      } finally {
        await region.close();
      }
    },
  );
});
