/**
 * The one configuration schema: every environment variable Lockbox reads, each with its meaning beside it, checked
 * together at start-up so a bad deployment fails naming every variable at once. Over ~300 lines for that reason: the
 * variables stay in one place, like the API's route table (src/api/openapi.ts); only the bearer-token settings
 * (oidc.ts), the worker's sizing (worker-sizing.ts) and its metrics addresses (metrics-addresses.ts) have files of
 * their own, whose schemas this one takes in.
 */
import { resolve } from 'node:path';
import { z } from 'zod';
import { parseOutboundAllow, type OutboundAllowEntry } from '../domain/outbound-policy.js';
import { catalogOf, type TargetCatalog } from '../domain/resources.js';
import { demoTargets } from './demo.js';
import { bool, duration, port, text, unsetIfEmpty } from './env-values.js';
import { parseDuration } from '../domain/duration.js';
import { OIDC_REQUIRED, OidcEnv, oidcConfigOf, type OidcConfig } from './oidc.js';
import { MetricsAddressEnv, metricsAddressProblems } from './metrics-addresses.js';
import { loadTargets } from './targets.js';
import { WorkerSizingEnv, workerSizingOf, type WorkerSizing } from './worker-sizing.js';

/** Every environment variable Lockbox reads; all optional. */
const EnvSchema = z.object({
  LOCKBOX_MODE: z.enum(['embedded', 'production']).default('embedded'),
  LOCKBOX_PORT: port(3000),
  LOCKBOX_HOST: z.string().default('127.0.0.1'),
  LOCKBOX_DATA_DIR: z.string().min(1).default('./.lockbox'),
  LOCKBOX_DATABASE_URL: z.string().regex(/^postgres(ql)?:\/\//, 'must be a postgres:// or postgresql:// URL').optional(),
  LOCKBOX_TEMPORAL_PORT: port(7233),
  TEMPORAL_ADDRESS: z.string().min(1).optional(),
  TEMPORAL_NAMESPACE: z.string().min(1).default('lockbox'),
  /**
   * Connection to an existing Temporal (TEMPORAL_ADDRESS), named as Temporal's CLI and SDK environment
   * configuration name them. Secrets (the API key, the client key) are never logged.
   */
  TEMPORAL_API_KEY: text,
  TEMPORAL_TLS: bool,
  TEMPORAL_TLS_CLIENT_CERT_PATH: text,
  TEMPORAL_TLS_CLIENT_CERT_DATA: text,
  TEMPORAL_TLS_CLIENT_KEY_PATH: text,
  TEMPORAL_TLS_CLIENT_KEY_DATA: text,
  TEMPORAL_TLS_SERVER_CA_CERT_PATH: text,
  TEMPORAL_TLS_SERVER_CA_CERT_DATA: text,
  TEMPORAL_TLS_SERVER_NAME: text,
  TEMPORAL_TLS_DISABLE_HOST_VERIFICATION: bool.refine((v) => v !== true, 'is not supported by the TypeScript SDK; use TEMPORAL_TLS_SERVER_NAME to name the host the certificate was issued for'),
  /** Worker: where its metrics are served (the SDK's, Lockbox's own): src/config/metrics-addresses.ts. */
  ...MetricsAddressEnv,
  /** Worker: a workflow bundle built ahead of time (`npm run build:workflows`); default dist/workflow-bundle.js if present. */
  LOCKBOX_WORKFLOW_BUNDLE: text,
  LOCKBOX_TASK_QUEUE: z.string().min(1).default('lockbox'),
  LOCKBOX_REQUEST_TTL: duration('12h'),
  LOCKBOX_MAX_ACCESS: duration('8h'),
  /** How long a grant may keep failing transiently at its target before the request ends failed. */
  LOCKBOX_GRANT_DEADLINE: duration('5m'),
  /** Break-glass: emergency requests per responder and tenant in any 24 hours (docs/break-glass.md). */
  LOCKBOX_BREAK_GLASS_PER_DAY: z.coerce.number().int().min(1).max(1000).default(3),
  /** API: `<keyId>:<64 hex>` Ed25519 secret key that signs requests and decisions. */
  LOCKBOX_SIGNING_KEY: z
    .string()
    .regex(/^[\w.-]{1,64}:[0-9a-f]{64}$/, 'must be <keyId>:<64 hex characters> (an Ed25519 secret key)')
    .optional(),
  /** Worker: `<keyId>:<64 hex>[,...]` Ed25519 public keys of the API (several during a key rotation). */
  LOCKBOX_TRUSTED_KEYS: z
    .string()
    .regex(/^[\w.-]{1,64}:[0-9a-f]{64}(,[\w.-]{1,64}:[0-9a-f]{64})*$/, 'must be <keyId>:<64 hex>[,<keyId>:<64 hex>...]')
    .optional(),
  /** Base64 of 32 bytes: encrypts issued credentials (e.g. PostgreSQL passwords) at rest. */
  LOCKBOX_CREDENTIAL_KEY: z
    .string()
    .refine((v) => Buffer.from(v, 'base64').length === 32, 'must be the base64 of 32 random bytes (openssl rand -base64 32)')
    .optional(),
  /** Audit sinks, comma-separated, several at once: jsonl (the data dir's audit.jsonl), postgres, http. */
  LOCKBOX_AUDIT_SINKS: z
    .string()
    .default('jsonl')
    .transform((v) => v.split(',').map((x) => x.trim()).filter(Boolean))
    .pipe(z.array(z.enum(['jsonl', 'postgres', 'http'])).min(1, 'name at least one sink').refine((a) => a.some((x) => x !== 'http'), 'needs jsonl or postgres too (the pull API reads from it)')),
  LOCKBOX_AUDIT_DATABASE_URL: z.string().regex(/^postgres(ql)?:\/\//, 'must be a postgres:// URL').optional(),
  LOCKBOX_AUDIT_HTTP_URL: z.string().url().optional(),
  LOCKBOX_AUDIT_HTTP_SECRET: z.string().min(16, 'must be at least 16 characters').optional(),
  LOCKBOX_AUDIT_HTTP_FORMAT: z.enum(['native', 'ocsf', 'splunk-hec']).default('native'),
  LOCKBOX_AUDIT_SPLUNK_TOKEN: z.string().min(1).optional(),
  /** `smtp://user:pass@host:port?from=lockbox@example.com` (smtps:// for TLS). */
  LOCKBOX_SMTP_URL: z.string().regex(/^smtps?:\/\//, 'must be an smtp:// or smtps:// URL').optional(),
  LOCKBOX_SLACK_WEBHOOK_URL: z.string().url().optional(),
  LOCKBOX_NOTIFY_WEBHOOK_URL: z.string().url().optional(),
  LOCKBOX_NOTIFY_WEBHOOK_SECRET: z.string().min(16, 'must be at least 16 characters').optional(),
  /** Links in messages point here, e.g. https://lockbox.example.com (default: the API's own URL). */
  LOCKBOX_PORTAL_URL: z.string().url().optional(),
  /** Provider-side internal approvers (user ids, comma-separated). */
  LOCKBOX_INTERNAL_APPROVERS: z.string().default(''),
  /** How often the reconciler's schedule runs (docs/reconcile.md). */
  LOCKBOX_RECONCILE_INTERVAL: duration('1m'),
  /**
   * Worker: how often it ends the open sessions of PostgreSQL roles whose window has ended (docs/security.md,
   * Targets, "Sessions end with the window"); `off` to leave that to the revoke alone.
   */
  LOCKBOX_TARGET_SESSION_SWEEP: z.preprocess(
    unsetIfEmpty,
    z
      .string()
      .default('500ms')
      .transform((text, ctx) => {
        const ms = text.trim() === 'off' ? 0 : parseDuration(text);
        if (ms === null) {
          ctx.addIssue({ code: 'custom', message: `"${text}" is not a duration (write 500ms or 2s) or off` });
          return z.NEVER;
        }
        return ms;
      }),
  ),
  /** What the reconciler does when an active request's access is missing at its target. */
  LOCKBOX_RECONCILE_DRIFT: z.enum(['restore', 'fail']).default('fail'),
  /** Outbound HTTP exceptions (docs/security.md): host, host:port, IP, ip:port or CIDR, comma-separated; default none. */
  LOCKBOX_OUTBOUND_ALLOW: z.string().default('').transform((v, ctx) => {
    const parsed = parseOutboundAllow(v);
    if (parsed.ok) return parsed.entries;
    ctx.addIssue({ code: 'custom', message: parsed.message });
    return z.NEVER;
  }),
  /** Grant targets (docs/security.md, Targets): a JSON file, and/or the same JSON inline; see src/config/targets.ts. */
  LOCKBOX_TARGETS_FILE: text,
  LOCKBOX_TARGETS: text,
  /**
   * The OpenID provider (LOCKBOX_OIDC_ISSUER) and the bearer tokens' settings: src/config/oidc.ts. Portal sign-in
   * (docs/sign-in.md) is the authorization code flow with PKCE at that issuer.
   */
  ...OidcEnv,
  ...WorkerSizingEnv,
  /** The portal's client id at the issuer; sign-in is on when it is set (and always in the embedded default). */
  LOCKBOX_OIDC_CLIENT_ID: text,
  /** Secret: never logged. Unset: a public client (PKCE only). */
  LOCKBOX_OIDC_CLIENT_SECRET: text,
  /** Where the provider sends people back; default `<LOCKBOX_PORTAL_URL>/auth/callback`. */
  LOCKBOX_OIDC_REDIRECT_URI: z.preprocess(unsetIfEmpty, z.string().url().optional()),
  /**
   * `lockbox login` (docs/cli.md): the command line's public client id at the issuer (device authorization grant,
   * RFC 8628, with refresh tokens). Unset: no CLI sign-in (bearer tokens only). The embedded default's is the demo provider's.
   */
  LOCKBOX_OIDC_CLI_CLIENT_ID: text,
  /** The resource indicator (RFC 8707) the CLI asks for, when the issuer needs one to issue access tokens for this API. */
  LOCKBOX_OIDC_CLI_RESOURCE: text,
  /** Space-separated scopes asked for at sign-in. */
  LOCKBOX_OIDC_SCOPES: z.preprocess(unsetIfEmpty, z.string().default('openid email profile')),
  /** A portal session ends this long after sign-in, whatever the activity. */
  LOCKBOX_SESSION_TTL: duration('12h'),
  /** ... or after this long without a call. */
  LOCKBOX_SESSION_IDLE: duration('30m'),
  /** Approve, reject and revoke need a login at the provider at most this long ago (0s: no step-up). */
  LOCKBOX_STEP_UP_MAX_AGE: duration('10m'),
  /** Session cookies only over https; default: on when LOCKBOX_PORTAL_URL is https. */
  LOCKBOX_SESSION_COOKIE_SECURE: bool,
  /** Embedded default: the local demo OpenID provider's port (default: the API's port + 1, else a free one). */
  LOCKBOX_DEV_OIDC_PORT: z.preprocess(unsetIfEmpty, z.coerce.number().int().min(1).max(65535).optional()),
});

export interface Config {
  mode: 'embedded' | 'production';
  port: number;
  host: string;
  dataDir: string;
  databaseUrl: string | undefined;
  temporalPort: number;
  /** Set when Lockbox uses an existing Temporal server instead of starting its own. */
  temporalAddress: string | undefined;
  namespace: string;
  /** How to reach TEMPORAL_ADDRESS (TLS, API key); see src/main/connection.ts. */
  temporalConnection: TemporalConnectionConfig;
  taskQueue: string;
  /** Worker: where the SDK serves Prometheus runtime metrics (`host:port`), when set. */
  workerMetricsAddress: string | undefined;
  /** Worker-only process: where Lockbox's own metrics (the process registry) are served (`host:port`), when set. */
  appMetricsAddress: string | undefined;
  /** Worker: an explicitly configured prebuilt workflow bundle. */
  workflowBundle: string | undefined;
  /** Lifetime given to tenants that opt in without choosing one (and to the demo tenants). */
  requestTtlMs: number;
  /** The longest window any tenant may allow. */
  maxAccessMs: number;
  /** How long a grant may keep failing transiently before the request ends `failed` (and its clean-up's bound). */
  grantDeadlineMs: number;
  /** Break-glass: emergency requests a responder may file per tenant in any 24 hours. */
  breakGlassPerDay: number;
  /** Secret: never logged. */
  signingKey: { keyId: string; secretKey: string } | undefined;
  trustedKeys: Record<string, string> | undefined;
  internalApprovers: string[];
  /** Secret: never logged. */
  credentialKey: string | undefined;
  audit: {
    sinks: Array<'jsonl' | 'postgres' | 'http'>;
    databaseUrl: string | undefined;
    http: { url: string | undefined; secret: string | undefined; format: 'native' | 'ocsf' | 'splunk-hec'; splunkToken: string | undefined };
  };
  notify: {
    smtpUrl: string | undefined;
    slackWebhookUrl: string | undefined;
    webhookUrl: string | undefined;
    webhookSecret: string | undefined;
    portalUrl: string;
  };
  /**
   * The grant targets the operator declared, and the tenants each may serve. Embedded default without a
   * declaration: the demo's contoso CRM, for contoso only. Production without one: none (built-in grants only).
   */
  targets: TargetCatalog;
  /** Destinations outbound HTTP may reach although the rules refuse their addresses (loopback, private, ...). */
  outboundAllow: OutboundAllowEntry[];
  /** Portal sign-in and sessions (docs/sign-in.md). */
  signIn: SignInConfig;
  /**
   * Bearer-token verification (LOCKBOX_OIDC_*), when configured; production mode's API requires it
   * ({@link requireOidc}), the embedded default accepts the demo tokens instead.
   */
  oidc: OidcConfig | undefined;
  /** The worker's cache and concurrency (docs/capacity.md); empty: the SDK's defaults. */
  workerSizing: WorkerSizing;
  reconcile: {
    intervalMs: number;
    /** `fail`: report drift (audit, metric, log); `restore`: also grant it again. */
    drift: 'restore' | 'fail';
  };
  /** Worker: ms between passes that end sessions outliving their window at PostgreSQL targets; 0: never. */
  targetSessionSweepMs: number;
}

/** Portal sign-in: the OpenID provider and client, the session's limits and the step-up rule. */
export interface SignInConfig {
  /** Unset in the embedded default until dev.ts starts the local demo provider and fills it in. */
  issuer: string | undefined;
  clientId: string | undefined;
  /** Secret: never logged. Undefined: a public client (PKCE only). */
  clientSecret: string | undefined;
  /** Undefined: `<portal url>/auth/callback`. */
  redirectUri: string | undefined;
  scopes: string[];
  /** `lockbox login`'s public client id (device flow); undefined: no CLI sign-in. */
  cliClientId: string | undefined;
  /** The resource indicator the CLI sends, when the issuer needs one. */
  cliResource: string | undefined;
  sessionTtlMs: number;
  sessionIdleMs: number;
  /** 0: no step-up. TODO(issue 15): a per-tenant field in tenant settings; global for now. */
  stepUpMaxAgeMs: number;
  cookieSecure: boolean;
  devProviderPort: number | undefined;
}

/** TEMPORAL_API_KEY and TEMPORAL_TLS_*, as given (files are read when connecting). */
export interface TemporalConnectionConfig {
  /** Secret: never logged. */
  apiKey: string | undefined;
  /** TEMPORAL_TLS: true/false forces TLS on/off; undefined: on when an API key or any TLS setting is given. */
  tls: boolean | undefined;
  clientCertPath: string | undefined;
  clientCertData: string | undefined;
  clientKeyPath: string | undefined;
  /** Secret: never logged. */
  clientKeyData: string | undefined;
  serverCaCertPath: string | undefined;
  serverCaCertData: string | undefined;
  serverName: string | undefined;
}

/** Thrown at start-up; the message names each bad variable. Never includes a value that could be a secret. */
export class ConfigError extends Error {}

/** Parses the environment once per process; fails fast with a message naming the variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = EnvSchema.safeParse(env);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`);
    throw new ConfigError(`invalid configuration:\n${lines.join('\n')}`);
  }
  const e = parsed.data;
  const needs = [
    ...(e.LOCKBOX_AUDIT_SINKS.includes('postgres') && !(e.LOCKBOX_AUDIT_DATABASE_URL ?? e.LOCKBOX_DATABASE_URL)
      ? ['LOCKBOX_AUDIT_DATABASE_URL: required for the postgres audit sink (or set LOCKBOX_DATABASE_URL)']
      : []),
    ...(e.LOCKBOX_AUDIT_SINKS.includes('http') && !e.LOCKBOX_AUDIT_HTTP_URL ? ['LOCKBOX_AUDIT_HTTP_URL: required for the http audit sink'] : []),
    ...(e.LOCKBOX_AUDIT_SINKS.includes('http') && e.LOCKBOX_AUDIT_HTTP_FORMAT !== 'splunk-hec' && !e.LOCKBOX_AUDIT_HTTP_SECRET
      ? ['LOCKBOX_AUDIT_HTTP_SECRET: required to sign the http audit sink\'s batches']
      : []),
    ...(e.LOCKBOX_AUDIT_HTTP_FORMAT === 'splunk-hec' && e.LOCKBOX_AUDIT_SINKS.includes('http') && !e.LOCKBOX_AUDIT_SPLUNK_TOKEN
      ? ['LOCKBOX_AUDIT_SPLUNK_TOKEN: required for the splunk-hec format']
      : []),
    ...(e.TEMPORAL_TLS_CLIENT_CERT_PATH && e.TEMPORAL_TLS_CLIENT_CERT_DATA ? ['TEMPORAL_TLS_CLIENT_CERT_PATH: set it or TEMPORAL_TLS_CLIENT_CERT_DATA, not both'] : []),
    ...(e.TEMPORAL_TLS_CLIENT_KEY_PATH && e.TEMPORAL_TLS_CLIENT_KEY_DATA ? ['TEMPORAL_TLS_CLIENT_KEY_PATH: set it or TEMPORAL_TLS_CLIENT_KEY_DATA, not both'] : []),
    ...(e.TEMPORAL_TLS_SERVER_CA_CERT_PATH && e.TEMPORAL_TLS_SERVER_CA_CERT_DATA ? ['TEMPORAL_TLS_SERVER_CA_CERT_PATH: set it or TEMPORAL_TLS_SERVER_CA_CERT_DATA, not both'] : []),
    ...(Boolean(e.TEMPORAL_TLS_CLIENT_CERT_PATH ?? e.TEMPORAL_TLS_CLIENT_CERT_DATA) !== Boolean(e.TEMPORAL_TLS_CLIENT_KEY_PATH ?? e.TEMPORAL_TLS_CLIENT_KEY_DATA)
      ? ['TEMPORAL_TLS_CLIENT_CERT_PATH: a client certificate and its key (TEMPORAL_TLS_CLIENT_KEY_PATH) go together']
      : []),
    ...(e.LOCKBOX_NOTIFY_WEBHOOK_URL && !e.LOCKBOX_NOTIFY_WEBHOOK_SECRET ? ['LOCKBOX_NOTIFY_WEBHOOK_SECRET: required with LOCKBOX_NOTIFY_WEBHOOK_URL'] : []),
    ...(e.LOCKBOX_RECONCILE_INTERVAL < 1000 ? ['LOCKBOX_RECONCILE_INTERVAL: must be at least 1s (schedules count in whole seconds)'] : []),
    ...(e.LOCKBOX_OIDC_CLIENT_ID && !e.LOCKBOX_OIDC_ISSUER ? ['LOCKBOX_OIDC_ISSUER: required with LOCKBOX_OIDC_CLIENT_ID'] : []),
    ...(e.LOCKBOX_OIDC_CLI_CLIENT_ID && !e.LOCKBOX_OIDC_ISSUER ? ['LOCKBOX_OIDC_ISSUER: required with LOCKBOX_OIDC_CLI_CLIENT_ID'] : []),
    ...(e.LOCKBOX_OIDC_CLI_RESOURCE && !e.LOCKBOX_OIDC_CLI_CLIENT_ID ? ['LOCKBOX_OIDC_CLI_CLIENT_ID: required with LOCKBOX_OIDC_CLI_RESOURCE'] : []),
    // Checked only for sign-in: a bearer-only deployment compares the issuer as a string and never fetches it.
    ...((e.LOCKBOX_OIDC_CLIENT_ID ?? e.LOCKBOX_OIDC_CLI_CLIENT_ID) && e.LOCKBOX_OIDC_ISSUER && !/^https:\/\/[^/]|^http:\/\/(127\.0\.0\.1|localhost|\[::1\])([:/]|$)/.test(e.LOCKBOX_OIDC_ISSUER)
      ? ['LOCKBOX_OIDC_ISSUER: must be an https URL for sign-in (http only on 127.0.0.1 or localhost)']
      : []),
    ...(e.LOCKBOX_SESSION_IDLE < 60_000 || e.LOCKBOX_SESSION_TTL < e.LOCKBOX_SESSION_IDLE ? ['LOCKBOX_SESSION_IDLE: must be at least 1m and at most LOCKBOX_SESSION_TTL'] : []),
  ];
  const bearer = oidcConfigOf(e);
  needs.push(...bearer.problems);
  needs.push(...metricsAddressProblems(e));
  const declared = loadTargets({ file: e.LOCKBOX_TARGETS_FILE, inline: e.LOCKBOX_TARGETS });
  if (declared && !declared.ok) needs.push(...declared.problems);
  if (needs.length > 0) throw new ConfigError(`invalid configuration:\n${needs.map((n) => `  ${n}`).join('\n')}`);
  return {
    mode: e.LOCKBOX_MODE,
    port: e.LOCKBOX_PORT,
    host: e.LOCKBOX_HOST,
    dataDir: resolve(e.LOCKBOX_DATA_DIR),
    databaseUrl: e.LOCKBOX_DATABASE_URL,
    temporalPort: e.LOCKBOX_TEMPORAL_PORT,
    temporalAddress: e.TEMPORAL_ADDRESS,
    namespace: e.TEMPORAL_NAMESPACE,
    temporalConnection: {
      apiKey: e.TEMPORAL_API_KEY,
      tls: e.TEMPORAL_TLS,
      clientCertPath: e.TEMPORAL_TLS_CLIENT_CERT_PATH,
      clientCertData: e.TEMPORAL_TLS_CLIENT_CERT_DATA,
      clientKeyPath: e.TEMPORAL_TLS_CLIENT_KEY_PATH,
      clientKeyData: e.TEMPORAL_TLS_CLIENT_KEY_DATA,
      serverCaCertPath: e.TEMPORAL_TLS_SERVER_CA_CERT_PATH,
      serverCaCertData: e.TEMPORAL_TLS_SERVER_CA_CERT_DATA,
      serverName: e.TEMPORAL_TLS_SERVER_NAME,
    },
    taskQueue: e.LOCKBOX_TASK_QUEUE,
    workerMetricsAddress: e.LOCKBOX_WORKER_METRICS_ADDRESS,
    appMetricsAddress: e.LOCKBOX_APP_METRICS_ADDRESS,
    workflowBundle: e.LOCKBOX_WORKFLOW_BUNDLE,
    requestTtlMs: e.LOCKBOX_REQUEST_TTL,
    maxAccessMs: e.LOCKBOX_MAX_ACCESS,
    grantDeadlineMs: e.LOCKBOX_GRANT_DEADLINE,
    breakGlassPerDay: e.LOCKBOX_BREAK_GLASS_PER_DAY,
    signingKey: e.LOCKBOX_SIGNING_KEY ? keyPair(e.LOCKBOX_SIGNING_KEY, 'secretKey') : undefined,
    trustedKeys: e.LOCKBOX_TRUSTED_KEYS
      ? Object.fromEntries(e.LOCKBOX_TRUSTED_KEYS.split(',').map((k) => Object.values(keyPair(k, 'publicKey'))))
      : undefined,
    credentialKey: e.LOCKBOX_CREDENTIAL_KEY,
    audit: {
      sinks: e.LOCKBOX_AUDIT_SINKS,
      databaseUrl: e.LOCKBOX_AUDIT_DATABASE_URL ?? e.LOCKBOX_DATABASE_URL,
      http: { url: e.LOCKBOX_AUDIT_HTTP_URL, secret: e.LOCKBOX_AUDIT_HTTP_SECRET, format: e.LOCKBOX_AUDIT_HTTP_FORMAT, splunkToken: e.LOCKBOX_AUDIT_SPLUNK_TOKEN },
    },
    notify: {
      smtpUrl: e.LOCKBOX_SMTP_URL,
      slackWebhookUrl: e.LOCKBOX_SLACK_WEBHOOK_URL,
      webhookUrl: e.LOCKBOX_NOTIFY_WEBHOOK_URL,
      webhookSecret: e.LOCKBOX_NOTIFY_WEBHOOK_SECRET,
      portalUrl: e.LOCKBOX_PORTAL_URL ?? `http://${e.LOCKBOX_HOST}:${e.LOCKBOX_PORT}`,
    },
    internalApprovers: e.LOCKBOX_INTERNAL_APPROVERS.split(',').map((s) => s.trim()).filter(Boolean),
    reconcile: { intervalMs: e.LOCKBOX_RECONCILE_INTERVAL, drift: e.LOCKBOX_RECONCILE_DRIFT },
    targetSessionSweepMs: e.LOCKBOX_TARGET_SESSION_SWEEP,
    signIn: {
      issuer: e.LOCKBOX_OIDC_ISSUER,
      clientId: e.LOCKBOX_OIDC_CLIENT_ID,
      clientSecret: e.LOCKBOX_OIDC_CLIENT_SECRET,
      redirectUri: e.LOCKBOX_OIDC_REDIRECT_URI,
      scopes: e.LOCKBOX_OIDC_SCOPES.split(/\s+/).filter(Boolean),
      cliClientId: e.LOCKBOX_OIDC_CLI_CLIENT_ID,
      cliResource: e.LOCKBOX_OIDC_CLI_RESOURCE,
      sessionTtlMs: e.LOCKBOX_SESSION_TTL,
      sessionIdleMs: e.LOCKBOX_SESSION_IDLE,
      stepUpMaxAgeMs: e.LOCKBOX_STEP_UP_MAX_AGE,
      cookieSecure: e.LOCKBOX_SESSION_COOKIE_SECURE ?? (e.LOCKBOX_PORTAL_URL ?? '').startsWith('https:'),
      devProviderPort: e.LOCKBOX_DEV_OIDC_PORT,
    },
    oidc: bearer.oidc,
    workerSizing: workerSizingOf(e),
    outboundAllow: e.LOCKBOX_OUTBOUND_ALLOW,
    targets: catalogOf(declared?.ok ? declared.targets : e.LOCKBOX_MODE === 'embedded' ? demoTargets() : []),
  };
}

/**
 * The bearer-token settings, for the API in production mode (it accepts nothing else); a worker has no use for them.
 * @throws ConfigError naming each required setting that is missing.
 */
export function requireOidc(config: Pick<Config, 'oidc' | 'signIn'>): OidcConfig {
  if (config.oidc) return config.oidc;
  // Without the audience and the JWKS URL (one without the other fails loadConfig); the issuer may be sign-in's.
  const missing = OIDC_REQUIRED.filter((v) => v !== 'LOCKBOX_OIDC_ISSUER' || !config.signIn.issuer);
  throw new ConfigError(`invalid configuration:\n${missing.map((v) => `  ${v}: required in production mode`).join('\n')}`);
}

function keyPair<K extends string>(text: string, field: K): { keyId: string } & Record<K, string> {
  const i = text.indexOf(':');
  return { keyId: text.slice(0, i), [field]: text.slice(i + 1) } as { keyId: string } & Record<K, string>;
}
