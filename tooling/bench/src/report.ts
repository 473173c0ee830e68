import type { CaseResult } from './harness.js';

/** Prints one group as a table: ns/op, spread, and the ratio to the group's baseline. */
export function printTable(title: string, baseline: string, results: CaseResult[]): void {
  const base = results.find((r) => r.name === baseline)?.nsPerOp;
  const width = Math.max(...results.map((r) => r.name.length), 10);
  console.log(`\n${title}`);
  console.log(
    `  ${'case'.padEnd(width)}  ${'ns/op'.padStart(9)}  ${'min..max'.padStart(15)}  vs baseline`,
  );
  for (const r of results) {
    const min = Math.min(...r.rounds).toFixed(0);
    const max = Math.max(...r.rounds).toFixed(0);
    const ratio = base ? `${(r.nsPerOp / base).toFixed(2)}x` : '-';
    console.log(
      `  ${r.name.padEnd(width)}  ${r.nsPerOp.toFixed(1).padStart(9)}  ${`${min}..${max}`.padStart(15)}  ${ratio}`,
    );
  }
}
