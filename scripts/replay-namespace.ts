/**
 * Replays the histories of request workflows already in a Temporal namespace on the current workflow code, and
 * reports any that would fail (a nondeterminism error means a worker with this code would get stuck on them).
 * Run it before deploying a workflow change, against a copy of production or a stack that ran the test suite or the
 * benchmark:
 *
 *   TEMPORAL_ADDRESS=127.0.0.1:7233 npx tsx scripts/replay-namespace.ts [--limit 2000] [--query "..."]
 *
 * Default query: every closed `accessRequestWorkflow`. Exits 1 when one fails to replay, 2 on bad usage.
 */
import { Client, Connection } from '@temporalio/client';
import { Worker } from '@temporalio/worker';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const WORKFLOWS = fileURLToPath(new URL('../src/workflows/index.ts', import.meta.url));

async function main(): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        limit: { type: 'string', default: '2000' },
        query: { type: 'string', default: `WorkflowType = 'accessRequestWorkflow' AND ExecutionStatus != 'Running'` },
        namespace: { type: 'string', default: process.env.TEMPORAL_NAMESPACE ?? 'lockbox' },
      },
    }));
  } catch (err) {
    console.error(`replay-namespace: ${(err as Error).message}`);
    return 2;
  }
  const limit = Number(values.limit);
  if (!Number.isInteger(limit) || limit < 1) {
    console.error('replay-namespace: --limit must be a positive integer');
    return 2;
  }
  const connection = await Connection.connect({ address: process.env.TEMPORAL_ADDRESS ?? '127.0.0.1:7233' });
  try {
    const client = new Client({ connection, namespace: values.namespace });
    const executions = client.workflow.list({ query: values.query, pageSize: 100 });
    async function* firstN() {
      let n = 0;
      for await (const h of executions.intoHistories()) {
        yield h;
        if (++n >= limit) return;
      }
    }
    let replayed = 0;
    const failures: string[] = [];
    for await (const result of Worker.runReplayHistories({ workflowsPath: WORKFLOWS }, firstN())) {
      replayed += 1;
      if (result.error) failures.push(`${result.workflowId}: ${result.error.message.slice(0, 400)}`);
    }
    for (const f of failures) console.error(`FAILED ${f}`);
    console.log(`replayed ${replayed} histories: ${replayed - failures.length} ok, ${failures.length} failed`);
    return failures.length === 0 ? 0 : 1;
  } finally {
    await connection.close();
  }
}

process.exitCode = await main();
