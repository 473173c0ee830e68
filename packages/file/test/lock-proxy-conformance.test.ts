import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { runConformance } from '@dogpile/conformance';
import { afterAll } from 'vitest';
// @ts-expect-error: a plain .mjs fixture, shared with the kit's child processes.
import { createProxiedStore } from './fixtures/conformance-factory.mjs';

// The whole kit, cross-process suite included, over a store that has no mutex of its own
// (FileBackend with distributedLock: false), given file locks by withFileLocks(). Children build
// the same (DOGPILE_FILE_CONFORMANCE_SUBJECT=proxy).
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dogpile-file-proxy-conformance-'));
process.env.DOGPILE_FILE_CONFORMANCE_DIR = dir;
process.env.DOGPILE_FILE_CONFORMANCE_SUBJECT = 'proxy';
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

runConformance({
  name: 'withFileLocks(FileBackend without a mutex)',
  createBackend: createProxiedStore,
  capabilities: { serialized: true, ttl: 'milliseconds', mutex: 'distributed', lockTtlMs: 1000 },
  crossProcess: {
    factoryModule: new URL('./fixtures/conformance-factory.mjs', import.meta.url),
    processes: 4,
    callersPerProcess: 100,
  },
});
