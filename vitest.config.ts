import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['packages/*/test/**/*.test.ts', 'test/**/*.test.ts'],
    globalSetup: ['test/support/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 180_000,
    // Integration suites share one broker and one Postgres server on a 2-core machine.
    fileParallelism: true,
    maxWorkers: 2,
  },
});
