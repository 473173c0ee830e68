import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { runConformance } from '@dogpile/conformance';
import { afterAll } from 'vitest';
// @ts-expect-error: a plain .mjs fixture, shared with the kit's child processes.
import { createFileBackend } from './fixtures/conformance-factory.mjs';

// One directory for every backend the kit builds here and in its child processes, as the
// processes of one host would share it; the kit gives each run its own key prefix.
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dogpile-file-conformance-'));
process.env.DOGPILE_FILE_CONFORMANCE_DIR = dir;
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

runConformance({
  name: 'FileBackend',
  createBackend: createFileBackend,
  capabilities: { serialized: true, ttl: 'milliseconds', mutex: 'distributed', lockTtlMs: 1000 },
  crossProcess: {
    factoryModule: new URL('./fixtures/conformance-factory.mjs', import.meta.url),
    processes: 4,
    callersPerProcess: 100,
  },
});
