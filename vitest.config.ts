import { defineConfig } from 'vitest/config';

// One GPU device per test file; files run in parallel worker processes (2 on a 2-core machine).
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/helpers/summary-setup.ts'],
    // Lets the engine silence Dawn's start-up lines in the workers (see the file).
    setupFiles: ['test/helpers/worker-stderr.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
    reporters: ['default'],
  },
});
