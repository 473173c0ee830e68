import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

/** A reply slower than this is a hang (a stampede round takes well under a second). */
const REPLY_TIMEOUT_MS = 60_000;

const live = new Set<ChildProcess>();
// A safety net: whatever way the bench ends, no child outlives it.
process.on('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

/**
 * Child processes running one TypeScript script (through tsx), driven one JSON line at a time
 * over stdin/stdout. Each child answers every request line with one JSON line.
 */
export class ChildPool {
  readonly #children: ChildProcess[] = [];
  readonly #lines: Array<AsyncIterator<string>> = [];
  /** The first line of the first child: what it announced once ready. */
  hello: unknown;

  private constructor() {}

  /** Starts `count` children of `script` with `arg`, and waits until each prints its first line. */
  static async start(script: URL, count: number, arg: unknown): Promise<ChildPool> {
    const pool = new ChildPool();
    const tsx = import.meta.resolve('tsx');
    try {
      for (let i = 0; i < count; i++) {
        const child = spawn(
          process.execPath,
          ['--import', tsx, fileURLToPath(script), JSON.stringify(arg)],
          { stdio: ['pipe', 'pipe', 'inherit'] },
        );
        // A write to a child that died fails with EPIPE; the missing reply reports it instead.
        child.stdin!.on('error', () => {});
        live.add(child);
        child.once('exit', () => live.delete(child));
        pool.#children.push(child);
        pool.#lines.push(createInterface({ input: child.stdout! })[Symbol.asyncIterator]());
      }
      [pool.hello] = await Promise.all(pool.#children.map((_, i) => pool.#next(i)));
      return pool;
    } catch (error) {
      await pool.stop();
      throw error;
    }
  }

  get size(): number {
    return this.#children.length;
  }

  async #next(i: number): Promise<unknown> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`child ${i} gave no answer in ${REPLY_TIMEOUT_MS / 1000} s`)),
        REPLY_TIMEOUT_MS,
      );
    });
    try {
      const line = await Promise.race([this.#lines[i]!.next(), timeout]);
      if (line.done)
        throw new Error(`child ${i} exited early (code ${this.#children[i]!.exitCode})`);
      const reply = JSON.parse(line.value) as { error?: string };
      if (reply.error) throw new Error(`child ${i}: ${reply.error}`);
      return reply;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Sends `request` to every child at once and resolves with their replies, in child order. */
  async broadcast<T>(request: unknown): Promise<T[]> {
    const line = `${JSON.stringify(request)}\n`;
    for (const child of this.#children) child.stdin!.write(line);
    return (await Promise.all(this.#children.map((_, i) => this.#next(i)))) as T[];
  }

  /**
   * Closes every child's stdin (a child then closes its connections and exits), and kills those
   * still running a second later.
   */
  async stop(): Promise<void> {
    await Promise.all(
      this.#children.map(async (child) => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
        child.stdin?.end();
        const timer = setTimeout(() => child.kill('SIGKILL'), 1000);
        await exited;
        clearTimeout(timer);
      }),
    );
  }
}
