import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getFreePort } from './free-port.js';
import { redisServerBinary } from './redis-server.js';
import { sendCommand } from './resp.js';
import { type ServerProcess, spawnServer, waitUntil } from './server-process.js';

/** Options of {@link startRedisSentinel}. */
export interface StartRedisSentinelOptions {
  /** Port of the master to monitor, on 127.0.0.1. */
  masterPort: number;
  /** The master group name clients ask for. Default: `'mymaster'`. */
  name?: string;
  /** How long to wait for the Sentinel to know the master, in milliseconds. Default: 10000. */
  startTimeoutMs?: number;
}

/** A running Redis Sentinel. */
export interface RedisSentinel {
  readonly host: '127.0.0.1';
  readonly port: number;
  /** The master group name it monitors. */
  readonly name: string;
  readonly process: ServerProcess;
  /** Kills the Sentinel and removes its directory. Safe to call twice. */
  stop(): Promise<void>;
}

/**
 * Starts a Redis Sentinel (`redis-server <conf> --sentinel`; Sentinel rewrites its config file,
 * so it gets one in a temporary directory) monitoring the master on `masterPort` with quorum 1,
 * and resolves once it answers `SENTINEL GET-MASTER-ADDR-BY-NAME` for it.
 */
export async function startRedisSentinel(
  options: StartRedisSentinelOptions,
): Promise<RedisSentinel> {
  const binary = redisServerBinary();
  const name = options.name ?? 'mymaster';
  const port = await getFreePort();
  const dir = await mkdtemp(join(tmpdir(), 'dogpile-sentinel-'));
  const config = join(dir, 'sentinel.conf');
  await writeFile(
    config,
    [
      `port ${port}`,
      'bind 127.0.0.1',
      `dir ${dir}`,
      `sentinel monitor ${name} 127.0.0.1 ${options.masterPort} 1`,
      `sentinel down-after-milliseconds ${name} 2000`,
      '',
    ].join('\n'),
  );
  const server = spawnServer(binary, [config, '--sentinel'], dir);
  try {
    await waitUntil(
      async () => {
        if (server.hasExited())
          throw new Error(`redis-sentinel exited during startup:\n${server.output()}`);
        try {
          const reply = await sendCommand(port, ['SENTINEL', 'GET-MASTER-ADDR-BY-NAME', name], 500);
          return Array.isArray(reply) && reply[1] === String(options.masterPort);
        } catch {
          return false;
        }
      },
      options.startTimeoutMs ?? 10_000,
      () => `Sentinel on port ${port} did not report master ${name} in time:\n${server.output()}`,
    );
  } catch (error) {
    await server.stop();
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
  let stopped: Promise<void> | undefined;
  return {
    host: '127.0.0.1',
    port,
    name,
    process: server,
    stop() {
      stopped ??= server.stop().then(() => rm(dir, { recursive: true, force: true }));
      return stopped;
    },
  };
}
