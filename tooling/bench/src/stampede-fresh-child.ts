/**
 * One freshly started process of the first-burst stampede (started by cases/stampede-fresh.ts
 * through ChildPool, a new set of children per round). argv[2] is JSON `{ store, callers }`. It
 * imports and configures a dogpile region on that store, prints one line, then answers each
 * stdin line `{ key, creatorMs }` with the JSON of one burst: its first calls after start, as
 * at a deploy (nothing compiled by V8 yet, the connection opened by the first call). Closes the
 * region and exits when stdin ends.
 */
import { createInterface } from 'node:readline';
import type { Store } from './peers/contender.js';
import { dogpile } from './peers/dogpile.js';
import { burst } from './stampede-burst.js';

/** What the parent passes a fresh-stampede child (argv[2], as JSON). */
export interface FreshChildArgs {
  store: Store;
  callers: number;
}

const { store, callers } = JSON.parse(process.argv[2]!) as FreshChildArgs;
const contender = await dogpile(store);
try {
  process.stdout.write(`${JSON.stringify({ ready: true })}\n`);
  for await (const line of createInterface({ input: process.stdin })) {
    if (line.trim() === '') continue;
    const request = JSON.parse(line) as { key: string; creatorMs: number };
    try {
      const result = await burst(contender, request.key, callers, request.creatorMs);
      process.stdout.write(`${JSON.stringify(result)}\n`);
    } catch (error) {
      process.stdout.write(`${JSON.stringify({ error: String(error) })}\n`);
    }
  }
} finally {
  await contender.close();
}
