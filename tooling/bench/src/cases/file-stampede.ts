import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ChildPool } from '../child-pool.js';
import type { StampedeGroup, StampedeResult } from '../groups.js';
import type { NotApplicable } from '../peers/contender.js';
import { type Burst, roundProgress, summarize } from '../stampede-burst.js';
import { FILE_CONTENDERS, type FileBurstRequest, type FileChildArgs } from './file-shared.js';
import type { StampedeOptions } from './stampede-in-process.js';

const WARMUP_CREATOR_MS = 20;

/**
 * A cold-key stampede across processes on one directory: `processes` children each fire
 * `callers` concurrent calls at the same cold key, for dogpile's FileBackend with its lock
 * directory watched (waiters woken by fs.watch), with watching off (waiters poll), and
 * bentocache's file driver (which locks within a process only: expect one creator run per
 * process from it).
 */
export async function fileStampede(
  processes: number,
  options: StampedeOptions,
): Promise<StampedeGroup> {
  const directory = mkdtempSync(join(tmpdir(), 'dogpile-bench-file-stampede-'));
  const args: FileChildArgs = { directory, callers: options.callers };
  const pool = await ChildPool.start(
    new URL('./file-stampede-child.ts', import.meta.url),
    processes,
    args,
  );
  try {
    const results: StampedeResult[] = FILE_CONTENDERS.map((c) => ({ name: c.name, rounds: [] }));
    const notApplicable: NotApplicable[] = [];
    const failed = new Set<string>();
    const run = Date.now().toString(36);
    for (let round = -options.warmup; round < options.rounds; round++) {
      for (const [i, contender] of FILE_CONTENDERS.entries()) {
        if (failed.has(contender.id)) continue;
        const request: FileBurstRequest = {
          contender: contender.id,
          key: `${contender.id}:xstampede:${run}:${round}`,
          creatorMs: round < 0 ? WARMUP_CREATOR_MS : options.creatorMs,
        };
        let bursts: Burst[];
        try {
          bursts = await pool.broadcast<Burst>(request);
        } catch (error) {
          // A library that cannot share a directory between processes (bentocache's file driver
          // writes files in place, so a reader in another process can see a half-written one):
          // shown with the reason instead of figures.
          failed.add(contender.id);
          notApplicable.push({
            name: contender.name,
            reason: `failed with ${processes} processes on one directory: ${String(error).split('\n')[0]}`,
          });
          continue;
        }
        if (round >= 0) results[i]!.rounds.push(summarize(bursts));
      }
      options.onProgress?.(roundProgress(round, options.warmup, options.rounds));
    }
    return {
      kind: 'stampede',
      title: `Cold-key stampede across processes: ${processes} processes x ${options.callers} callers, creator ${options.creatorMs} ms, one directory (medians of ${options.rounds} rounds)`,
      processes,
      callersPerProcess: options.callers,
      creatorMs: options.creatorMs,
      results: results.filter((_, i) => !failed.has(FILE_CONTENDERS[i]!.id)),
      notApplicable,
    };
  } finally {
    await pool.stop();
    rmSync(directory, { recursive: true, force: true });
  }
}
