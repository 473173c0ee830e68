import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { getFreePorts } from './free-port.js';
import { type RedisServer, startRedis } from './redis-server.js';
import { findBinary } from './require-binary.js';
import { sendCommand } from './resp.js';
import { waitUntil } from './server-process.js';

const execFileAsync = promisify(execFile);

/** Options of {@link startRedisCluster}. */
export interface StartRedisClusterOptions {
  /** Number of master nodes; Redis Cluster needs at least 3. Default: 3. */
  masters?: number;
  /** How long to wait for the cluster to reach `cluster_state:ok`, in milliseconds. Default: 20000. */
  startTimeoutMs?: number;
}

/** A running local Redis Cluster of masters only. */
export interface RedisCluster {
  readonly nodes: readonly RedisServer[];
  /** `{ host, port }` of every node, for ioredis's `new Cluster(startupNodes)`. */
  readonly startupNodes: ReadonlyArray<{ host: string; port: number }>;
  /** Stops every node. Safe to call twice. */
  stop(): Promise<void>;
}

const NODE_ATTEMPTS = 3;

/**
 * One cluster-enabled server with its own bus port. Both ports are chosen up front, so a failed
 * start (one of them taken meanwhile) is retried with two new ones.
 */
async function startNode(): Promise<RedisServer> {
  let lastError: unknown;
  for (let attempt = 0; attempt < NODE_ATTEMPTS; attempt++) {
    const [port, busPort] = await getFreePorts(2);
    try {
      return await startRedis({
        port,
        args: [
          '--cluster-enabled',
          'yes',
          '--cluster-config-file',
          'nodes.conf',
          '--cluster-node-timeout',
          '3000',
          '--cluster-port',
          String(busPort),
        ],
      });
    } catch (error) {
      lastError = error;
    }
  }
  throw lastError;
}

/**
 * Starts a real local Redis Cluster: `masters` servers with `cluster-enabled yes` on free loopback
 * ports (each with its own bus port, so nothing depends on port + 10000 being free), joined with
 * `redis-cli --cluster create --cluster-replicas 0`, and resolves once every node reports
 * `cluster_state:ok` with all 16384 slots assigned.
 */
export async function startRedisCluster(
  options: StartRedisClusterOptions = {},
): Promise<RedisCluster> {
  const masters = options.masters ?? 3;
  if (masters < 3) throw new Error(`Redis Cluster needs at least 3 masters; got ${masters}.`);
  const cli = findBinary('redis-cli');
  if (!cli) {
    throw new Error(
      'redis-cli is not on PATH. Install it (apt-get install redis-tools) to start a cluster.',
    );
  }
  const nodes: RedisServer[] = [];
  const stopAll = async () => {
    await Promise.all(nodes.map((node) => node.stop()));
  };
  try {
    const started = await Promise.allSettled(Array.from({ length: masters }, () => startNode()));
    for (const result of started) if (result.status === 'fulfilled') nodes.push(result.value);
    const failed = started.find((result) => result.status === 'rejected');
    if (failed) throw failed.reason;
    await execFileAsync(
      cli,
      [
        '--cluster',
        'create',
        ...nodes.map((node) => `127.0.0.1:${node.port}`),
        '--cluster-replicas',
        '0',
        '--cluster-yes',
      ],
      { timeout: options.startTimeoutMs ?? 20_000 },
    );
    await waitUntil(
      async () => {
        const infos = await Promise.all(
          nodes.map((node) => sendCommand(node.port, ['CLUSTER', 'INFO'])),
        );
        return infos.every(
          (info) =>
            typeof info === 'string' &&
            info.includes('cluster_state:ok') &&
            info.includes('cluster_slots_assigned:16384') &&
            info.includes(`cluster_known_nodes:${masters}`),
        );
      },
      options.startTimeoutMs ?? 20_000,
      () => 'The Redis Cluster did not reach cluster_state:ok in time.',
    );
  } catch (error) {
    await stopAll();
    throw error;
  }
  let stopped: Promise<void> | undefined;
  return {
    nodes,
    startupNodes: nodes.map((node) => ({ host: node.host, port: node.port })),
    stop() {
      stopped ??= stopAll();
      return stopped;
    },
  };
}
