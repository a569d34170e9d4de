import type { Reporter, TestModule } from 'vitest/node';

/**
 * Prints one closing line, `N passed, N failed, N skipped`, that any CI can read, and under
 * `CI=true` fails the run when a test was skipped: a skipped test there means a real service
 * (Redis, PostgreSQL, Chromium) was missing, and a missing service must not pass as green.
 */
export default class SummaryReporter implements Reporter {
  onTestRunEnd(testModules: ReadonlyArray<TestModule>): void {
    let passed = 0;
    let failed = 0;
    let skipped = 0;
    for (const module of testModules) {
      for (const test of module.children.allTests()) {
        const state = test.result().state;
        if (state === 'passed') passed++;
        else if (state === 'failed') failed++;
        else if (state === 'skipped') skipped++;
      }
    }
    console.log(`\nvitest: ${passed} passed, ${failed} failed, ${skipped} skipped`);
    if (process.env.CI === 'true' && skipped > 0) {
      console.error(
        `CI=true: ${skipped} skipped test(s) count as failures (a service is missing?)`,
      );
      process.exitCode = 1;
    }
  }
}
