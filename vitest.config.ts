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
    // Conv kernels: the heuristic defaults or what a test forces, never this machine's tuned cache,
    // and no tuning inside other tests (engine/autotune.ts; test/engine/autotune.test.ts turns it on).
    env: { MATTING_AUTOTUNE: '0', MATTING_AUTOTUNE_CACHE: '/nonexistent/matting-engine-test/conv-variants.json' },
    reporters: ['default'],
  },
});
