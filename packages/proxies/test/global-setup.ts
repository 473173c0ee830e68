import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { requireBinaries, startRedis } from '@dogpile/test-servers';
import type { TestProject } from 'vitest/node';

declare module 'vitest' {
  export interface ProvidedContext {
    /** `redis://127.0.0.1:<port>` of the shared server, or '' when it could not run. */
    redisUrl: string;
    /** Why Redis-backed suites skip, or '' when they run. */
    skipReason: string;
  }
}

/**
 * Compiles src/ to dist/ (the cross-process tests' children import it), then starts one Redis
 * shared by every test file; each file keeps to keys with its own random prefix.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  execFileSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], {
    cwd: fileURLToPath(new URL('..', import.meta.url)),
    stdio: 'inherit',
  });
  const binaries = requireBinaries('redis-server', 'redis-cli');
  if (!binaries.available) {
    project.provide('redisUrl', '');
    project.provide('skipReason', binaries.reason ?? 'redis binaries missing');
    return async () => {};
  }
  const server = await startRedis();
  project.provide('redisUrl', server.url);
  project.provide('skipReason', '');
  return () => server.stop();
}
