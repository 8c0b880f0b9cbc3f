import { stat } from 'node:fs/promises';
import { Command, InvalidArgumentError, Option } from 'commander';
import { verifyJsonlFile } from '../../adapters/audit/jsonl-read.js';
import type { AuditEvent } from '../../domain/audit.js';
import { describeVerdict } from '../../domain/audit-chain.js';
import type { AccessRequest } from '../../domain/request.js';
import { apiAction, type ApiContext, type ApiOptions } from '../common.js';
import { CliError, ExitCode } from '../exit.js';
import { ApiError, seg } from '../http.js';
import { clip, stdio, when } from '../output.js';

const FOLLOW_POLL_MS = 2_000;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const positiveInt = (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('must be a whole number of at least 1');
  return n;
};

/** `key=value` pairs of an event's details, compact. */
const detailsText = (d: Record<string, unknown>) =>
  Object.entries(d)
    .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join(' ');

/** Fixed column widths, so the rows `--follow` prints later line up with the first ones. */
const COLUMNS = { time: 20, type: 33, actor: 24, request: 40 } as const;

/** Prints events: JSON Lines with `--json` (pipe them to a file, then `audit verify` it), else aligned rows. */
function printEvents(ctx: ApiContext, events: AuditEvent[], header: boolean, withRequest = true): void {
  if (ctx.json) {
    for (const e of events) ctx.io.out(JSON.stringify(e));
    return;
  }
  if (events.length === 0) return;
  const row = (time: string, type: string, actor: string, request: string, details: string) =>
    [time.padEnd(COLUMNS.time), type.padEnd(COLUMNS.type), clip(actor, COLUMNS.actor).padEnd(COLUMNS.actor), ...(withRequest ? [request.padEnd(COLUMNS.request)] : []), details]
      .join('  ')
      .trimEnd();
  const lines = events.map((e) => row(when(e.time), e.type, e.actor, e.requestId, clip(detailsText(e.details ?? {}), 70)));
  ctx.io.out([...(header ? [row('TIME', 'TYPE', 'ACTOR', 'REQUEST', 'DETAILS')] : []), ...lines].join('\n'));
}

/** One request's trail (`GET /v1/requests/{id}/audit`); `--follow` until the request has ended. */
async function tailRequest(ctx: ApiContext, id: string, follow: boolean): Promise<void> {
  let shown = 0;
  for (;;) {
    const { body } = await ctx.api.get<{ events: AuditEvent[] }>(`/v1/requests/${seg(id)}/audit`);
    printEvents(ctx, body.events.slice(shown), shown === 0, false);
    shown = Math.max(shown, body.events.length);
    if (!follow) return;
    const { body: request } = await ctx.api.get<AccessRequest>(`/v1/requests/${seg(id)}`);
    // Once ended, one more read picks up the events written by the ending itself.
    if (request.status !== 'pending' && request.status !== 'granting' && request.status !== 'active') {
      const { body: last } = await ctx.api.get<{ events: AuditEvent[] }>(`/v1/requests/${seg(id)}/audit`);
      printEvents(ctx, last.events.slice(shown), shown === 0, false);
      return;
    }
    await sleep(FOLLOW_POLL_MS);
  }
}

interface TailOptions extends ApiOptions {
  request?: string;
  follow?: boolean;
  tenant?: string;
  type?: string;
  after?: string;
  limit: number;
}

/** Everything the caller may see (`GET /v1/audit`, cursor-paged): the last `--limit` events, then `--follow`. */
async function tailAll(ctx: ApiContext, opts: TailOptions): Promise<void> {
  const page = (after: string | undefined) =>
    ctx.api.get<{ events: AuditEvent[]; next: string | null; more?: boolean }>('/v1/audit', { tenant: opts.tenant, type: opts.type, after, limit: '500' });
  let cursor = opts.after;
  let last: AuditEvent[] = [];
  // Catch up: read every page, keep the last --limit events.
  for (;;) {
    let res;
    try {
      res = (await page(cursor)).body;
    } catch (err) {
      if (err instanceof ApiError && err.status === 404 && /^no route/.test(err.problem.detail ?? '')) {
        throw new CliError('this Lockbox API has no GET /v1/audit (the all-events feed): pass --request <id> to tail one request', ExitCode.usage);
      }
      throw err;
    }
    last = [...last, ...res.events].slice(-opts.limit);
    cursor = res.next ?? cursor;
    if (res.events.length === 0 || res.more === false || (res.more === undefined && res.events.length < 500)) break;
  }
  printEvents(ctx, last, true);
  let header = last.length === 0;
  let more = false;
  while (opts.follow) {
    // A full page means more is waiting: fetch it at once instead of after the poll interval.
    if (!more) await sleep(FOLLOW_POLL_MS);
    const res = (await page(cursor)).body;
    printEvents(ctx, res.events, header);
    if (res.events.length > 0) header = false;
    cursor = res.next ?? cursor;
    more = res.more === true;
  }
  if (cursor && !ctx.json) ctx.io.err(`next cursor: ${cursor} (continue with --after)`);
}

function tailCommand(): Command {
  const cmd = new Command('tail').description('show audit events: one request\'s trail, or (when the API has GET /v1/audit) all you may see');
  cmd
    .option('--request <id>', "only this request's events (GET /v1/requests/{id}/audit)")
    .option('-f, --follow', 'keep printing new events (with --request: until the request has ended)')
    .option('--tenant <tenant>', 'without --request: only this tenant')
    .option('--type <type>', 'without --request: only this event type, e.g. request.approved')
    .option('--after <cursor>', 'without --request: start after this cursor (printed by an earlier tail)')
    .addOption(new Option('--limit <n>', 'without --request: how many of the latest events to show first').argParser(positiveInt).default(50));
  return apiAction<TailOptions>(cmd, async (ctx, opts) => {
    if (opts.request) await tailRequest(ctx, opts.request, opts.follow === true);
    else await tailAll(ctx, opts);
  });
}

function verifyCommand(): Command {
  return new Command('verify')
    .description('verify the hash chain of a JSON Lines audit file (e.g. .lockbox/audit.jsonl); exit 11 if broken')
    .argument('<file>', 'the audit file')
    .option('--tenant <tenant>', "check only this tenant's chain")
    .option('--json', 'print the verdict as JSON')
    .action(async (file: string, opts: { tenant?: string; json?: boolean }) => {
      const info = await stat(file).catch(() => null);
      if (!info?.isFile()) throw new CliError(`cannot read ${file}: no such file`, ExitCode.invalidInput);
      const verdict = await verifyJsonlFile(file, { tenant: opts.tenant });
      if (opts.json) stdio.out(JSON.stringify(verdict, null, 2));
      else {
        stdio.out(`${file}: ${describeVerdict(verdict)}`);
        if (verdict.ok) for (const [tenant, head] of Object.entries(verdict.heads)) stdio.out(`  ${tenant}: ${head.index} events, head ${head.hash}`);
        if (verdict.ok && verdict.count > 0) stdio.out('Keep the heads elsewhere too: a chain cut off at its end still verifies.');
      }
      if (!verdict.ok) process.exitCode = ExitCode.chainBroken;
    });
}

/** `lockbox audit ...` */
export function auditCommand(): Command {
  return new Command('audit').description('read and verify the audit trail').addCommand(tailCommand()).addCommand(verifyCommand());
}
