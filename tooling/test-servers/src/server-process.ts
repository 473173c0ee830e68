import { type ChildProcess, spawn } from 'node:child_process';
import { eventually } from './eventually.js';

/** A server child process started by this launcher. */
export interface ServerProcess {
  readonly child: ChildProcess;
  /** The last few kilobytes of the server's stdout and stderr, for error messages. */
  output(): string;
  /** Resolves once the process has exited. */
  readonly exited: Promise<void>;
  /** Whether the process has exited. */
  hasExited(): boolean;
  /** Terminates the process (SIGTERM, then SIGKILL after a grace period) and waits for the exit. */
  stop(): Promise<void>;
}

const OUTPUT_LIMIT = 8192;
const STOP_GRACE_MS = 1000;
const live = new Set<ChildProcess>();
let exitHookInstalled = false;

// A test run that ends without calling stop() (a crash, a forgotten afterAll) must not leave
// servers behind. 'exit' handlers must be synchronous, and kill() is.
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const child of live) child.kill('SIGKILL');
  });
}

/** Spawns `binary args` with its output captured, tracked so it is killed when this process exits. */
export function spawnServer(
  binary: string,
  args: readonly string[],
  cwd: string,
  env?: NodeJS.ProcessEnv,
): ServerProcess {
  installExitHook();
  const child = spawn(binary, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
  live.add(child);
  let output = '';
  const append = (chunk: Buffer) => {
    output = (output + chunk.toString('utf8')).slice(-OUTPUT_LIMIT);
  };
  child.stdout?.on('data', append);
  child.stderr?.on('data', append);
  let exited = false;
  const exitedPromise = new Promise<void>((resolve) => {
    const done = () => {
      exited = true;
      live.delete(child);
      resolve();
    };
    child.once('exit', done);
    child.once('error', (error) => {
      append(Buffer.from(`\n[spawn error] ${error.message}\n`));
      done();
    });
  });
  return {
    child,
    output: () => output,
    exited: exitedPromise,
    hasExited: () => exited,
    async stop() {
      if (exited) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
      timer.unref();
      await exitedPromise;
      clearTimeout(timer);
    },
  };
}

/** Polls `check` every `intervalMs` until it returns true; throws `describe()` after `timeoutMs`. */
export async function waitUntil(
  check: () => Promise<boolean>,
  timeoutMs: number,
  describe: () => string,
  intervalMs = 20,
): Promise<void> {
  if (!(await eventually(check, timeoutMs, intervalMs))) throw new Error(describe());
}
