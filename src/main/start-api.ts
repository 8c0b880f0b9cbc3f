import type { Server } from 'node:http';
import { Client, type Connection } from '@temporalio/client';
import type { NativeConnection } from '@temporalio/worker';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { createApp } from '../api/app.js';
import { staticTokenAuthenticator, type Authenticator } from '../api/auth.js';
import { createOidcAuthenticator } from '../api/auth-oidc.js';
import { createLockboxClient } from '../client/lockbox-client.js';
import { ConfigError, requireOidc, type Config } from '../config/index.js';
import { seedDemoSettings } from './demo-seed.js';
import { DEMO_INTERNAL_APPROVERS, DEMO_TOKENS, demoTenantSettings } from '../config/demo.js';
import { loadKeys } from '../config/keys.js';
import type { Logger } from '../config/logger.js';
import type { Store } from '../ports/store.js';
import { connectClient } from './connection.js';
import { registry as processMetrics } from './metrics.js';
import { temporalReadiness } from './readiness.js';
import { clientTracingInterceptors, startTracing, TraceComponent } from './tracing.js';
import type { Adapters } from './stack.js';
import { anyOf, createPortalAuth, stepUpExempt } from './portal-auth.js';

/** Starts the HTTP API; resolves once it listens. */
export async function startApi(config: Config, address: string, adapters: Pick<Adapters, 'store' | 'vault' | 'audit'>, log: Logger, opts: {
  /** More bearer authenticators after the demo tokens (embedded: the demo OpenID provider's access tokens). */
  extraAuth?: Authenticator[];
  /**
   * The worker's connection, when the worker runs in this process (`npm start`): the API's calls go through it, over
   * the SDK's native (Rust) gRPC client off the event loop, instead of a second, JavaScript gRPC client on it
   * (docs/capacity.md). The caller closes it.
   */
  workerConnection?: NativeConnection;
} = {}): Promise<{
  url: string;
  stop(): Promise<void>;
}> {
  const { signing } = await loadKeys(config, { signing: true, trusted: false });
  if (!signing) throw new ConfigError('invalid configuration:\n  LOCKBOX_SIGNING_KEY: required');
  const { store, vault } = adapters;
  // Demo tokens are exempt from step-up: no login stands behind them (docs/sign-in.md).
  const auth = config.mode === 'embedded' ? anyOf(stepUpExempt(await demoDirectory(config, store)), ...(opts.extraAuth ?? [])) : oidcBearer(config, log);
  const portalAuth = createPortalAuth(config, store, log);
  let own: Connection | null = null;
  const connection = opts.workerConnection ?? (own = await connectClient(config, address));
  // Traced as lockbox-api when OTEL_EXPORTER_OTLP_ENDPOINT is set: HTTP spans, and the client's starts and updates.
  const tracing = startTracing(TraceComponent.api, log);
  const client = new Client({ connection, namespace: config.namespace, ...(tracing ? { interceptors: clientTracingInterceptors(tracing) } : {}) });
  const app = createApp({
    config,
    lockbox: createLockboxClient(client, config.taskQueue),
    store,
    vault,
    audit: adapters.audit,
    auth: rememberUsers(auth, store, log),
    portalAuth,
    signer: signing,
    internalApprovers: config.mode === 'embedded' ? [...new Set([...DEMO_INTERNAL_APPROVERS, ...config.internalApprovers])] : config.internalApprovers,
    log,
    readiness: temporalReadiness(client, config.namespace, config.taskQueue),
    // GET /metrics serves the HTTP metrics and everything the process registered (the reconciler's).
    metricsRegistries: [processMetrics, nodeMetrics()],
    ...(tracing ? { tracer: tracing.tracer } : {}),
  });
  const server: Server = await new Promise((resolve, reject) => {
    const s = app.listen(config.port, config.host, () => resolve(s));
    s.once('error', reject);
  });
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : config.port;
  return {
    url: `http://${config.host}:${port}`,
    async stop() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      await closed;
      portalAuth.close();
      await own?.close();
      await tracing?.shutdown();
    },
  };
}

/** The Node process's own metrics (CPU, memory, event loop lag), once per process. */
let nodeRegistry: Registry | undefined;
function nodeMetrics(): Registry {
  if (!nodeRegistry) {
    nodeRegistry = new Registry();
    collectDefaultMetrics({ register: nodeRegistry });
  }
  return nodeRegistry;
}

/** Demo identities and tenants (embedded default only). Seeding keeps what a tenant admin changed since. */
async function demoDirectory(config: Config, store: Store): Promise<Authenticator> {
  const now = new Date().toISOString();
  for (const p of Object.values(DEMO_TOKENS)) await store.upsertUser({ ...p, lastSeenAt: now });
  await seedDemoSettings(store, demoTenantSettings(config), now);
  return staticTokenAuthenticator(DEMO_TOKENS);
}

/** Production: OIDC bearer JWTs only; demo tokens are refused. Without the LOCKBOX_OIDC_* settings it will not start. */
function oidcBearer(config: Config, log: Logger): Authenticator {
  return createOidcAuthenticator({ ...requireOidc(config), onRefused: (reason) => log.warn('bearer token refused', { reason }) });
}

const REMEMBER_EVERY_MS = 5 * 60_000;

/** Records who signed in (at most every 5 minutes per person), so "approvers exist" can be checked against it. */
function rememberUsers(auth: Authenticator, store: Store, log: Logger): Authenticator {
  const seen = new Map<string, number>();
  return {
    async authenticate(token, refused) {
      const p = await auth.authenticate(token, refused);
      if (p && Date.now() - (seen.get(p.id) ?? 0) > REMEMBER_EVERY_MS) {
        seen.set(p.id, Date.now());
        await store.upsertUser({ id: p.id, roles: p.roles, tenantRoles: p.tenantRoles, lastSeenAt: new Date().toISOString() }).catch((err) => {
          log.warn('could not record user', { user: p.id, error: err instanceof Error ? err.message : String(err) });
        });
      }
      return p;
    },
  };
}
