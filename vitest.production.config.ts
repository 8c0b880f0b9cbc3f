import { defineConfig } from 'vitest/config';

/**
 * The production-shape suite (`npm run test:production`): the full Temporal server on PostgreSQL, Lockbox as separate
 * API and worker processes, mTLS, SIGKILL and SIGTERM. Its own global setup builds or finds the server binaries and
 * provisions the server; `npm test` does not run these files (vitest.config.ts excludes test/production).
 */
export default defineConfig({
  test: {
    include: ['test/production/**/*.test.ts'],
    globalSetup: ['test/production/global-setup.ts'],
    // The files start processes of their own on a 2-core machine: one at a time.
    fileParallelism: false,
    // expect.poll waits for real systems (a browser, a workflow); 1 s is too short on a loaded 2-core machine.
    expect: { poll: { timeout: 15_000, interval: 100 } },
    testTimeout: 240_000,
    hookTimeout: 240_000,
    teardownTimeout: 60_000,
    // .ci/run reads this report to add the suite's counts to its closing line.
    reporters: ['default', ['json', { outputFile: 'test-results/vitest-production.json' }]],
  },
});
