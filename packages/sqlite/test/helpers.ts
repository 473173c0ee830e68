import { fork } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach } from 'vitest';

/**
 * A fresh temporary directory, removed after the current test (register in the test file's
 * top level, so the afterEach hook belongs to it).
 */
export function useTempDirs(): () => string {
  const dirs: string[] = [];
  afterEach(() => {
    for (const dir of dirs.splice(0)) {
      fs.chmodSync(dir, 0o700);
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
  return () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dogpile-sqlite-test-'));
    dirs.push(dir);
    return dir;
  };
}

export { eventually, sleep } from '@dogpile/test-servers';

/** Runs `fixtures/<name>` in its own process with `args` (as JSON); resolves with its exit code. */
export function runFixture(name: string, args: unknown): Promise<number> {
  const file = fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));
  const child = fork(file, [JSON.stringify(args)], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('exit', (code) => resolve(code ?? -1));
  });
}
