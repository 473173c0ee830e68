import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
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
