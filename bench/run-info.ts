/** What the report says about the run besides the measurements: history shapes and versions. */
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Client } from '@temporalio/client';
import type { HistoryShape } from './report.js';
import { ROOT, type Stack } from './stack.js';

const execFileAsync = promisify(execFile);

export async function historyShape(client: Client, workflowId: string): Promise<HistoryShape | null> {
  try {
    const h = await client.workflow.getHandle(workflowId).fetchHistory();
    const events = h.events ?? [];
    const count = (pred: (e: (typeof events)[number]) => boolean) => events.filter(pred).length;
    return {
      workflowId,
      events: events.length,
      workflowTasks: count((e) => !!e.workflowTaskCompletedEventAttributes),
      activities: count((e) => !!e.activityTaskScheduledEventAttributes),
      localActivities: count((e) => e.markerRecordedEventAttributes?.markerName === 'core_local_activity'),
      timers: count((e) => !!e.timerStartedEventAttributes),
      updates: count((e) => !!e.workflowExecutionUpdateAcceptedEventAttributes),
      searchAttributeUpserts: count((e) => !!e.upsertWorkflowSearchAttributesEventAttributes),
    };
  } catch {
    return null;
  }
}

export async function lastBareLifecycleId(client: Client, taskQueue: string): Promise<string | null> {
  try {
    for await (const info of client.workflow.list({ query: `WorkflowType = 'bareLifecycleWorkflow' AND TaskQueue = '${taskQueue}' AND ExecutionStatus = 'Completed'`, pageSize: 1 })) {
      return info.workflowId;
    }
  } catch {
    // visibility may lag; no shape then
  }
  return null;
}

export async function versions(stack: Stack, client: Client) {
  const sdk = JSON.parse(await readFile(join(ROOT, 'node_modules', '@temporalio', 'client', 'package.json'), 'utf8')).version as string;
  const lockbox = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')).version as string;
  let cli: string | null = null;
  if (stack.temporalCliPath) {
    try {
      cli = (await execFileAsync(stack.temporalCliPath, ['--version'], { timeout: 10_000 })).stdout.trim();
    } catch {
      cli = null;
    }
  }
  let server: string | null = null;
  try {
    server = (await client.workflowService.getSystemInfo({})).serverVersion || null;
  } catch {
    server = null;
  }
  let commit: string | null = null;
  try {
    const head = (await execFileAsync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, timeout: 10_000 })).stdout.trim();
    const dirty = (await execFileAsync('git', ['status', '--porcelain', '--', 'src'], { cwd: ROOT, timeout: 10_000 })).stdout.trim() !== '';
    commit = `${head}${dirty ? ' (src/ has uncommitted changes)' : ''}`;
  } catch {
    commit = null;
  }
  return { node: process.version, temporalSdk: sdk, temporalCli: cli, temporalServer: server, lockbox, commit };
}
