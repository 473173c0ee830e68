import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // The cross-process tests run dist/ in child processes: build it from src/ first.
    globalSetup: ['./test/global-setup.ts'],
    testTimeout: 20_000,
    hookTimeout: 30_000,
    // Most of the suite waits on servers, leases and child processes rather than the CPU: run
    // the files side by side even on a two-core machine.
    maxWorkers: 3,
    minWorkers: 1,
  },
});
