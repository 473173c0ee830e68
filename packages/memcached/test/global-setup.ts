import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { type MemcachedServer, requireBinaries, startMemcached } from '@dogpile/test-servers';
import type { TestProject } from 'vitest/node';

declare module 'vitest' {
  export interface ProvidedContext {
    /** `127.0.0.1:<port>` of the shared single server, or '' when it could not run. */
    memcachedServer: string;
    /** The three shared servers, as one `servers` string, or '' when they could not run. */
    memcachedTrio: string;
    /** Why server-backed suites skip, or '' when they run. */
    skipReason: string;
  }
}

/** The item size limit of the shared servers: the conformance kit stores a 1 MiB payload. */
export const MAX_ITEM_SIZE = '2m';

/**
 * Compiles src/ to dist/ (which the child processes of the cross-process tests import), then
 * starts one server and a trio of servers shared by every test file; each file keeps to keys
 * with its own random prefix.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  execFileSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], {
    cwd: fileURLToPath(new URL('..', import.meta.url)),
    stdio: 'inherit',
  });

  const binaries = requireBinaries('memcached');
  if (!binaries.available) {
    project.provide('memcachedServer', '');
    project.provide('memcachedTrio', '');
    project.provide('skipReason', binaries.reason ?? 'memcached missing');
    return async () => {};
  }
  const results = await Promise.allSettled(
    Array.from({ length: 4 }, () => startMemcached({ maxItemSize: MAX_ITEM_SIZE })),
  );
  const started = results
    .filter((r): r is PromiseFulfilledResult<MemcachedServer> => r.status === 'fulfilled')
    .map((r) => r.value);
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) {
    // Stop whichever did start: a server left running keeps vitest from exiting.
    await Promise.all(started.map((server) => server.stop()));
    throw failed.reason;
  }
  const [single, ...trio] = started;
  project.provide('memcachedServer', single!.address);
  project.provide('memcachedTrio', trio.map((server) => server.address).join(','));
  project.provide('skipReason', '');
  return async () => {
    await Promise.all(started.map((server) => server.stop()));
  };
}
