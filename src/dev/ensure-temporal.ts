/**
 * `tsx src/dev/ensure-temporal.ts [--server]`: finds or builds (once, cached outside the checkout) the Temporal CLI
 * and prints its path on stdout. With `--server` also the full Temporal server and its SQL schema tool (the
 * production-shape tests run them), one path a line. CI runs it before the tests so the build shows up as its own
 * step.
 */
import { ensureTemporalCli } from './temporal-cli.js';
import { ensureTemporalServer } from './temporal-server.js';

const log = (line: string) => process.stderr.write(`${line}\n`);
try {
  const path = await ensureTemporalCli({ log });
  process.stdout.write(`${path}\n`);
  if (process.argv.includes('--server')) {
    const { server, sqlTool } = await ensureTemporalServer({ log });
    process.stdout.write(`${server}\n${sqlTool}\n`);
  }
} catch (err) {
  process.stderr.write(`${(err as Error).message}\n`);
  process.exit(1);
}
