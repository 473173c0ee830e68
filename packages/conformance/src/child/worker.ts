// The child-process side of the cross-process suite. It must not import vitest (which refuses to
// load outside a test run), so it talks to the parent over the IPC channel only.
import { randomUUID } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import { type CacheBackend, type CacheRegion, getBackendFactory, makeRegion } from '@dogpile/core';
import type { BackendDisposer, BackendFactory } from '../options.js';
import type {
  ChildMessage,
  CreatedValue,
  InitMessage,
  Outcome,
  ParentMessage,
} from './protocol.js';

let backend: CacheBackend | undefined;
let region: CacheRegion | undefined;
let dispose: BackendDisposer = (b) => b.close();
let leaving = false;

function send(message: ChildMessage): Promise<void> {
  return new Promise((resolve) => {
    if (!process.connected) return resolve();
    process.send!(message, undefined, {}, () => resolve());
  });
}

function toHref(location: string): string {
  return /^[a-z][a-z0-9+.-]*:/i.test(location) && !/^[a-z]:[\\/]/i.test(location)
    ? location
    : pathToFileURL(location).href;
}

async function init(message: InitMessage): Promise<void> {
  if (message.factoryModule !== undefined) {
    const mod = (await import(toHref(message.factoryModule))) as {
      createBackend?: BackendFactory;
      disposeBackend?: BackendDisposer;
    };
    if (typeof mod.createBackend !== 'function') {
      throw new Error(`${message.factoryModule} does not export a createBackend(hints) function.`);
    }
    if (typeof mod.disposeBackend === 'function') dispose = mod.disposeBackend;
    backend = await mod.createBackend(message.hints);
  } else if (message.registeredBackend !== undefined) {
    const { module, name, arguments: args } = message.registeredBackend;
    await import(toHref(module));
    backend = getBackendFactory(name)(args);
  } else {
    throw new Error('The parent gave neither factoryModule nor registeredBackend.');
  }
  region = makeRegion({ name: 'conformance-child' }).configure(backend, { expirationTime: 3600 });
}

function describeError(error: unknown): Outcome {
  const e = error as { name?: unknown; code?: unknown; message?: unknown };
  return {
    ok: false,
    name: typeof e?.name === 'string' ? e.name : typeof error,
    code: typeof e?.code === 'string' ? e.code : undefined,
    message: typeof e?.message === 'string' ? e.message : String(error),
  };
}

async function race(key: string, callers: number, creatorMs: number): Promise<void> {
  const creatorStarts: number[] = [];
  const created: string[] = [];
  const creator = async (): Promise<CreatedValue> => {
    creatorStarts.push(Date.now());
    await new Promise((resolve) => setTimeout(resolve, creatorMs));
    const value = { pid: process.pid, token: randomUUID() };
    created.push(value.token);
    return value;
  };
  const settled = await Promise.allSettled(
    Array.from({ length: callers }, () => region!.getOrCreate(key, creator)),
  );
  const outcomes = settled.map(
    (result): Outcome =>
      result.status === 'fulfilled'
        ? { ok: true, value: result.value }
        : describeError(result.reason),
  );
  await send({ type: 'results', creatorStarts, created, outcomes });
}

async function hold(key: string): Promise<void> {
  await region!.getOrCreate(key, async () => {
    await send({ type: 'creating', at: Date.now() });
    // Never finishes: the parent kills this process while it holds the lock.
    return new Promise<never>(() => {});
  });
}

async function use(key: string): Promise<void> {
  const b = backend!;
  const mangled = b.keyMangler === undefined ? key : b.keyMangler(key);
  await region!.set(key, 'used');
  await region!.get(key);
  await region!.getMulti([key]);
  await region!.getOrCreate(`${key}:created`, () => 'created');
  await region!.deleteMulti([key, `${key}:created`]);
  const mutex = b.getMutex(mangled);
  if (mutex !== null && (await mutex.acquire(false))) await mutex.release();
  await send({ type: 'results', creatorStarts: [], created: [], outcomes: [] });
}

/** Closes the backend, then lets go of the parent: with nothing left open the process exits. */
async function leave(): Promise<void> {
  if (leaving) return;
  leaving = true;
  if (backend !== undefined) await dispose(backend);
  await send({ type: 'closed' });
  // If the backend left something open, this process would live on after the parent is gone.
  setTimeout(() => process.exit(3), 30_000).unref();
  process.disconnect();
}

async function fatal(error: unknown): Promise<void> {
  const message = error instanceof Error ? (error.stack ?? error.message) : String(error);
  await send({ type: 'fatal', message });
  process.exit(2);
}

process.on('disconnect', () => {
  // The parent went away without saying goodbye (killed, or its test timed out).
  if (!leaving) process.exit(1);
});

process.on('message', (raw) => {
  const message = raw as ParentMessage;
  const run = async () => {
    switch (message.type) {
      case 'init':
        await init(message);
        await send({ type: 'ready' });
        return;
      case 'race':
        await race(message.key, message.callers, message.creatorMs);
        return leave();
      case 'hold':
        return hold(message.key);
      case 'use':
        await use(message.key);
        return leave();
    }
  };
  run().catch(fatal);
});
