import { startMemcached } from '@dogpile/test-servers';
import { memcachedHit } from './src/cases/memcached-hit.js';
import { printGroup } from './src/report.js';
const m = await startMemcached();
try {
  for (const n of [1, 64]) printGroup(await memcachedHit(m.address, n, { iterations: n === 1 ? 3000 : 20000, rounds: 5 }));
} finally { await m.stop(); }
process.exit(0);
