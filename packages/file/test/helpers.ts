import { execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { type ErrorEvent, errorChannel } from '@dogpile/core';
import { afterEach } from 'vitest';

/**
 * A fresh temporary directory, removed after the current test (register in the test file's
 * top level, so the afterEach hook belongs to it).
 */
export function useTempDirs(): () => string {
  const dirs: string[] = [];
  afterEach(() => {
    for (const dir of dirs.splice(0)) {
      makeWritable(dir);
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
  return () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dogpile-file-test-'));
    dirs.push(dir);
    return dir;
  };
}

/** Collects what is reported on the `dogpile:error` channel while a test runs. */
export function useErrorEvents(): ErrorEvent[] {
  const events: ErrorEvent[] = [];
  const listener = (message: unknown) => events.push(message as ErrorEvent);
  errorChannel.subscribe(listener);
  afterEach(() => {
    events.length = 0;
  });
  return events;
}

const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;

/**
 * Makes `dir` refuse writes by this process: `chmod 555` for an ordinary user; as root (whom
 * permissions do not stop) the immutable attribute (`chattr +i`). Returns how, or `undefined` with
 * the reason when neither works here.
 */
export function makeReadOnly(dir: string): { how: string } | { skip: string } {
  if (!isRoot) {
    fs.chmodSync(dir, 0o555);
    return { how: 'chmod 555' };
  }
  try {
    execFileSync('chattr', ['+i', dir], { stdio: 'ignore' });
  } catch (error) {
    return {
      skip: `running as root, where chmod does not deny writes, and chattr +i failed (${(error as Error).message}): no way to make a directory read-only here`,
    };
  }
  return { how: 'chattr +i (running as root)' };
}

/** Undoes {@link makeReadOnly}. */
export function makeWritable(dir: string): void {
  if (isRoot) {
    try {
      execFileSync('chattr', ['-i', dir], { stdio: 'ignore' });
    } catch {
      // not immutable, or no chattr
    }
  }
  try {
    fs.chmodSync(dir, 0o700);
  } catch {
    // already gone
  }
}

/** A child process printing lines on stdout; `line(x)` waits for a line. */
export interface LineChild {
  process: ReturnType<typeof spawn>;
  lines: string[];
  line(text: string, timeoutMs?: number): Promise<void>;
  kill(): Promise<void>;
}

const living = new Set<LineChild>();
afterEach(async () => {
  for (const child of [...living]) await child.kill();
});

/** Runs `script` (a fixture .mjs) with `config` as JSON argv[2]; killed after the test if still up. */
export function spawnLineChild(script: string, config: unknown): LineChild {
  const proc = spawn(process.execPath, [script, JSON.stringify(config)], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const lines: string[] = [];
  let rest = '';
  proc.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    const parts = (rest + chunk).split('\n');
    rest = parts.pop()!;
    lines.push(...parts);
  });
  const exited = new Promise<void>((resolve) => proc.on('exit', () => resolve()));
  const child: LineChild = {
    process: proc,
    lines,
    async line(text, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      while (!lines.includes(text)) {
        if (Date.now() > deadline || proc.exitCode !== null || proc.signalCode !== null) {
          throw new Error(`child ${proc.pid} printed no "${text}" (lines: ${lines.join(', ')})`);
        }
        await new Promise((resolve) => setTimeout(resolve, 2));
      }
    },
    async kill() {
      living.delete(child);
      if (proc.exitCode === null && proc.signalCode === null) {
        proc.kill('SIGKILL');
        await exited;
      }
    },
  };
  living.add(child);
  return child;
}

export { eventually, sleep } from '@dogpile/test-servers';
