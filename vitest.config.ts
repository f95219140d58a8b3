import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.{ts,tsx}'],
    disableConsoleIntercept: true,
    testTimeout: 60_000,
    pool: 'forks',
  },
});
