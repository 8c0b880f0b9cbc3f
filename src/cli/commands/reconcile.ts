import { Command } from 'commander';
import type { ReconcileReport } from '../../domain/reconcile.js';
import { apiAction } from '../common.js';
import { ExitCode } from '../exit.js';
import { printJson, table } from '../output.js';

type Answer = ReconcileReport | { status: 'running'; workflowId: string };

/** The report in words: one row per target, then one line per action taken and per failure. */
export function renderReport(r: ReconcileReport): string {
  const rows = r.targets.map((t) => [
    t.target,
    t.skipped ? '-' : String(t.granted),
    String(t.orphans.filter((o) => o.outcome === 'revoked').length),
    String(t.drift.length),
    t.error ? `FAILED: ${t.error}` : t.skipped ? `skipped: ${t.skipped}` : 'ok',
  ]);
  const lines = [table(['target', 'granted', 'orphans revoked', 'drift', 'result'], rows)];
  for (const t of r.targets) {
    for (const o of t.orphans) lines.push(`orphan ${o.outcome.replace('_', ' ')}: ${o.requestId} (${o.tenant}, ${o.resource}) at ${t.target}: ${o.reason}${o.error ? `: ${o.error}` : ''}`);
    for (const d of t.drift) lines.push(`drift ${d.action.replace('_', ' ')}: ${d.requestId} (${d.tenant}, ${d.resource}) at ${t.target}${d.error ? `: ${d.error}` : ''}`);
    for (const u of t.unsure) lines.push(`left for the next run: ${u.requestId} at ${t.target}: ${u.why}`);
  }
  // Older servers' reports have no such list.
  if (r.notReconcilable?.length) lines.push(`not reconcilable (nothing they granted is checked): ${r.notReconcilable.join(', ')}`);
  for (const e of r.errors) lines.push(`FAILED: ${e}`);
  const about = `${r.active} active request(s) checked for drift, drift mode ${r.drift}`;
  lines.push(r.ok ? `ok (${about})` : `reconcile FAILED: not everything was checked or revoked (${about})`);
  return lines.join('\n');
}

/** `lockbox reconcile`: runs the reconciler now (operators). */
export function reconcileCommand(): Command {
  const cmd = new Command('reconcile')
    .description('run the reconciler now (operators): revoke access no running request owns, report drift')
    .addHelpText('after', '\nExit code 1 when the report says something failed (a target unreachable, a revoke that did not take).\nSee docs/reconcile.md.');
  return apiAction(cmd, async (ctx) => {
    const { body, status } = await ctx.api.post<Answer>('/v1/operator/reconcile', undefined);
    if (status === 202 || !('targets' in body)) {
      const id = 'workflowId' in body ? body.workflowId : 'unknown';
      if (ctx.json) printJson(ctx.io, body);
      else ctx.io.out(`still running as workflow ${id}: its report is in the Temporal UI, or run this again to wait for it`);
      return ExitCode.ok;
    }
    if (ctx.json) printJson(ctx.io, body);
    else ctx.io.out(renderReport(body));
    return body.ok ? ExitCode.ok : ExitCode.unexpected;
  });
}
