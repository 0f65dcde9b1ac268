import { defineConfig } from 'vitest/config';

/** Tests that stop the shared broker or kill processes run apart, one file at a time. */
export const FAULT_TESTS = ['test/faults/**/*.test.ts', 'packages/*/test/**/broker-restart.test.ts'];

export default defineConfig({
  test: {
    include: ['packages/*/test/**/*.test.ts', 'test/**/*.test.ts'],
    exclude: ['**/node_modules/**', ...FAULT_TESTS],
    globalSetup: ['test/support/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 180_000,
    maxWorkers: 2,
  },
});
