import type {
  CurveGroup,
  Group,
  StampedeGroup,
  StampedeResult,
  StampedeRound,
  TimingGroup,
} from './groups.js';
import { median } from './harness.js';

const fmt = (n: number, digits = 0) =>
  n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });

/** A plain-text table: first column left-aligned, the others right-aligned. */
function printRows(header: string[], rows: string[][]): void {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) =>
    `  ${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ')}`;
  console.log(line(header));
  for (const row of rows) console.log(line(row));
}

function printNotApplicable(group: Group): void {
  for (const na of group.notApplicable) console.log(`  n/a  ${na.name}: ${na.reason}`);
}

/**
 * ns/op, spread (the slowest round is the tail), and two ratios: to the raw baseline, and to
 * ours (above 1x: slower). A row naming its own baseline or reference is divided by those.
 */
export function printTimingGroup(group: TimingGroup): void {
  const ns = (name: string | undefined) => group.results.find((r) => r.name === name)?.nsPerOp;
  const ratio = (value: number, to: number | undefined) =>
    to ? `${(value / to).toFixed(2)}x` : '-';
  console.log(`\n${group.title}`);
  printRows(
    ['case', group.unit ?? 'ns/op', 'min..max', 'vs baseline', 'vs dogpile'],
    group.results.map((r) => [
      r.name,
      fmt(r.nsPerOp),
      `${fmt(Math.min(...r.rounds))}..${fmt(Math.max(...r.rounds))}`,
      ratio(r.nsPerOp, ns(r.baseline ?? group.baseline)),
      ratio(r.nsPerOp, ns(r.reference ?? group.reference)),
    ]),
  );
  printNotApplicable(group);
}

/** Creator runs per round as "n" when every round agrees, else "min-max". */
export function creatorRunsLabel(result: Pick<StampedeResult, 'rounds'>): string {
  const runs = result.rounds.map((r) => r.creatorRuns);
  const lo = Math.min(...runs);
  const hi = Math.max(...runs);
  return lo === hi ? `${lo}` : `${lo}-${hi}`;
}

/** The median delay before the first creator run, in ms ("-" when not recorded). */
function creatorStartLabel(rounds: readonly StampedeRound[]): string {
  const starts = rounds.flatMap((x) => (x.creatorStartMs === undefined ? [] : [x.creatorStartMs]));
  return starts.length === 0 ? '-' : `${fmt(median(starts), 1)} ms`;
}

/** Creator runs and the callers' latency: medians over rounds, then the worst round's tail. */
export function printStampedeGroup(group: StampedeGroup): void {
  console.log(`\n${group.title}`);
  printRows(
    [
      'contender',
      'creator runs',
      'creator starts',
      'p50 ms',
      'p99 ms',
      'max ms',
      'p99 - creator',
      'worst round: p99 - creator',
      'max ms',
    ],
    group.results.map((r) => {
      const p99 = median(r.rounds.map((x) => x.p99));
      return [
        r.name,
        creatorRunsLabel(r),
        creatorStartLabel(r.rounds),
        fmt(median(r.rounds.map((x) => x.p50)), 1),
        fmt(p99, 1),
        fmt(median(r.rounds.map((x) => x.max)), 1),
        `${fmt(p99 - group.creatorMs, 1)} ms`,
        `${fmt(Math.max(...r.rounds.map((x) => x.p99)) - group.creatorMs, 1)} ms`,
        fmt(Math.max(...r.rounds.map((x) => x.max)), 1),
      ];
    }),
  );
  printNotApplicable(group);
}

/**
 * Per caller: (wall time - the creator's own time) / callers, median and worst round, and the
 * callers' p99 - creator, median and worst round.
 */
export function printCurveGroup(group: CurveGroup): void {
  console.log(`\n${group.title}`);
  const perCaller = (x: { wallMs: number; creatorActualMs: number }, callers: number) =>
    ((x.wallMs - x.creatorActualMs) * 1e6) / callers;
  printRows(
    [
      'contender',
      'callers',
      'creator runs',
      'wall ms',
      'ns/caller',
      'worst',
      'p99 - creator',
      'worst',
    ],
    group.results.map((r) => {
      const cost = r.rounds.map((x) => perCaller(x, r.callers));
      const tail = r.rounds.map((x) => x.p99 - group.creatorMs);
      return [
        r.name,
        fmt(r.callers),
        creatorRunsLabel(r),
        fmt(median(r.rounds.map((x) => x.wallMs)), 1),
        fmt(median(cost)),
        fmt(Math.max(...cost)),
        `${fmt(median(tail), 2)} ms`,
        `${fmt(Math.max(...tail), 2)} ms`,
      ];
    }),
  );
  printNotApplicable(group);
}

export function printGroup(group: Group): void {
  if (group.kind === 'timing') printTimingGroup(group);
  else if (group.kind === 'curve') printCurveGroup(group);
  else printStampedeGroup(group);
}
