/**
 * One process of the Memcached cross-process stampede (started by memcached-stampede.ts through
 * ChildPool). argv[2] is JSON `{ servers, callers }`. Prints one line once its region exists (the
 * connection is opened by the first call), then answers each stdin line `{ key, creatorMs }` with
 * the JSON of one burst. Closes its region and exits when stdin ends.
 */
import { createInterface } from 'node:readline';
import { burst } from '../stampede-burst.js';
import { dogpileOnMemcached } from './memcached-hit.js';

const { servers, callers } = JSON.parse(process.argv[2]!) as { servers: string; callers: number };
const contender = dogpileOnMemcached(servers);
try {
  process.stdout.write(`${JSON.stringify({ ready: true })}\n`);
  for await (const line of createInterface({ input: process.stdin })) {
    if (line.trim() === '') continue;
    const request = JSON.parse(line) as { key: string; creatorMs: number };
    try {
      const result = await burst(contender, request.key, callers, request.creatorMs);
      process.stdout.write(`${JSON.stringify(result)}\n`);
    } catch (error) {
      process.stdout.write(`${JSON.stringify({ error: String(error) })}\n`);
    }
  }
} finally {
  await contender.close();
}
