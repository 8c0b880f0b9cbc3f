import { configDefaults, defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // The production-shape suite has its own config and setup: npm run test:production.
    exclude: [...configDefaults.exclude, 'test/production/**'],
    globalSetup: ['test/support/global-setup.ts'],
    // expect.poll waits for real systems (a browser, a workflow); 1 s is too short on a loaded 2-core machine.
    expect: { poll: { timeout: 15_000, interval: 100 } },
    testTimeout: 60_000,
    hookTimeout: 180_000,
    // .ci/run reads the JSON report to print its closing line.
    reporters: ['default', ['json', { outputFile: 'test-results/vitest.json' }]],
  },
});
