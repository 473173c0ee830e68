/**
 * One caching library, configured on one store, seen through the two calls the benchmarks need.
 * Each peer file adapts its library's own recommended call (getOrCreate, getOrSet, wrap, ...)
 * to this shape and nothing more, so the adapter itself costs no more than a function call.
 */
export interface Contender {
  /** Shown in the tables. */
  readonly name: string;
  /** A short slug used as a key prefix, so contenders sharing a server use distinct keys. */
  readonly id: string;
  /** The library's read-through call: the cached value, or the creator's (stored) result. */
  getOrCreate(key: string, creator: () => Promise<unknown>): Promise<unknown>;
  /** The library's own multi-key read, when it has one, and its name for the tables. */
  readonly multi?: { name: string; get(keys: readonly string[]): Promise<unknown[]> };
  close(): Promise<void>;
}

/** A contender that a store cannot have, shown as "n/a" with the reason. */
export interface NotApplicable {
  name: string;
  reason: string;
}

/** Which store a contender is built on. */
export type Store =
  | { kind: 'memory' }
  | { kind: 'redis'; url: string }
  | { kind: 'sqlite'; filename: string };

/** Builds a library's contender on a store, or says why the library has no such store. */
export type ContenderFactory = (store: Store) => Promise<Contender | NotApplicable>;

export function isContender(c: Contender | NotApplicable): c is Contender {
  return 'getOrCreate' in c;
}
