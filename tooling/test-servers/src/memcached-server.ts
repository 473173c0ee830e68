import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getFreePort } from './free-port.js';
import { findBinary } from './require-binary.js';
import { type ServerProcess, spawnServer, waitUntil } from './server-process.js';

/** Options of {@link startMemcached}. */
export interface StartMemcachedOptions {
  /** Port to listen on. Default: a free loopback port. */
  port?: number;
  /** The item size limit (`-I`), such as `'2m'`. Default: memcached's, `'1m'`. */
  maxItemSize?: string;
  /** Memory for items (`-m`), in megabytes. Default: `64`. */
  memoryMb?: number;
  /**
   * Turn on SASL (`-S`) with a configuration that knows no user, so every client is refused
   * authentication: for testing credential errors. Default: `false`.
   */
  saslRejectAll?: boolean;
  /** More `memcached` arguments. */
  args?: readonly string[];
  /** How long to wait for the server to answer, in milliseconds. Default: 10000. */
  startTimeoutMs?: number;
}

/** A running `memcached`. */
export interface MemcachedServer {
  readonly host: '127.0.0.1';
  readonly port: number;
  /** `127.0.0.1:<port>`, as memjs and the backend take it. */
  readonly address: string;
  readonly process: ServerProcess;
  /** Kills the server and removes its directory. Safe to call twice. */
  stop(): Promise<void>;
}

const START_ATTEMPTS = 3;

/** The `memcached` binary, or a clear error when it is not installed. */
export function memcachedBinary(): string {
  const binary = findBinary('memcached');
  if (!binary) {
    throw new Error(
      'memcached is not on PATH. Install it (apt-get install memcached) to run these tests.',
    );
  }
  return binary;
}

/**
 * Whether a memcached on `port` answers a binary protocol VERSION request (any reply counts,
 * "authentication required" included).
 */
export function answersVersion(port: number, timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ port, host: '127.0.0.1' });
    const done = (answered: boolean) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(answered);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    socket.once('error', () => done(false));
    socket.once('data', (data) => done(data.length > 0 && data[0] === 0x81));
    socket.once('connect', () => {
      const request = Buffer.alloc(24);
      request[0] = 0x80; // request magic
      request[1] = 0x0b; // VERSION
      socket.write(request);
    });
  });
}

/**
 * Starts a throwaway `memcached` bound to 127.0.0.1 (UDP off), and resolves once it answers.
 * Another process can take a free port between choosing and binding it, so a server that exits
 * during startup is retried on a new port.
 *
 * @example
 * const memcached = await startMemcached({ maxItemSize: '2m' });
 * const backend = new MemcachedBackend({ servers: memcached.address });
 * // ...
 * await memcached.stop();
 */
export async function startMemcached(
  options: StartMemcachedOptions = {},
): Promise<MemcachedServer> {
  const binary = memcachedBinary();
  let lastError: unknown;
  for (let attempt = 0; attempt < (options.port === undefined ? START_ATTEMPTS : 1); attempt++) {
    const port = options.port ?? (await getFreePort());
    const dir = await mkdtemp(join(tmpdir(), 'dogpile-memcached-'));
    const env: NodeJS.ProcessEnv = { ...process.env };
    if (options.saslRejectAll) {
      // PLAIN against an empty sasldb path: the server starts, and refuses every user.
      await writeFile(
        join(dir, 'memcached.conf'),
        `mech_list: plain\nsasldb_path: ${join(dir, 'sasldb')}\n`,
      );
      env.SASL_CONF_PATH = dir;
    }
    const args = [
      '-p',
      String(port),
      '-l',
      '127.0.0.1',
      '-U',
      '0',
      '-m',
      String(options.memoryMb ?? 64),
      '-t',
      '2',
      ...(process.getuid?.() === 0 ? ['-u', 'root'] : []),
      ...(options.maxItemSize === undefined ? [] : ['-I', options.maxItemSize]),
      ...(options.saslRejectAll ? ['-S'] : []),
      ...(options.args ?? []),
    ];
    const server = spawnServer(binary, args, dir, env);
    try {
      await waitUntil(
        async () => {
          if (server.hasExited())
            throw new Error(`memcached exited during startup:\n${server.output()}`);
          return answersVersion(port);
        },
        options.startTimeoutMs ?? 10_000,
        () => `memcached on port ${port} did not answer in time:\n${server.output()}`,
      );
    } catch (error) {
      lastError = error;
      await server.stop();
      await rm(dir, { recursive: true, force: true });
      continue;
    }
    let stopped: Promise<void> | undefined;
    return {
      host: '127.0.0.1',
      port,
      address: `127.0.0.1:${port}`,
      process: server,
      stop() {
        stopped ??= server.stop().then(() => rm(dir, { recursive: true, force: true }));
        return stopped;
      },
    };
  }
  throw lastError;
}
