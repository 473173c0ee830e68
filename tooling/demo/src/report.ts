/**
 * Turning the workers' results into the demo's terminal output: one summary per scenario, a
 * table, and a closing sentence on what the dogpile lock did.
 */
import type { Scenario, WorkerResult } from './protocol.js';

// Colour only for a person at a terminal, and never when they asked for none (no-color.org).
const colour = process.stdout.isTTY === true && !process.env.NO_COLOR;
const paint = (open: number, close: number) => (s: string) =>
  colour ? `\x1b[${open}m${s}\x1b[${close}m` : s;
const bold = paint(1, 22);
const dim = paint(2, 22);
const red = paint(31, 39);
const green = paint(32, 39);
const yellow = paint(33, 39);

/** One scenario's results, all workers together. */
export interface Summary {
  scenario: Scenario;
  creatorRuns: number;
  requests: number;
  /** Sorted ascending, in milliseconds. */
  latencies: number[];
  distinctValues: number;
  /** How long after the last creator run returned the slowest request had its value. */
  lastValueAfterCreatorMs: number;
  /** How far apart the workers' requests started, in milliseconds. */
  startSpreadMs: number;
}

export function summarize(scenario: Scenario, results: WorkerResult[]): Summary {
  const latencies = results.flatMap((r) => r.latencies).sort((a, b) => a - b);
  const creatorEnds = results.flatMap((r) => r.creatorEnds);
  const finishedAt = results.flatMap((r) => r.finishedAt);
  const fired = results.map((r) => r.firedAt);
  return {
    scenario,
    creatorRuns: results.reduce((sum, r) => sum + r.creatorRuns, 0),
    requests: latencies.length,
    latencies,
    distinctValues: new Set(results.flatMap((r) => r.values)).size,
    lastValueAfterCreatorMs: Math.max(...finishedAt) - Math.max(...creatorEnds),
    startSpreadMs: Math.max(...fired) - Math.min(...fired),
  };
}

/** The nearest-rank percentile of an ascending array. */
export function percentile(sorted: number[], p: number): number {
  return sorted[
    Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))
  ]!;
}

const LABELS: Record<Scenario, string> = {
  'cache-aside': 'no lock: get, on a miss create and set',
  'local-lock': 'a lock within each process only',
  dogpile: 'dogpile: getOrCreate, lock in the SQLite file',
};

const count = (n: number) => n.toLocaleString('en-US');
const ms = (n: number) => `${n.toFixed(1)} ms`;

export function printHeader(workers: number, callersPerWorker: number, creatorMs: number): void {
  const total = count(workers * callersPerWorker);
  console.log(`\n${bold('dogpile demo')}: a cold-key stampede on the embedded SQLite backend`);
  console.log(
    dim(
      `${workers} processes share one SQLite file. Each fires ${callersPerWorker} concurrent requests for the same\n` +
        `missing key (${total} in all, at the same instant), and computing its value takes ${creatorMs} ms.\n`,
    ),
  );
}

export function printTable(summaries: Summary[]): void {
  const labelWidth = Math.max(...summaries.map((s) => LABELS[s.scenario].length));
  const columns = ['creator runs', 'latency p50', 'p99', 'max'];
  const widths = [12, 11, 9, 9];
  const row = (label: string, cells: string[]) =>
    `  ${label.padEnd(labelWidth)}  ${cells.map((c, i) => c.padStart(widths[i]!)).join('  ')}`;
  console.log(dim(row('', columns)));
  for (const s of summaries) {
    const runs = count(s.creatorRuns).padStart(widths[0]!);
    const tint = s.creatorRuns === 1 ? green : s.creatorRuns < s.requests ? yellow : red;
    const line = row(LABELS[s.scenario], [
      '',
      ms(percentile(s.latencies, 50)),
      ms(percentile(s.latencies, 99)),
      ms(s.latencies.at(-1)!),
    ]);
    // The runs column is coloured after padding, so escape codes do not upset the alignment.
    const at = 2 + labelWidth + 2;
    console.log(line.slice(0, at) + bold(tint(runs)) + line.slice(at + widths[0]!));
  }
  console.log('');
}

/** The closing lines; returns whether the dogpile lock did its job. */
export function printVerdict(dogpile: Summary, workers: number, creatorMs: number): boolean {
  if (dogpile.creatorRuns !== 1 || dogpile.distinctValues !== 1) {
    console.log(
      red(
        `  ✗ With the dogpile lock the creator ran ${dogpile.creatorRuns} times and handed out ` +
          `${dogpile.distinctValues} different values; it should be once and one. This is a bug.\n`,
      ),
    );
    return false;
  }
  const p99 = percentile(dogpile.latencies, 99);
  const lastValue = Math.max(0, dogpile.lastValueAfterCreatorMs);
  console.log(
    `  ${green('✓')} The creator ran once for all ${count(dogpile.requests)} requests. The ${count(dogpile.requests - 1)} others, in ${workers} processes,\n` +
      `    waited and had its value at most ${bold(ms(lastValue))} after it finished: ` +
      `p99 is the ${creatorMs} ms creator ${bold(`+ ${ms(p99 - creatorMs)}`)}.`,
  );
  console.log(
    dim(
      '    Without a lock every request does the work; a lock in each process does it once per process.\n' +
        `    All ${count(dogpile.requests)} requests started within ${ms(dogpile.startSpreadMs)} of each other.\n`,
    ),
  );
  return true;
}

/** A transient progress line at a terminal, overwritten by the next output; nothing elsewhere. */
export function status(text: string | undefined): void {
  if (!process.stdout.isTTY) return;
  process.stdout.write(text === undefined ? '\r\x1b[2K' : `\r\x1b[2K  ${dim(text)}`);
}

export function printFailure(error: unknown): void {
  status(undefined);
  const message = error instanceof Error ? error.message : String(error);
  console.error(red(`  ✗ The demo failed: ${message}\n`));
}

export function printInterrupted(): void {
  console.log(dim('\n  Interrupted: the workers are stopped and the temporary files removed.\n'));
}
