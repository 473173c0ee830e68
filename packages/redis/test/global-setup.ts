import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { requireBinaries, startRedis, startRedisCluster } from '@dogpile/test-servers';
import type { TestProject } from 'vitest/node';

declare module 'vitest' {
  export interface ProvidedContext {
    /** `redis://127.0.0.1:<port>` of the shared standalone server, or '' when it could not run. */
    redisUrl: string;
    /** The shared Cluster's nodes, or [] when it could not run. */
    clusterNodes: Array<{ host: string; port: number }>;
    /** Why server-backed suites skip, or '' when they run. */
    skipReason: string;
  }
}

/**
 * Compiles src/ to dist/ (which the child processes of the cross-process tests import), then
 * starts one standalone server and one 3-master Cluster shared by every test file; each file
 * keeps to keys with its own random prefix.
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
    project.provide('clusterNodes', []);
    project.provide('skipReason', binaries.reason ?? 'redis binaries missing');
    return async () => {};
  }
  const [standaloneResult, clusterResult] = await Promise.allSettled([
    startRedis(),
    startRedisCluster(),
  ]);
  if (standaloneResult.status === 'rejected' || clusterResult.status === 'rejected') {
    // Stop whichever did start: a server left running keeps vitest from exiting.
    if (standaloneResult.status === 'fulfilled') await standaloneResult.value.stop();
    if (clusterResult.status === 'fulfilled') await clusterResult.value.stop();
    throw standaloneResult.status === 'rejected'
      ? standaloneResult.reason
      : (clusterResult as PromiseRejectedResult).reason;
  }
  const standalone = standaloneResult.value;
  const cluster = clusterResult.value;
  project.provide('redisUrl', standalone.url);
  project.provide('clusterNodes', [...cluster.startupNodes]);
  project.provide('skipReason', '');
  return async () => {
    await Promise.all([standalone.stop(), cluster.stop()]);
  };
}
