// What an outage costs a caller: pnpm exec tsx bench/outage.ts (needs redis-server).
//
// A backend connected to a Redis server that then goes away (its port refuses connections), once
// ioredis's reconnect backoff has reached its cap; then the same against a server that is stalled
// (SIGSTOP) and an address that drops packets. For each: plain region.get, and a failSafe
// getOrCreate with a creator that returns at once. Prints the first call and the distribution of
// the rest, in milliseconds.
import { subscribe } from 'node:diagnostics_channel';
import { createServer } from 'node:net';
import { makeRegion } from '@dogpile/core';
import { startRedis } from '@dogpile/test-servers';
import { RedisBackend } from '../src/index.js';

const CALLS = Number(process.env.OUTAGE_CALLS ?? 100);

function summary(ms: number[]): string {
  const sorted = [...ms].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
  return `p50 ${at(0.5).toFixed(2)}  p99 ${at(0.99).toFixed(2)}  max ${sorted.at(-1)!.toFixed(2)}`;
}

async function time(call: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  try {
    await call();
  } catch {
    // The error is the point; its cost is what is measured.
  }
  return performance.now() - started;
}

async function measure(label: string, backend: RedisBackend, calls: number): Promise<void> {
  const plain = makeRegion({ name: 'plain' }).configure(backend, { expirationTime: 60 });
  const safe = makeRegion({ name: 'safe', failSafe: true }).configure(backend, {
    expirationTime: 60,
  });
  const firstPlain = await time(() => plain.get('k'));
  const plainMs: number[] = [];
  for (let i = 0; i < calls; i++) plainMs.push(await time(() => plain.get(`k${i}`)));
  const firstSafe = await time(() => safe.getOrCreate('s', () => 'v'));
  const safeMs: number[] = [];
  for (let i = 0; i < calls; i++)
    safeMs.push(await time(() => safe.getOrCreate(`s${i}`, () => 'v')));
  console.log(
    `${label}\n  plain get:            first ${firstPlain.toFixed(1)}  then ${summary(plainMs)}\n` +
      `  failSafe getOrCreate: first ${firstSafe.toFixed(1)}  then ${summary(safeMs)}`,
  );
}

// Absorbed errors go to the channel (counted), not to process warnings.
let reported = 0;
subscribe('dogpile:error', () => {
  reported++;
});

// 1. Refused: the server went away after the backend connected.
{
  const server = await startRedis();
  const backend = new RedisBackend({ url: server.url });
  await backend.getSerialized('warm');
  await server.stop();
  // ioredis's reconnect delay grows 50 ms per attempt up to 2 s: let it reach the cap.
  await new Promise((resolve) => setTimeout(resolve, 4000));
  await measure('refused (server stopped, backoff at its cap)', backend, CALLS);
  await backend.close();
}

// 2. Stalled: the server process is stopped (SIGSTOP); its socket stays open and silent.
{
  const server = await startRedis();
  const backend = new RedisBackend({ url: server.url, commandTimeout: '500ms' });
  await backend.getSerialized('warm');
  process.kill(server.process.child.pid!, 'SIGSTOP');
  try {
    await measure('stalled (SIGSTOP), commandTimeout 500 ms', backend, 5);
  } finally {
    process.kill(server.process.child.pid!, 'SIGCONT');
    await backend.close();
    await server.stop();
  }
}

// 3. Silent: a server that accepts connections and never answers (as a black-holed address
// would, once connected), with the defaults.
{
  const sockets = new Set<import('node:net').Socket>();
  const silent = createServer((socket) => {
    sockets.add(socket);
  });
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  const port = (silent.address() as import('node:net').AddressInfo).port;
  const backend = new RedisBackend({ host: '127.0.0.1', port });
  await measure('silent server, defaults (connectTimeout 5 s)', backend, 5);
  await backend.close();
  for (const socket of sockets) socket.destroy();
  silent.close();
}
console.log(`errors reported on dogpile:error: ${reported}`);
