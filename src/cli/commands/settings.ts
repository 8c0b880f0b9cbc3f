import { Command } from 'commander';
import * as schemas from '../../api/schemas.js';
import { apiAction, type ApiContext } from '../common.js';
import { CliError, ExitCode } from '../exit.js';
import { seg } from '../http.js';
import { fields, printJson, when } from '../output.js';
import { addSchemaOptions, pick, schemaFields } from '../schema-options.js';

/** Settings as the API shows them: the PUT body plus version and who changed them last. */
type SettingsView = schemas.SettingsBody & { tenant: string; version: number; updatedAt?: string; updatedBy?: string };

const HELP: Record<string, string> = {
  customerApproval: "the tenant's own approvers must approve (Customer Lockbox)",
  approvers: "the tenant's approvers, e.g. alice@contoso.com,bob@contoso.com",
  quorum: 'distinct approvals needed from the approvers',
  requestTtl: 'how long a request waits for decisions before it expires, e.g. 12h',
  maxAccess: 'the longest access window a request may ask for, e.g. 8h',
  requireTicket: 'requests must name a ticket',
  internalApproval: "a provider-side internal approver must approve first",
  resources:
    'per resource, the grant target the operator declared for this tenant, e.g. \'{"db:crm":{"target":"contoso-crm"}}\' (replaces all; {} for none)',
  escalation: 'a stage nobody decides within `after` also goes to the people on `to`, e.g. \'{"after":"4h","to":["carol@contoso.com"]}\' (null: none)',
  reminders: 'reminders to undecided approvers per stage, e.g. \'{"count":3,"every":"2h"}\' (null: one, an hour before expiry)',
};

const yesNo = (b: boolean) => (b ? 'yes' : 'no');

function render(s: SettingsView): string {
  return fields([
    ['Tenant', s.tenant],
    ['Version', String(s.version)],
    ['Customer approval', yesNo(s.customerApproval)],
    ['Approvers', s.approvers.join(', ') || '(none)'],
    ['Quorum', String(s.quorum)],
    ['Internal approval', yesNo(s.internalApproval)],
    ['Require ticket', yesNo(s.requireTicket)],
    ['Request lifetime', s.requestTtl],
    ['Max access', s.maxAccess],
    ['Escalation', s.escalation ? `after ${s.escalation.after} to ${s.escalation.to.join(', ')}` : '(none)'],
    ['Reminders', s.reminders ? `${s.reminders.count}, every ${s.reminders.every}` : '(one, an hour before expiry)'],
    ['Grant targets', Object.entries(s.resources ?? {}).map(([resource, pick]) => `${resource} -> ${pick.target}`).join(', ') || '(built-in for every resource)'],
    ['Updated', s.updatedAt ? `${when(s.updatedAt)}${s.updatedBy ? ` by ${s.updatedBy}` : ''}` : null],
  ]);
}

function show(ctx: ApiContext, s: SettingsView): void {
  if (ctx.json) printJson(ctx.io, s);
  else ctx.io.out(render(s));
}

function getCommand(): Command {
  const cmd = new Command('get').description("show a tenant's approval settings (tenant admins and operators)").argument('<tenant>', 'tenant id');
  return apiAction(cmd, async (ctx, _opts, [tenant]) => {
    show(ctx, (await ctx.api.get<SettingsView>(`/v1/tenants/${seg(tenant ?? '')}/settings`)).body);
  });
}

function setCommand(): Command {
  const cmd = new Command('set').description('change some of a tenant\'s settings (tenant admins); the others stay as they are').argument('<tenant>', 'tenant id');
  const keys = addSchemaOptions(cmd, schemas.SettingsBody, HELP, () => false);
  cmd.addHelpText(
    'after',
    '\nExamples:\n  lockbox settings set contoso --quorum 2 --approvers alice@contoso.com,bob@contoso.com\n  lockbox settings set contoso --resources \'{"db:crm":{"target":"contoso-crm"}}\'',
  );
  return apiAction(cmd, async (ctx, opts, [tenant]) => {
    const changes = pick(opts, keys);
    if (Object.keys(changes).length === 0) throw new CliError('nothing to change: give at least one setting (see --help)', ExitCode.usage);
    const path = `/v1/tenants/${seg(tenant ?? '')}/settings`;
    const current = await ctx.api.get<SettingsView>(path);
    // If-Match: a change someone else made since our read is not overwritten (412, exit 6).
    const etag = current.headers.get('etag');
    // Required fields come from the current settings; optional ones (e.g. resources) mean "unchanged" when left out.
    const required = schemaFields(schemas.SettingsBody).filter((f) => f.required).map((f) => f.key);
    const body = { ...pick(current.body, required), ...changes };
    show(ctx, (await ctx.api.put<SettingsView>(path, body, etag ? { 'if-match': etag } : undefined)).body);
  });
}

/** `lockbox settings ...` */
export function settingsCommand(): Command {
  return new Command('settings').description("a tenant's approval settings").addCommand(getCommand()).addCommand(setCommand());
}
