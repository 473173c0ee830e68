import { type ChildProcess, fork } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { ValidationError } from '@dogpile/core';
import { afterAll, describe, expect, it, type TestContext } from 'vitest';
import type { ChildMessage, Outcome, ParentMessage } from './child/protocol.js';
import { type Resolved, resolveOptions } from './harness.js';
import type { BackendHints, ConformanceOptions } from './options.js';

const TS_FILE = /\.[cm]?tsx?$/i;

function toPath(location: string): string {
  return location.startsWith('file:') ? fileURLToPath(location) : location;
}

/**
 * The child entry: `dist/child/worker.js` when the kit runs built, `src/child/worker.ts` when its
 * own tests run it from source.
 */
function workerEntry(): { path: string; typescript: boolean } {
  for (const [file, typescript] of [
    ['./child/worker.js', false],
    ['./child/worker.ts', true],
  ] as const) {
    const path = fileURLToPath(new URL(file, import.meta.url));
    if (existsSync(path)) return { path, typescript };
  }
  throw new Error(
    `The conformance kit's child entry is missing next to ${import.meta.url}; rebuild the package.`,
  );
}

/** tsx's loader as a URL for `--import`, resolved from the module, the working directory, then the kit. */
function findTsx(module: string | undefined): string {
  const bases = [module && toPath(module), join(process.cwd(), 'noop.js'), import.meta.url].filter(
    (base): base is string => typeof base === 'string' && base !== '',
  );
  for (const base of bases) {
    try {
      return pathToFileURL(createRequire(base).resolve('tsx')).href;
    } catch {
      // try the next place
    }
  }
  throw new ValidationError(
    'The cross-process suite must load a TypeScript module in child processes, which needs tsx: install it (npm i -D tsx), or point crossProcess.factoryModule to compiled JavaScript.',
  );
}

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** One child process running the kit's worker, and what it has said so far. */
class Child {
  readonly process: ChildProcess;
  readonly exited: Promise<Exit>;
  readonly #inbox: ChildMessage[] = [];
  readonly #waiters = new Set<() => void>();
  #output = '';
  #exit: Exit | undefined;

  constructor(
    readonly index: number,
    entry: string,
    execArgv: string[],
  ) {
    this.process = fork(entry, [], {
      execArgv,
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      env: { ...process.env, DOGPILE_CONFORMANCE_CHILD: String(index) },
    });
    const collect = (chunk: Buffer) => {
      this.#output = (this.#output + chunk.toString()).slice(-4000);
    };
    this.process.stdout?.on('data', collect);
    this.process.stderr?.on('data', collect);
    this.process.on('message', (message) => {
      this.#inbox.push(message as ChildMessage);
      this.#wake();
    });
    // 'exit' can come before the last IPC messages are delivered; only once the channel is also
    // disconnected is everything the child sent in the inbox.
    this.exited = new Promise((resolve) => {
      let exit: Exit | undefined;
      const settle = () => {
        if (exit === undefined || this.process.connected) return;
        this.#exit = exit;
        this.#wake();
        resolve(exit);
      };
      this.process.on('exit', (code, signal) => {
        exit = { code, signal };
        settle();
      });
      this.process.on('disconnect', settle);
    });
    this.process.on('error', (error) => {
      this.#output += `\n[spawn error] ${error.message}`;
    });
  }

  get pid(): number {
    return this.process.pid ?? -1;
  }

  #wake(): void {
    for (const waiter of this.#waiters) waiter();
  }

  /** The output of the child so far, for failure messages. */
  get output(): string {
    return this.#output.trim() === '' ? '(no output)' : this.#output.trim();
  }

  send(message: ParentMessage): void {
    this.process.send(message);
  }

  /** The next message of `type`; rejects if the child fails, exits or takes longer than `ms`. */
  next<T extends ChildMessage['type']>(
    type: T,
    ms: number,
  ): Promise<Extract<ChildMessage, { type: T }>> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const index = this.#inbox.findIndex((m) => m.type === type || m.type === 'fatal');
        if (index >= 0) {
          const [message] = this.#inbox.splice(index, 1);
          if (message!.type === 'fatal') {
            return done(
              new Error(`child ${this.index} failed: ${message!.message}\n${this.output}`),
            );
          }
          return done(undefined, message as Extract<ChildMessage, { type: T }>);
        }
        if (this.#exit !== undefined) {
          done(
            new Error(
              `child ${this.index} exited (code ${this.#exit.code}, signal ${this.#exit.signal}) before sending "${type}"\n${this.output}`,
            ),
          );
        }
      };
      const timer = setTimeout(
        () =>
          done(new Error(`child ${this.index} sent no "${type}" within ${ms} ms\n${this.output}`)),
        ms,
      );
      const done = (error?: Error, message?: Extract<ChildMessage, { type: T }>) => {
        clearTimeout(timer);
        this.#waiters.delete(check);
        if (error) reject(error);
        else resolve(message!);
      };
      this.#waiters.add(check);
      check();
    });
  }

  kill(): void {
    if (this.#exit === undefined && this.process.exitCode === null) this.process.kill('SIGKILL');
  }
}

/** Every child still running, so none outlives the suite whatever happens. */
const living = new Set<Child>();

/**
 * Registers the cross-process suite: P child processes x C callers on a cold key with a slow
 * creator (exactly once in total with a distributed mutex, at most once per process without),
 * a lock holder SIGKILLed mid-creation (distributed mutex with lockTtlMs), and a child that
 * closes its backend exiting by itself.
 */
export function crossProcessSuite(options: ConformanceOptions): void {
  registerCrossProcessSuite(resolveOptions(options));
}

export function registerCrossProcessSuite(o: Resolved): void {
  const { caps } = o;
  const x = o.crossProcess;

  describe(`${o.name}: cross-process`, () => {
    if (x === undefined) {
      it.skip('not applicable: no crossProcess options (factoryModule or registeredBackend)', () => {});
      return;
    }
    if (!caps.stores || caps.mutex === false) {
      it.skip(`not applicable: capabilities say ${caps.stores ? 'mutex: false' : 'stores: false'}`, () => {});
      return;
    }

    afterAll(() => {
      for (const child of living) child.kill();
    });

    const spawnChildren = async (
      ctx: TestContext,
      count: number,
      hints: BackendHints,
    ): Promise<Child[]> => {
      const entry = workerEntry();
      const module = x.factoryModule ?? x.registeredBackend!.module;
      const typescript = entry.typescript || TS_FILE.test(module);
      const execArgv = typescript ? ['--import', findTsx(module)] : [];
      const children = Array.from({ length: count }, (_, i) => new Child(i, entry.path, execArgv));
      for (const child of children) living.add(child);
      ctx.onTestFinished(async () => {
        for (const child of children) {
          child.kill();
          await child.exited;
          living.delete(child);
        }
      });
      for (const child of children) {
        child.send({
          type: 'init',
          factoryModule: x.factoryModule,
          registeredBackend: x.registeredBackend,
          hints,
        });
      }
      // The barrier: nobody starts before every child has built its backend.
      await Promise.all(children.map((child) => child.next('ready', x.timeoutMs / 2)));
      return children;
    };

    /** Waits until each child closed its backend and exited on its own. */
    const expectCleanExits = async (children: Child[]) => {
      await Promise.all(children.map((child) => child.next('closed', x.timeoutMs / 2)));
      for (const child of children) {
        let timer: NodeJS.Timeout | undefined;
        const exit = await Promise.race([
          child.exited,
          new Promise<undefined>((resolve) => {
            timer = setTimeout(() => resolve(undefined), 10_000);
          }),
        ]);
        clearTimeout(timer);
        expect(
          exit,
          `child ${child.index} did not exit within 10 s of closing its backend: close() leaves handles open\n${child.output}`,
        ).toEqual({ code: 0, signal: null });
      }
    };

    const key = (name: string) => `${o.keyPrefix}cross-process:${name}:${Date.now()}`;

    it(
      'close() leaves no open handles: a child process exits by itself after closing its backend',
      async (ctx) => {
        const [child] = await spawnChildren(ctx, 1, {});
        child!.send({ type: 'use', key: key('use') });
        await child!.next('results', x.timeoutMs / 2);
        await expectCleanExits([child!]);
      },
      x.timeoutMs,
    );

    const distributed = caps.mutex === 'distributed';
    it(
      `${x.processes} processes x ${x.callersPerProcess} callers on a cold key: the creator runs ${
        distributed ? 'exactly once in total' : 'at most once per process'
      }`,
      async (ctx) => {
        const children = await spawnChildren(ctx, x.processes, {});
        const raceKey = key('race');
        for (const child of children) {
          child.send({
            type: 'race',
            key: raceKey,
            callers: x.callersPerProcess,
            creatorMs: x.creatorMs,
          });
        }
        const results = await Promise.all(
          children.map((child) => child.next('results', x.timeoutMs)),
        );
        const created = new Set(results.flatMap((result) => result.created));
        results.forEach((result, i) => {
          expect(errorsOf(result.outcomes), `errors in child ${i}`).toEqual([]);
          expect(result.outcomes, `outcomes of child ${i}`).toHaveLength(x.callersPerProcess);
          if (!distributed) {
            expect(result.creatorStarts.length, `creator runs in child ${i}`).toBeLessThanOrEqual(
              1,
            );
          }
          for (const outcome of result.outcomes) {
            if (outcome.ok)
              expect(
                created.has(outcome.value.token),
                `child ${i} got a value nobody created`,
              ).toBe(true);
          }
        });
        const runs = results.reduce((sum, result) => sum + result.creatorStarts.length, 0);
        if (distributed) {
          expect(runs, `creator runs over ${x.processes} processes`).toBe(1);
          const tokens = new Set(
            results.flatMap((result) =>
              result.outcomes.map((outcome) => outcome.ok && outcome.value.token),
            ),
          );
          expect(tokens.size, 'distinct values handed out').toBe(1);
        } else {
          expect(runs, `creator runs over ${x.processes} processes`).toBeGreaterThanOrEqual(1);
        }
        await expectCleanExits(children);
      },
      x.timeoutMs * 2,
    );

    if (distributed && caps.lockTtlMs !== undefined) {
      const ttl = caps.lockTtlMs;
      it(
        `a lock holder SIGKILLed mid-creation: another process takes over after the lock TTL (${ttl} ms)`,
        async (ctx) => {
          const processes = Math.max(x.processes, 2);
          const [victim, ...survivors] = await spawnChildren(ctx, processes, { lockTtlMs: ttl });
          const holdKey = key('sigkill');
          victim!.send({ type: 'hold', key: holdKey });
          const { at: creatingAt } = await victim!.next('creating', x.timeoutMs / 2);
          // The survivors start waiting while the victim holds the lock, then the victim dies.
          const creatorMs = Math.max(1, Math.min(x.creatorMs, Math.floor(ttl / 4)));
          for (const child of survivors) {
            child.send({ type: 'race', key: holdKey, callers: x.callersPerProcess, creatorMs });
          }
          victim!.kill();
          expect((await victim!.exited).signal).toBe('SIGKILL');
          const results = await Promise.all(
            survivors.map((child) => child.next('results', x.timeoutMs)),
          );
          const created = new Set(results.flatMap((result) => result.created));
          results.forEach((result, i) => {
            const unexpected = errorsOf(result.outcomes).filter(
              (error) => error.code !== 'ERR_LOCK_TIMEOUT',
            );
            expect(
              unexpected,
              `survivor ${i + 1}: callers must get a value or a LockTimeoutError`,
            ).toEqual([]);
            for (const outcome of result.outcomes) {
              if (outcome.ok) {
                expect(outcome.value.pid, 'a value from the killed holder').not.toBe(victim!.pid);
                expect(
                  created.has(outcome.value.token),
                  `survivor ${i + 1} got a value nobody created`,
                ).toBe(true);
              }
            }
          });
          const starts = results.flatMap((result) => result.creatorStarts);
          expect(
            starts.length,
            'creator runs in the surviving processes (nobody took over)',
          ).toBeGreaterThanOrEqual(1);
          expect(
            Math.min(...starts) - creatingAt,
            'ms between the victim taking the lock and a survivor creating (they must wait for the TTL)',
          ).toBeGreaterThanOrEqual(ttl / 2);
          await expectCleanExits(survivors);
        },
        x.timeoutMs * 2,
      );
    }
  });
}

function errorsOf(outcomes: Outcome[]): Array<Extract<Outcome, { ok: false }>> {
  return outcomes.filter((outcome): outcome is Extract<Outcome, { ok: false }> => !outcome.ok);
}
