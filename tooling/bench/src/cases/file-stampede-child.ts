/**
 * One process of the file stampede (started by cases/file-stampede.ts through ChildPool). argv[2]
 * is JSON `{ directory, callers }`. It opens every file contender on the shared directory, prints
 * one line, then answers each stdin line `{ contender, key, creatorMs }` with the JSON of one
 * burst. It closes everything and exits when stdin ends.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { makeRegion } from '@dogpile/core';
import { FileBackend } from '@dogpile/file';
import { BentoCache, bentostore } from 'bentocache';
import { fileDriver } from 'bentocache/drivers/file';
import { TTL_MS } from '../fixtures.js';
import type { Contender } from '../peers/contender.js';
import { burst } from '../stampede-burst.js';
import { FILE_CONTENDERS, type FileBurstRequest, type FileChildArgs } from './file-shared.js';

const { directory, callers } = JSON.parse(process.argv[2]!) as FileChildArgs;

function dogpile(id: string, name: string, lockWatch: boolean): Contender {
  const values = join(directory, id);
  mkdirSync(values, { recursive: true });
  const region = makeRegion().configure(new FileBackend({ directory: values, lockWatch }), {
    expirationTime: TTL_MS / 1000,
  });
  return {
    id,
    name,
    getOrCreate: (key, creator) => region.getOrCreate(key, creator),
    close: () => region.close(),
  };
}

function bento(id: string, name: string): Contender {
  const cache = new BentoCache({
    default: 'cache',
    ttl: TTL_MS,
    stores: { cache: bentostore().useL2Layer(fileDriver({ directory: join(directory, id) })) },
  });
  return {
    id,
    name,
    getOrCreate: (key, factory) => cache.getOrSet({ key, factory }),
    close: () => cache.disconnectAll(),
  };
}

const [watch, poll, bentoFile] = FILE_CONTENDERS;
const contenders: Contender[] = [
  dogpile(watch.id, watch.name, true),
  dogpile(poll.id, poll.name, false),
  bento(bentoFile.id, bentoFile.name),
];
try {
  process.stdout.write(`${JSON.stringify({ ready: true })}\n`);
  for await (const line of createInterface({ input: process.stdin })) {
    if (line.trim() === '') continue;
    const request = JSON.parse(line) as FileBurstRequest;
    try {
      const contender = contenders.find((c) => c.id === request.contender);
      if (!contender) throw new Error(`no file contender ${request.contender}`);
      const result = await burst(contender, request.key, callers, request.creatorMs);
      process.stdout.write(`${JSON.stringify(result)}\n`);
    } catch (error) {
      // The library's own error, then its cause (bentocache wraps driver errors).
      const cause = (error as { cause?: unknown }).cause;
      const message = cause === undefined ? String(error) : `${error} (cause: ${cause})`;
      process.stdout.write(`${JSON.stringify({ error: message })}\n`);
    }
  }
} finally {
  await Promise.all(contenders.map((c) => c.close()));
}
