/**
 * What the demo's parent and its worker processes agree on: the stampede's size, the three ways
 * of answering it, and the IPC messages between them.
 */

export const WORKERS = 4;
export const CALLERS_PER_WORKER = 250;
export const CREATOR_MS = 300;

/** The three ways of serving the same stampede, in the order the demo runs them. */
export const SCENARIOS = ['cache-aside', 'local-lock', 'dogpile'] as const;
export type Scenario = (typeof SCENARIOS)[number];

/** Given to each worker on its command line. */
export interface WorkerConfig {
  index: number;
  filename: string;
  callers: number;
  creatorMs: number;
}

/** Parent to worker. `startAt` is a wall-clock time shared by every process on the host. */
export type Command =
  | { type: 'run'; scenario: Scenario; key: string; startAt: number }
  | { type: 'stop' };

/** What one worker saw of one stampede. Times are milliseconds on the shared wall clock. */
export interface WorkerResult {
  scenario: Scenario;
  /** How many times this worker ran the creator. */
  creatorRuns: number;
  /** When each of this worker's creator runs returned. */
  creatorEnds: number[];
  /** When this worker actually fired its requests (its start timer can fire a little late). */
  firedAt: number;
  /** Each request's latency, from its call to its value. */
  latencies: number[];
  /** When each request got its value. */
  finishedAt: number[];
  /** The distinct values this worker's requests got. */
  values: string[];
}

/** Worker to parent. */
export type Report =
  | { type: 'ready' }
  | { type: 'result'; result: WorkerResult }
  | { type: 'failed'; message: string };

/** Milliseconds since the epoch, with sub-millisecond precision, comparable across processes. */
export const wallClock = (): number => performance.timeOrigin + performance.now();
