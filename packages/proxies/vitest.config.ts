import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // The cross-process tests run dist/ in child processes: build it from src/ first.
    globalSetup: ['./test/global-setup.ts'],
    // Most tests wait on Redis, lock TTLs and child processes rather than the CPU: run more files
    // at once than there are cores.
    maxWorkers: 4,
    minWorkers: 1,
    testTimeout: 20_000,
    hookTimeout: 30_000,
  },
});
