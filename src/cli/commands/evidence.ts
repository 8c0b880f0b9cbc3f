import { writeFile } from 'node:fs/promises';
import { Command, Option } from 'commander';
import { apiAction, type ApiOptions } from '../common.js';
import { seg } from '../http.js';

interface EvidenceOptions extends ApiOptions {
  tenant: string;
  from: string;
  to: string;
  format: 'json' | 'csv' | 'html';
  out?: string;
}

/** `lockbox evidence`: the auditors' evidence pack for a tenant and period (GET /v1/tenants/{tenant}/evidence). */
export function evidenceCommand(): Command {
  const cmd = new Command('evidence')
    .description("the evidence pack for a tenant and period: every request, its approvals, window, revoke and outcome; counts; the chain verdict")
    .requiredOption('--tenant <tenant>', 'the tenant')
    .requiredOption('--from <time>', 'start of the period, ISO-8601 (e.g. 2026-11-01T00:00:00Z)')
    .requiredOption('--to <time>', 'end of the period (exclusive), ISO-8601')
    .addOption(new Option('--format <format>', 'json, csv, or a printable html page').choices(['json', 'csv', 'html']).default('json'))
    .option('--out <file>', 'write it to this file instead of standard output');
  return apiAction<EvidenceOptions>(cmd, async (ctx, opts) => {
    const path = `/v1/tenants/${seg(opts.tenant)}/evidence`;
    const query = { from: opts.from, to: opts.to, format: opts.format };
    const text = opts.format === 'json' ? JSON.stringify((await ctx.api.get(path, query)).body, null, 2) : (await ctx.api.getText(path, query)).body;
    if (opts.out) {
      await writeFile(opts.out, text);
      ctx.io.err(`wrote ${opts.out}`);
    } else ctx.io.out(text);
  });
}
