/**
 * One process of the Memcached cross-process stampede (started by memcached-stampede.ts through
 * ChildPool). argv[2] is JSON `{ servers, callers }`. Prints one line once its region exists (the
 * connection is opened by the first call), then answers each stdin line `{ key, creatorMs }` with
 * the JSON of one burst. Closes its region and exits when stdin ends.
 */
import { serveBursts } from '../stampede-burst.js';
import { dogpileOnMemcached } from './memcached-hit.js';

const { servers, callers } = JSON.parse(process.argv[2]!) as { servers: string; callers: number };
await serveBursts(dogpileOnMemcached(servers), callers);
