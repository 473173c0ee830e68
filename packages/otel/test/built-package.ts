import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { beforeAll } from 'vitest';

/** This package's directory, with a trailing slash. */
export const packageDir = fileURLToPath(new URL('..', import.meta.url));

/** Builds the package before the file's tests, which load it as an application would: from dist. */
export function useBuiltPackage(): void {
  beforeAll(() => {
    if (!existsSync(`${packageDir}dist/index.js`)) {
      execFileSync('pnpm', ['exec', 'tsc', '-p', 'tsconfig.build.json'], {
        cwd: packageDir,
        stdio: 'inherit',
      });
    }
  }, 60_000);
}
