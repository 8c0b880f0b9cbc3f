/**
 * `tsx src/dev/ensure-temporal.ts`: finds or builds (once, cached outside the checkout) the Temporal CLI and
 * prints its path on stdout. CI runs it before the tests so the build shows up as its own step.
 */
import { ensureTemporalCli } from './temporal-cli.js';

try {
  const path = await ensureTemporalCli({ log: (line) => process.stderr.write(`${line}\n`) });
  process.stdout.write(`${path}\n`);
} catch (err) {
  process.stderr.write(`${(err as Error).message}\n`);
  process.exit(1);
}
