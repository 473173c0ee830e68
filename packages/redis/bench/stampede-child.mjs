// One process of the stampede benchmark. argv[2] is JSON { url, callers }. Prints "ready"; then
// for each line "<key> <creatorMs>" on stdin runs `callers` concurrent getOrCreate calls on that
// cold key, with a creator that takes creatorMs, and prints one JSON line { latencies }.
import { createInterface } from 'node:readline';
import { makeRegion } from '@dogpile/core';
import { RedisBackend } from '../dist/index.js';

const { url, callers } = JSON.parse(process.argv[2]);
const backend = new RedisBackend({ url, distributedLock: true });
const region = makeRegion().configure(backend, { expirationTime: 3600 });
await backend.get('bench:warmup');

const lines = createInterface({ input: process.stdin });
process.stdout.write('ready\n');
for await (const line of lines) {
  if (line === '') break;
  const [key, creatorMs] = line.split(' ');
  const creator = async () => {
    await backend.client.incr(`${key}:runs`);
    await new Promise((resolve) => setTimeout(resolve, Number(creatorMs)));
    return { pid: process.pid };
  };
  const latencies = await Promise.all(
    Array.from({ length: callers }, async () => {
      const started = performance.now();
      await region.getOrCreate(key, creator);
      return performance.now() - started;
    }),
  );
  process.stdout.write(`${JSON.stringify({ latencies })}\n`);
}
await region.close();
