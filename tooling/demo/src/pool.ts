/**
 * The parent's side of the worker processes: starting them, sending every one the same command,
 * collecting their reports, and making sure none outlives the demo.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import {
  type Command,
  type Report,
  type Scenario,
  type WorkerConfig,
  type WorkerResult,
  wallClock,
} from './protocol.js';

const WORKER = fileURLToPath(new URL('./worker.js', import.meta.url));

/** How long after the `run` command the requests start, so every worker has it in time. */
const START_DELAY_MS = 60;

interface Worker {
  index: number;
  child: ChildProcess;
  /** What the worker wrote to stderr, shown only if something fails. */
  stderr: string[];
  reports: Report[];
  onReport: (() => void) | undefined;
}

export class WorkerPool {
  readonly #workers: Worker[];
  #failure: Error | undefined;
  #stopping = false;

  constructor(configs: WorkerConfig[]) {
    this.#workers = configs.map((config) => {
      const child = fork(WORKER, [JSON.stringify(config)], {
        // None of the parent's node flags: an inherited --inspect would fight over its port.
        execArgv: [],
        stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
      });
      const worker: Worker = {
        index: config.index,
        child,
        stderr: [],
        reports: [],
        onReport: undefined,
      };
      child.stderr?.setEncoding('utf8').on('data', (chunk: string) => worker.stderr.push(chunk));
      child.on('message', (report: Report) => {
        if (report.type === 'failed') this.#fail(worker, report.message);
        else {
          worker.reports.push(report);
          worker.onReport?.();
        }
      });
      child.on('exit', (code, signal) => {
        if (!this.#stopping)
          this.#fail(worker, `exited unexpectedly (${signal ?? `code ${code}`})`);
      });
      child.on('error', (error) => this.#fail(worker, error.message));
      return worker;
    });
  }

  /** Resolves once every worker has opened the file and is waiting for a command. */
  async ready(): Promise<void> {
    await Promise.all(this.#workers.map((worker) => this.#next(worker, 'ready')));
  }

  /**
   * Has every worker fire its requests for `key` at the same wall-clock instant, and resolves
   * with each worker's result.
   */
  async run(scenario: Scenario, key: string): Promise<WorkerResult[]> {
    const command: Command = { type: 'run', scenario, key, startAt: wallClock() + START_DELAY_MS };
    for (const worker of this.#workers) worker.child.send(command);
    const reports = await Promise.all(this.#workers.map((worker) => this.#next(worker, 'result')));
    return reports.map((report) => (report as Extract<Report, { type: 'result' }>).result);
  }

  /**
   * Stops every worker: politely first, so each closes its connections, then by force. Safe to
   * call more than once and after a failure; resolves when no worker process is left.
   */
  async stop(): Promise<void> {
    this.#stopping = true;
    await Promise.all(
      this.#workers.map(async ({ child }) => {
        if (!running(child)) return;
        const exited = exitOf(child);
        if (child.connected) child.send({ type: 'stop' } satisfies Command);
        const timer = setTimeout(() => child.kill('SIGKILL'), 1000);
        await exited;
        clearTimeout(timer);
      }),
    );
  }

  /** Kills every worker at once and resolves when they are gone, e.g. on Ctrl-C. */
  async kill(): Promise<void> {
    this.#stopping = true;
    await Promise.all(
      this.#workers.map(async ({ child }) => {
        if (!running(child)) return;
        const exited = exitOf(child);
        child.kill('SIGKILL');
        await exited;
      }),
    );
  }

  /** Sends SIGKILL to every worker still running, synchronously, for a process that is exiting. */
  killAll(): void {
    this.#stopping = true;
    for (const { child } of this.#workers) if (running(child)) child.kill('SIGKILL');
  }

  #fail(worker: Worker, message: string): void {
    if (this.#failure) return;
    const stderr = worker.stderr.join('').trim();
    this.#failure = new Error(
      `worker ${worker.index} (pid ${worker.child.pid}): ${message}${stderr ? `\n${stderr}` : ''}`,
    );
    // Every pending wait must hear of it, not only the failed worker's: the run is over.
    for (const other of this.#workers) other.onReport?.();
  }

  /** The worker's first unconsumed report of `type`; rejects as soon as any worker fails. */
  #next(worker: Worker, type: Report['type']): Promise<Report> {
    return new Promise<Report>((resolve, reject) => {
      const check = () => {
        if (this.#failure) {
          worker.onReport = undefined;
          reject(this.#failure);
          return;
        }
        const at = worker.reports.findIndex((report) => report.type === type);
        if (at === -1) return;
        worker.onReport = undefined;
        resolve(worker.reports.splice(at, 1)[0]!);
      };
      worker.onReport = check;
      check();
    });
  }
}

function running(child: ChildProcess): boolean {
  return child.exitCode === null && child.signalCode === null;
}

function exitOf(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => child.once('exit', () => resolve()));
}
