import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';

/** A child process whose stdout lines can be awaited. */
export interface WatchedChild {
  process: ChildProcess;
  /** Resolves with the first stdout line that satisfies `match` (rejects if it exits first). */
  line(match: (line: string) => boolean): Promise<string>;
  /** What it wrote to stderr so far. */
  stderr(): string;
}

/**
 * Watches a child spawned with piped stdout and stderr, so a test can await the lines a fixture
 * prints ("ready", "locked", ...). The caller kills it (by its own pid) after the test.
 */
export function watchChild(child: ChildProcess, name: string): WatchedChild {
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
