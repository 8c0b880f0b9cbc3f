import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { TARGET_ENV_PATTERN, TARGET_NAME_PATTERN, type DeclaredTarget } from '../domain/resources.js';

/**
 * The operator's grant targets (docs/security.md, Targets): one JSON object, target name -> declaration, read from
 * LOCKBOX_TARGETS_FILE and/or LOCKBOX_TARGETS at start-up by every worker and API of an installation. Example:
 *
 * ```json
 * { "contoso-crm": { "kind": "postgres", "tenants": ["contoso"], "connection": "LOCKBOX_TARGET_CONTOSO_CRM",
 *                    "database": "crm", "schemas": ["crm"], "privileges": "read" },
 *   "contoso-tickets": { "kind": "webhook", "tenants": ["contoso"], "grantUrl": "https://grants.contoso.example/grant",
 *                        "revokeUrl": "https://grants.contoso.example/revoke", "secret": "LOCKBOX_TARGET_CONTOSO_HOOK" } }
 * ```
 */

const TargetEnv = z.string().regex(TARGET_ENV_PATTERN, 'must name a LOCKBOX_TARGET_ environment variable (LOCKBOX_TARGET_[A-Z0-9_]+)');
const SqlIdent = z.string().regex(/^[a-zA-Z_][a-zA-Z0-9_$]{0,62}$/, 'must be a plain SQL identifier');
const HttpUrl = z.string().max(2048).refine((u) => /^https?:\/\/[^\s]+$/.test(u) && URL.canParse(u), 'must be an http(s) URL');
const Tenants = z
  .array(z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'must be a tenant id: lowercase letters, digits and -'))
  .max(1000)
  .refine((t) => new Set(t).size === t.length, 'must not list a tenant twice');

const PostgresDeclaration = z.strictObject({
  kind: z.literal('postgres'),
  tenants: Tenants,
  connection: TargetEnv,
  database: SqlIdent.optional(),
  schemas: z.array(SqlIdent).min(1).max(20),
  privileges: z.enum(['read', 'write']).default('read'),
});

const WebhookDeclaration = z.strictObject({
  kind: z.literal('webhook'),
  tenants: Tenants,
  grantUrl: HttpUrl,
  revokeUrl: HttpUrl,
  extendUrl: HttpUrl.optional(),
  /** The list call the reconciler uses (docs/webhook-targets.md); without it the target is not reconcilable. */
  listUrl: HttpUrl.optional(),
  secret: TargetEnv,
  timeoutMs: z.number().int().min(100).max(60_000).optional(),
});

/** One declaration; `tenants` may be empty (a retired target, still revoked and reconciled). */
export const TargetDeclarationSchema = z.discriminatedUnion('kind', [PostgresDeclaration, WebhookDeclaration]);

/** The whole catalog as one JSON object keyed by target name. */
export const TargetsSchema = z
  .record(z.string().regex(TARGET_NAME_PATTERN, 'must be a target name: lowercase letters, digits and -, at most 63'), TargetDeclarationSchema)
  .refine((r) => !Object.hasOwn(r, 'builtin'), 'the name builtin is reserved (the built-in grant store)');

export type TargetsParse = { ok: true; targets: DeclaredTarget[] } | { ok: false; problems: string[] };

/** Parses one source's JSON text; each problem names the source and the field (`contoso-crm.connection`). */
export function parseTargets(text: string, source: string): TargetsParse {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    // The parser's message quotes the text around the error: not repeated, as a rule for anything read at start-up.
    return { ok: false, problems: [`${source}: is not valid JSON`] };
  }
  const parsed = TargetsSchema.safeParse(json);
  if (!parsed.success) {
    return {
      ok: false,
      problems: parsed.error.issues.map((i) => {
        // A bad name is reported by zod as "Invalid key in record"; say what a name must be.
        const message = i.code === 'invalid_key' ? (i.issues[0]?.message ?? i.message) : i.message;
        return `${source}: ${i.path.map(String).join('.') || '(targets)'}: ${message}`;
      }),
    };
  }
  return { ok: true, targets: Object.entries(parsed.data).map(([name, d]) => ({ name, ...d })) };
}

/**
 * The declared targets from LOCKBOX_TARGETS_FILE and LOCKBOX_TARGETS (both may be used; a name declared in both is
 * an error), or null when neither is set.
 */
export function loadTargets(env: { file: string | undefined; inline: string | undefined }): TargetsParse | null {
  if (env.file === undefined && env.inline === undefined) return null;
  const problems: string[] = [];
  const targets: DeclaredTarget[] = [];
  const add = (r: TargetsParse, source: string) => {
    if (!r.ok) return problems.push(...r.problems);
    for (const t of r.targets) {
      if (targets.some((x) => x.name === t.name)) problems.push(`${source}: ${t.name}: is declared in LOCKBOX_TARGETS_FILE too`);
      else targets.push(t);
    }
  };
  if (env.file !== undefined) {
    let text: string | null = null;
    try {
      text = readFileSync(env.file, 'utf8');
    } catch (err) {
      problems.push(`LOCKBOX_TARGETS_FILE: cannot read ${env.file} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
    }
    if (text !== null) add(parseTargets(text, `LOCKBOX_TARGETS_FILE (${env.file})`), 'LOCKBOX_TARGETS_FILE');
  }
  if (env.inline !== undefined) add(parseTargets(env.inline, 'LOCKBOX_TARGETS'), 'LOCKBOX_TARGETS');
  return problems.length > 0 ? { ok: false, problems } : { ok: true, targets };
}
