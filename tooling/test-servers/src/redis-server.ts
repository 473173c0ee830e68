import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getFreePort } from './free-port.js';
import { findBinary } from './require-binary.js';
import { RespErrorReply, sendCommand } from './resp.js';
import { type ServerProcess, spawnServer, waitUntil } from './server-process.js';

/** Options of {@link startRedis}. */
export interface StartRedisOptions {
  /** Port to listen on. Default: a free loopback port. */
  port?: number;
  /** Sets `requirepass`, so clients must authenticate. Default: none. */
  password?: string;
  /** More `redis-server` arguments, such as `['--cluster-enabled', 'yes']`. */
  args?: readonly string[];
  /** How long to wait for the server to answer PING, in milliseconds. Default: 10000. */
  startTimeoutMs?: number;
}

/** A running `redis-server`. */
export interface RedisServer {
  readonly host: '127.0.0.1';
  readonly port: number;
  /** `redis://127.0.0.1:<port>` (with the password when one was set). */
  readonly url: string;
  /** The server's working directory, a temporary directory removed by `stop()`. */
  readonly dir: string;
  readonly process: ServerProcess;
  /** Kills the server and removes its directory. Safe to call twice. */
  stop(): Promise<void>;
}

const START_ATTEMPTS = 3;

/** The `redis-server` binary, or a clear error when it is not installed. */
export function redisServerBinary(): string {
  const binary = findBinary('redis-server');
  if (!binary) {
    throw new Error(
      'redis-server is not on PATH. Install it (apt-get install redis-server) to run these tests.',
    );
  }
  return binary;
}

/**
 * Starts a throwaway `redis-server` bound to 127.0.0.1 with persistence off, and resolves once it
 * answers PING. Another process can take a free port between choosing and binding it, so a server
 * that exits during startup is retried on a new port.
 *
 * @example
 * const redis = await startRedis();
 * const backend = new RedisBackend({ url: redis.url });
 * // ...
 * await redis.stop();
 */
export async function startRedis(options: StartRedisOptions = {}): Promise<RedisServer> {
  const binary = redisServerBinary();
  let lastError: unknown;
  for (let attempt = 0; attempt < (options.port === undefined ? START_ATTEMPTS : 1); attempt++) {
    const port = options.port ?? (await getFreePort());
    const dir = await mkdtemp(join(tmpdir(), 'dogpile-redis-'));
    const args = [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      '--appendonly',
      'no',
      '--dir',
      dir,
      '--daemonize',
      'no',
      ...(options.password === undefined ? [] : ['--requirepass', options.password]),
      ...(options.args ?? []),
    ];
    const server = spawnServer(binary, args, dir);
    try {
      await waitUntil(
        async () => {
          if (server.hasExited())
            throw new Error(`redis-server exited during startup:\n${server.output()}`);
          return answersPing(port);
        },
        options.startTimeoutMs ?? 10_000,
        () => `redis-server on port ${port} did not answer PING in time:\n${server.output()}`,
      );
    } catch (error) {
      lastError = error;
      await server.stop();
      await rm(dir, { recursive: true, force: true });
      continue;
    }
    const auth = options.password === undefined ? '' : `:${encodeURIComponent(options.password)}@`;
    let stopped: Promise<void> | undefined;
    return {
      host: '127.0.0.1',
      port,
      url: `redis://${auth}127.0.0.1:${port}`,
      dir,
      process: server,
      stop() {
        stopped ??= server.stop().then(() => rm(dir, { recursive: true, force: true }));
        return stopped;
      },
    };
  }
  throw lastError;
}

/** Whether a server on `port` is up: any reply counts, NOAUTH included. */
export async function answersPing(port: number): Promise<boolean> {
  try {
    await sendCommand(port, ['PING'], 500);
    return true;
  } catch (error) {
    return error instanceof RespErrorReply;
  }
}
