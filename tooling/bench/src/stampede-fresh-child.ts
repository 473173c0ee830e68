/**
 * One freshly started process of the first-burst stampede (started by cases/stampede-fresh.ts
 * through ChildPool, a new set of children per round). argv[2] is JSON `{ store, callers }`. It
 * imports and configures a dogpile region on that store, prints one line, then answers each
 * stdin line `{ key, creatorMs }` with the JSON of one burst: its first calls after start, as
 * at a deploy (nothing compiled by V8 yet, the connection opened by the first call). Closes the
 * region and exits when stdin ends.
 */
import type { Store } from './peers/contender.js';
import { dogpile } from './peers/dogpile.js';
import { serveBursts } from './stampede-burst.js';

/** What the parent passes a fresh-stampede child (argv[2], as JSON). */
export interface FreshChildArgs {
  store: Store;
  callers: number;
}

const { store, callers } = JSON.parse(process.argv[2]!) as FreshChildArgs;
await serveBursts(await dogpile(store), callers);
