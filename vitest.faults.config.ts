import { defineConfig } from 'vitest/config';
import { FAULT_TESTS } from './vitest.config.ts';

export default defineConfig({
  test: {
    include: FAULT_TESTS,
    globalSetup: ['test/support/global-setup.ts'],
    testTimeout: 300_000,
    hookTimeout: 180_000,
    fileParallelism: false,
  },
});
