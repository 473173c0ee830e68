import type { NotApplicable, Store } from './peers/contender.js';

/** What the parent passes a stampede child (argv[2], as JSON). */
export interface ChildArgs {
  stores: Store[];
  callers: number;
}

/** The child's first line: which contenders it runs on each store, and which are n/a. */
export type Hello = Partial<
  Record<
    Store['kind'],
    { contenders: Array<{ id: string; name: string }>; notApplicable: NotApplicable[] }
  >
>;

/** One request line: run a burst with this contender on this cold key. */
export interface BurstRequest {
  store: Store['kind'];
  contender: string;
  key: string;
  creatorMs: number;
}
