import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

// Runs the deliberately broken backends through the kit. Only test/meta.test.ts starts this run,
// and it expects failures; the package's own `vitest run` never picks these files up.
export default defineConfig({
  root: fileURLToPath(new URL('../..', import.meta.url)),
  resolve: {
    alias: {
      '@dogpile/conformance': fileURLToPath(new URL('../../src/index.ts', import.meta.url)),
    },
  },
  test: {
    include: ['test/broken/*.kit.ts'],
  },
});
