import type { CaseResult } from './harness.js';
import type { NotApplicable } from './peers/contender.js';

/** Per-op timings of several contenders in one interleaved run, with ratios to a baseline. */
export interface TimingGroup {
  kind: 'timing';
  title: string;
  /** The case every ratio is taken against: the raw operation, no cache library. */
  baseline: string;
  /** Ours, for the second ratio column. */
  reference: string;
  results: CaseResult[];
  notApplicable: NotApplicable[];
  /** What one op is, for the first figure's column header (default `ns/op`; e.g. `ns/key`). */
  unit?: string;
}

/** One burst of concurrent callers on one cold key. */
export interface StampedeRound {
  creatorRuns: number;
  /**
   * Milliseconds from the start of the burst (in the process that ran it) to the first creator
   * run: what a caller waits before any work starts (lock, connection, first compile).
   */
  creatorStartMs?: number;
  /** Caller latencies in milliseconds. */
  p50: number;
  p99: number;
  max: number;
}

export interface StampedeResult {
  name: string;
  rounds: StampedeRound[];
}

/** How often the creator ran, and what the callers waited, per contender. */
export interface StampedeGroup {
  kind: 'stampede';
  title: string;
  processes: number;
  callersPerProcess: number;
  creatorMs: number;
  results: StampedeResult[];
  notApplicable: NotApplicable[];
}

/** One burst of a cost curve: the stampede figures plus the burst's wall time. */
export interface CurveRound extends StampedeRound {
  /** From the first call to the last caller's answer, milliseconds. */
  wallMs: number;
  /** How long the creator itself took (its timer fires late by a little), milliseconds. */
  creatorActualMs: number;
}

/** One contender at one number of callers. */
export interface CurveResult {
  name: string;
  callers: number;
  rounds: CurveRound[];
}

/** A stampede repeated at growing numbers of callers, to show the per-caller cost stays flat. */
export interface CurveGroup {
  kind: 'curve';
  title: string;
  creatorMs: number;
  results: CurveResult[];
  notApplicable: NotApplicable[];
}

export type Group = TimingGroup | StampedeGroup | CurveGroup;

/** Why a group counts as not run: it threw, or some case has no (finite) measurement. */
export function missingSamples(group: Group): string[] {
  const problems: string[] = [];
  for (const r of group.results) {
    if (r.rounds.length === 0) problems.push(`${r.name}: no samples`);
    else if (group.kind === 'timing') {
      const ok = (r as CaseResult).rounds.every((ns) => Number.isFinite(ns) && ns > 0);
      if (!ok) problems.push(`${r.name}: a round has no valid timing`);
    } else {
      // A cold key always needs at least one creator run; zero means the key was not cold.
      const ok = (r as StampedeResult | CurveResult).rounds.every(
        (round) => round.creatorRuns >= 1 && Number.isFinite(round.p99),
      );
      if (!ok) problems.push(`${r.name}: a round has no creator run or no latency`);
    }
  }
  if (group.results.length === 0) problems.push('no case ran');
  return problems;
}
