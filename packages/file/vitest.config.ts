import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // Child processes import the built package, so build it once before any test file runs.
    globalSetup: ['./test/global-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
  },
});
