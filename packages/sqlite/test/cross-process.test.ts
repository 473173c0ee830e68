import { type ChildProcess, fork, spawn } from 'node:child_process';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { makeRegion } from '@dogpile/core';
import { afterEach, describe, expect, it } from 'vitest';
import { SqliteBackend, type SqliteBackendOptions } from '../src/index.js';
import { useTempDirs } from './helpers.js';

const CHILD = fileURLToPath(new URL('./fixtures/stampede-child.mjs', import.meta.url));
const WRITER = fileURLToPath(new URL('./fixtures/writer-child.mjs', import.meta.url));
const tempDir = useTempDirs();

interface Message {
  type: 'ready' | 'creating' | 'done' | 'error';
  pid: number;
  at?: number;
  created?: number;
  distinct?: string[];
  count?: number;
  message?: string;
}

interface Child {
  process: ChildProcess;
  messages: Message[];
  /** Resolves with the first message of `type` (already received or future). */
  next(type: Message['type']): Promise<Message>;
  exited: Promise<number | string | null>;
}

const children: Child[] = [];
afterEach(() => {
  for (const child of children.splice(0)) {
    if (child.process.exitCode === null && child.process.signalCode === null)
      child.process.kill('SIGKILL');
  }
});

function spawnChild(config: {
  filename: string;
  key: string;
  callers: number;
  creatorMs: number;
  hang?: boolean;
  backend?: Partial<SqliteBackendOptions>;
}): Child {
  const proc = fork(CHILD, [JSON.stringify(config)], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const messages: Message[] = [];
  const waiters: Array<{ type: Message['type']; resolve: (message: Message) => void }> = [];
  proc.on('message', (raw) => {
    const message = raw as Message;
    messages.push(message);
    for (const waiter of waiters.filter((w) => w.type === message.type)) {
      waiters.splice(waiters.indexOf(waiter), 1);
      waiter.resolve(message);
    }
  });
  const exited = new Promise<number | string | null>((resolve) =>
    proc.on('exit', (code, signal) => resolve(signal ?? code)),
  );
  const child: Child = {
    process: proc,
    messages,
    exited,
    next(type) {
      const seen = messages.find((message) => message.type === type);
      if (seen) return Promise.resolve(seen);
      return new Promise<Message>((resolve, reject) => {
        waiters.push({ type, resolve });
        void exited.then((how) =>
          reject(new Error(`child ${proc.pid} exited (${how}) before "${type}"`)),
        );
      });
    },
  };
  children.push(child);
  return child;
}

function doneOf(child: Child): Promise<Message> {
  return Promise.race([
    child.next('done'),
    child.next('error').then((message) => {
      throw new Error(`child ${message.pid} failed: ${message.message}`);
    }),
  ]);
}

describe('SqliteBackend across processes', () => {
  it('4 processes x 100 callers on one cold key: the creator runs once in total', async () => {
    // The children create the fresh file together, so their setup races too.
    const filename = path.join(tempDir(), 'shared.db');
    const spawned = Array.from({ length: 4 }, () =>
      spawnChild({ filename, key: 'cold', callers: 100, creatorMs: 400 }),
    );
    await Promise.all(spawned.map((child) => child.next('ready')));
    for (const child of spawned) child.process.send('go');
    const done = await Promise.all(spawned.map(doneOf));

    const creations = spawned.flatMap((child) =>
      child.messages.filter((m) => m.type === 'creating'),
    );
    expect(creations).toHaveLength(1);
    expect(done.reduce((sum, message) => sum + message.created!, 0)).toBe(1);
    expect(done.map((message) => message.count)).toEqual([100, 100, 100, 100]);
    // Every one of the 400 callers got the one value that was created.
    const values = new Set(done.flatMap((message) => message.distinct!));
    expect(values.size).toBe(1);
    expect(JSON.parse([...values][0]!).by).toBe(creations[0]!.pid);
    expect(await Promise.all(spawned.map((child) => child.exited))).toEqual([0, 0, 0, 0]);

    const backend = new SqliteBackend({ filename });
    const locks = backend.database
      .prepare(`SELECT count(*) FROM "${backend.table}_locks"`)
      .pluck()
      .get();
    expect(locks).toBe(0);
    await backend.close();
  });

  it('a SIGKILLed holder: its lock expires after lockTimeout and exactly one waiter creates', async () => {
    const filename = path.join(tempDir(), 'shared.db');
    const lockTimeoutMs = 1000;
    const backend = { lockTimeout: lockTimeoutMs / 1000, lockPollMax: '50ms' as const };
    const holder = spawnChild({
      filename,
      key: 'k',
      callers: 1,
      creatorMs: 0,
      hang: true,
      backend,
    });
    await holder.next('ready');
    holder.process.send('go');
    await holder.next('creating');

    const waiters = Array.from({ length: 3 }, () =>
      spawnChild({ filename, key: 'k', callers: 100, creatorMs: 100, backend }),
    );
    await Promise.all(waiters.map((child) => child.next('ready')));
    for (const child of waiters) child.process.send('go');

    // Let the holder extend its lock a few times while the others wait, then kill it.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(waiters.flatMap((child) => child.messages.filter((m) => m.type === 'creating'))).toEqual(
      [],
    );
    const probe = new SqliteBackend({ filename });
    const lastExpiry = probe.database
      .prepare(`SELECT expires_at FROM "${probe.table}_locks" WHERE key = '_lockk'`)
      .pluck()
      .get() as number;
    expect(lastExpiry).toBeGreaterThan(Date.now());
    holder.process.kill('SIGKILL');
    expect(await holder.exited).toBe('SIGKILL');
    const killedAt = Date.now();
    expect(await probe.getMutex('k')!.locked()).toBe(true);
    await probe.close();

    const done = await Promise.all(waiters.map(doneOf));
    const creations = waiters.flatMap((child) =>
      child.messages.filter((m) => m.type === 'creating'),
    );
    expect(creations).toHaveLength(1);
    expect(done.reduce((sum, message) => sum + message.created!, 0)).toBe(1);
    // Not before the dead holder's lock ran out, and not much later either.
    expect(creations[0]!.at!).toBeGreaterThanOrEqual(lastExpiry - 5);
    expect(creations[0]!.at! - killedAt).toBeLessThan(lockTimeoutMs + 1500);
    const values = new Set(done.flatMap((message) => message.distinct!));
    expect(values.size).toBe(1);
    expect(JSON.parse([...values][0]!).by).toBe(creations[0]!.pid);
  });
});

describe('SqliteBackend: a holder killed after storing the value', () => {
  it('its waiters get the value at their next poll, not after its lock TTL', async () => {
    const filename = path.join(tempDir(), 'shared.db');
    const lockTimeout = 5;
    const holder = spawn(
      process.execPath,
      [WRITER, JSON.stringify({ filename, key: 'k', lockTimeout })],
      { stdio: ['pipe', 'pipe', 'inherit'] },
    );
    const lines: string[] = [];
    holder
      .stdout!.setEncoding('utf8')
      .on('data', (chunk: string) => lines.push(...chunk.split('\n')));
    const sawLine = async (line: string) => {
      const deadline = Date.now() + 10_000;
      while (!lines.includes(line)) {
        if (Date.now() > deadline || holder.exitCode !== null) throw new Error(`no "${line}"`);
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    };
    try {
      await sawLine('locked');
      const backend = new SqliteBackend({ filename, lockTimeout });
      const region = makeRegion().configure(backend, { expirationTime: 60 });
      let ran = 0;
      const waiting = region.getOrCreate('k', () => {
        ran++;
        return 'created by a waiter';
      });
      await new Promise((resolve) => setTimeout(resolve, 200));
      holder.stdin!.write('write\n');
      await sawLine('written');
      const writtenAt = performance.now();
      holder.kill('SIGKILL');
      expect(await waiting).toBe('from the dead holder');
      const waited = performance.now() - writtenAt;
      expect(ran).toBe(0);
      // lockPollMax is 10 ms here; the rest is slack for a loaded machine, far below the 5 s TTL.
      expect(waited).toBeLessThan(1000);
      console.log(`waiter got the dead holder's value ${waited.toFixed(0)} ms after it was stored`);
      expect(await backend.getMutex('k')!.locked()).toBe(true);
      await region.close();
    } finally {
      if (holder.exitCode === null) holder.kill('SIGKILL');
    }
  });
});
