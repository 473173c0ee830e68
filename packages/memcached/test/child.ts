import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { afterEach } from 'vitest';

const fixture = (name: string) => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));

/** A child process running a fixture, whose stdout lines can be awaited. */
export interface Child {
  process: ChildProcess;
  /** Resolves with the first stdout line that satisfies `match`. */
  line(match: (line: string) => boolean): Promise<string>;
  stderr(): string;
}

const children: ChildProcess[] = [];
afterEach(() => {
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
});

/** Runs `command args` (a fixture by name when command is `node`); killed after the test. */
export function startChild(name: string, args: unknown): Child {
  return watch(
    spawn(process.execPath, [fixture(name), JSON.stringify(args)], { stdio: 'pipe' }),
    name,
  );
}

/** Watches a spawned child's output; it is killed after the test. */
export function watch(child: ChildProcess, name: string): Child {
  children.push(child);
  let out = '';
  let err = '';
  const waiters: Array<{ match: (line: string) => boolean; resolve: (line: string) => void }> = [];
  const seen: string[] = [];
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    out += chunk;
    let newline = out.indexOf('\n');
    while (newline >= 0) {
      const line = out.slice(0, newline);
      out = out.slice(newline + 1);
      seen.push(line);
      for (const waiter of waiters.splice(0)) {
        if (waiter.match(line)) waiter.resolve(line);
        else waiters.push(waiter);
      }
      newline = out.indexOf('\n');
    }
  });
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
    err += chunk;
  });
  const exited = once(child, 'exit');
  return {
    process: child,
    stderr: () => err,
    line(match) {
      const found = seen.find(match);
      if (found !== undefined) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        waiters.push({ match, resolve });
        exited.then(([code, signal]) =>
          reject(
            new Error(`child ${name} exited (${code ?? signal}) before printing the line:\n${err}`),
          ),
        );
      });
    },
  };
}
