import { fileURLToPath } from 'node:url';
import { NativeConnection, Worker } from '@temporalio/worker';
import { createActivities, type ActivityDeps } from '../activities/index.js';
import type { Config } from '../config/index.js';

const WORKFLOWS_PATH = fileURLToPath(new URL('../workflows/index.ts', import.meta.url));

/** A worker for the request workflow; `run()` resolves once it has shut down. */
export async function createWorker(config: Config, address: string, deps: ActivityDeps): Promise<{
  worker: Worker;
  connection: NativeConnection;
}> {
  const connection = await NativeConnection.connect({ address });
  const worker = await Worker.create({
    connection,
    namespace: config.namespace,
    taskQueue: config.taskQueue,
    workflowsPath: WORKFLOWS_PATH,
    activities: createActivities(deps),
    bundlerOptions: { ignoreModules: [] },
  });
  return { worker, connection };
}
