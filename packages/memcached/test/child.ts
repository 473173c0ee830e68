import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { type WatchedChild, watchChild } from '@dogpile/test-servers';
import { afterEach } from 'vitest';

const fixture = (name: string) => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));

/** A child process running a fixture, whose stdout lines can be awaited. */
export type Child = WatchedChild;

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
  return watchChild(child, name);
}
