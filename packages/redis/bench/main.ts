// Both Redis benchmarks in one run: pnpm exec tsx bench/main.ts (needs redis-server).
import { startRedis } from '@dogpile/test-servers';
import { printHits, runHits } from './hits.js';
import { buildDist, printStampede, runStampede } from './stampede.js';

buildDist();
const server = await startRedis();
try {
  console.log(
    'getOrCreate hits vs raw ioredis GET (64 in flight; ratio = throughput relative to raw GET)',
  );
  for (const result of await runHits(server.url)) printHits(result);
  console.log();
  printStampede(await runStampede(server.url));
} finally {
  await server.stop();
}
