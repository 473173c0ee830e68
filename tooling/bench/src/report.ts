import type { Group, StampedeGroup, StampedeResult, TimingGroup } from './groups.js';
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

/** ns/op, spread, and two ratios: to the raw baseline, and to ours (above 1x: slower). */
export function printTimingGroup(group: TimingGroup): void {
  const base = group.results.find((r) => r.name === group.baseline)?.nsPerOp;
  const ours = group.results.find((r) => r.name === group.reference)?.nsPerOp;
  const ratio = (ns: number, to: number | undefined) => (to ? `${(ns / to).toFixed(2)}x` : '-');
  console.log(`\n${group.title}`);
  printRows(
    ['case', 'ns/op', 'min..max', 'vs baseline', 'vs dogpile'],
    group.results.map((r) => [
      r.name,
      fmt(r.nsPerOp),
      `${fmt(Math.min(...r.rounds))}..${fmt(Math.max(...r.rounds))}`,
      ratio(r.nsPerOp, base),
      ratio(r.nsPerOp, ours),
    ]),
  );
  printNotApplicable(group);
}

/** Creator runs per round as "n" when every round agrees, else "min-max". */
export function creatorRunsLabel(result: StampedeResult): string {
  const runs = result.rounds.map((r) => r.creatorRuns);
  const lo = Math.min(...runs);
  const hi = Math.max(...runs);
  return lo === hi ? `${lo}` : `${lo}-${hi}`;
}

/** Creator runs and the callers' latency, medians over rounds. */
export function printStampedeGroup(group: StampedeGroup): void {
  console.log(`\n${group.title}`);
  printRows(
    ['contender', 'creator runs', 'p50 ms', 'p99 ms', 'max ms', 'p99 - creator'],
    group.results.map((r) => {
      const p99 = median(r.rounds.map((x) => x.p99));
      return [
        r.name,
        creatorRunsLabel(r),
        fmt(median(r.rounds.map((x) => x.p50)), 1),
        fmt(p99, 1),
        fmt(median(r.rounds.map((x) => x.max)), 1),
        `${fmt(p99 - group.creatorMs, 1)} ms`,
      ];
    }),
  );
  printNotApplicable(group);
}

export function printGroup(group: Group): void {
  if (group.kind === 'timing') printTimingGroup(group);
  else printStampedeGroup(group);
}
