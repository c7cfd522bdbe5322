import { defineConfig } from 'vitest/config';

// One GPU device per test file; files run in parallel worker processes (2 on a 2-core machine).
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/helpers/summary-setup.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
    reporters: ['default'],
  },
});
