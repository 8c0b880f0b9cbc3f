import type { Tracer } from '@opentelemetry/api';
import type { Registry } from 'prom-client';
import type { LockboxClient } from '../client/lockbox-client.js';
import type { Config } from '../config/index.js';
import type { Logger } from '../config/logger.js';
import type { SigningKey } from '../domain/signing.js';
import type { AuditSink } from '../ports/audit-sink.js';
import type { CredentialVault } from '../ports/credential-vault.js';
import type { Store } from '../ports/store.js';
import type { Authenticator } from './auth.js';
import type { PortalAuth } from './session/routes.js';

/** Result of the readiness probe: ok only when every dependency answers. */
export interface Readiness {
  ok: boolean;
  checks: Record<string, string>;
}

/** Everything the HTTP API needs, built once at start-up. */
export interface ApiDeps {
  /** `targets`: the operator's declared grant targets; absent, none is allowed (built-in grants only). */
  config: Pick<Config, 'maxAccessMs' | 'requestTtlMs'> & Partial<Pick<Config, 'grantDeadlineMs' | 'targets' | 'breakGlassPerDay'>>;
  lockbox: LockboxClient;
  store: Store;
  /** Issued credentials (encrypted at rest); handed only to the requester while access is active. */
  vault: CredentialVault;
  /** The primary audit sink: the pull feed reads from it. */
  audit: AuditSink;
  auth: Authenticator;
  /** Portal sign-in and sessions (cookie), step-up; absent: bearer tokens only, no step-up. */
  portalAuth?: PortalAuth;
  /** Signs what the API has authorised (requests and decisions); the worker trusts only this key. */
  signer: SigningKey;
  /** Provider-side internal approvers. */
  internalApprovers: readonly string[];
  log: Logger;
  readiness: () => Promise<Readiness>;
  /** Registries `GET /metrics` serves besides the API's own HTTP metrics (the process's, e.g. the reconciler's). */
  metricsRegistries?: readonly Registry[];
  /** Set only when tracing is on (OTEL_EXPORTER_OTLP_ENDPOINT): a server span per request. */
  tracer?: Tracer;
  clock?: () => Date;
}
