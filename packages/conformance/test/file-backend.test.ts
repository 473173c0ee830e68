import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runConformance } from '@dogpile/conformance';
import { afterAll } from 'vitest';
import { createBackend } from './fixtures/file-backend.js';

// Set before any test runs: backends here and in the kit's child processes read it.
const dir = mkdtempSync(join(tmpdir(), 'dogpile-file-fixture-'));
process.env.DOGPILE_FILE_FIXTURE_DIR = dir;
afterAll(() => rmSync(dir, { recursive: true, force: true }));

runConformance({
  name: 'FileBackend',
  createBackend,
  capabilities: { serialized: true, mutex: 'distributed', lockTtlMs: 1000 },
  crossProcess: { factoryModule: new URL('./fixtures/file-backend.ts', import.meta.url) },
});
