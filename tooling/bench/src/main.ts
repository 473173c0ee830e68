import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { memoryHitCases } from './cases/memory-hit.js';
import { type CaseResult, runInterleaved } from './harness.js';
import { printTable } from './report.js';

const quick = process.argv.includes('--quick');
const iterations = quick ? 20_000 : 500_000;
const rounds = quick ? 3 : 15;

interface Group {
  title: string;
  baseline: string;
  results: CaseResult[];
}

const groups: Group[] = [];
const progress = (title: string) => (message: string) =>
  process.stderr.write(`\r  ${title}: ${message}   `);

process.stderr.write(
  `dogpile bench (${quick ? 'quick smoke run' : 'full run'}), node ${process.version}\n`,
);

const memoryHit = await runInterleaved(memoryHitCases(), {
  iterations,
  rounds,
  onProgress: progress('memory hit path'),
});
groups.push({
  title: 'Memory hit path (sequential awaited calls)',
  baseline: 'awaited Map.get',
  results: memoryHit,
});
process.stderr.write('\n');

for (const group of groups) printTable(group.title, group.baseline, group.results);

const out = join(
  dirname(fileURLToPath(import.meta.url)),
  '..',
  'bench-results',
  `${quick ? 'quick' : 'full'}.json`,
);
mkdirSync(dirname(out), { recursive: true });
writeFileSync(
  out,
  `${JSON.stringify({ date: new Date().toISOString(), node: process.version, quick, iterations, rounds, groups }, null, 2)}\n`,
);
console.log(`\nJSON: ${out}`);
