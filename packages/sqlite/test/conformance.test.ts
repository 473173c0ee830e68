import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { runConformance } from '@dogpile/conformance';
import { afterAll } from 'vitest';
import { SqliteBackend } from '../src/index.js';

// One file for every backend the kit builds here and in its child processes, as the processes of
// one host would share it; the kit gives each run its own key prefix.
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dogpile-sqlite-conformance-'));
const filename = path.join(dir, 'conformance.db');
process.env.DOGPILE_SQLITE_CONFORMANCE_FILE = filename;
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

runConformance({
  name: 'SqliteBackend',
  createBackend: (hints) =>
    new SqliteBackend({
      filename,
      lockTimeout: hints.lockTtlMs === undefined ? 30 : `${hints.lockTtlMs}ms`,
      lockAutoExtend: hints.lockTtlMs === undefined,
      sqliteExpirationTime: hints.ttlMs === undefined ? undefined : `${hints.ttlMs}ms`,
    }),
  capabilities: { serialized: true, ttl: 'milliseconds', mutex: 'distributed', lockTtlMs: 1000 },
  crossProcess: {
    factoryModule: new URL('./fixtures/conformance-factory.mjs', import.meta.url),
    processes: 4,
    callersPerProcess: 100,
  },
});
