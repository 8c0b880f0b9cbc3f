/** The full Temporal server's config files: one `postgres12` datastore each for history and visibility, optional TLS. */
import type { TemporalPostgres } from './schema.js';

/** TLS on the frontend: what the server presents, whom it accepts, and what its own system worker presents. */
export interface TemporalServerTls {
  /** PEM files. */
  serverCertFile: string;
  serverKeyFile: string;
  /** CAs whose client certificates the frontend accepts. */
  clientCaFiles: string[];
  /** Default true: a client without a certificate signed by `clientCaFiles` is refused. */
  requireClientAuth?: boolean;
  /** The name in the server certificate that internal clients check, e.g. `localhost`. */
  serverName: string;
  /** CAs that internal clients use to check the server certificate. */
  rootCaFiles: string[];
  /** The certificate the server's own system worker (and the readiness check) presents. */
  clientCertFile: string;
  clientKeyFile: string;
}

/** Dynamic config: new search attributes are visible at once, namespaces are picked up within a second. */
export const DYNAMIC_CONFIG = `
system.forceSearchAttributesCacheRefreshOnRead:
  - value: true
system.namespaceCacheRefreshInterval:
  - value: 1s
frontend.enableUpdateWorkflowExecution:
  - value: true
frontend.enableUpdateWorkflowExecutionAsyncAccepted:
  - value: true
`;

/** The server's config file, `config/development.yaml` under the working directory. */
export function temporalServerConfig(o: {
  ports: { frontend: number; frontendHttp: number; history: number; matching: number; worker: number; membership: [number, number, number, number] };
  postgres: TemporalPostgres;
  tls?: TemporalServerTls;
  logLevel: string;
  dynamicConfigFile: string;
}): string {
  const q = (s: string) => JSON.stringify(s); // JSON strings are valid YAML scalars
  const store = (db: string, conns: number) => [
    '      sql:',
    '        pluginName: "postgres12"',
    `        databaseName: ${q(db)}`,
    `        connectAddr: ${q(`${o.postgres.host}:${o.postgres.port}`)}`,
    '        connectProtocol: "tcp"',
    `        user: ${q(o.postgres.user)}`,
    `        password: ${q(o.postgres.password ?? '')}`,
    `        maxConns: ${conns}`,
    `        maxIdleConns: ${conns}`,
    '        maxConnLifetime: "1h"',
  ];
  const list = (files: string[]) => `[${files.map(q).join(', ')}]`;
  const tls = o.tls
    ? [
        '  tls:',
        '    frontend:',
        '      server:',
        `        certFile: ${q(o.tls.serverCertFile)}`,
        `        keyFile: ${q(o.tls.serverKeyFile)}`,
        `        requireClientAuth: ${o.tls.requireClientAuth ?? true}`,
        `        clientCaFiles: ${list(o.tls.clientCaFiles)}`,
        '      client:',
        `        serverName: ${q(o.tls.serverName)}`,
        `        rootCaFiles: ${list(o.tls.rootCaFiles)}`,
        '    systemWorker:',
        `      certFile: ${q(o.tls.clientCertFile)}`,
        `      keyFile: ${q(o.tls.clientKeyFile)}`,
        '      client:',
        `        serverName: ${q(o.tls.serverName)}`,
        `        rootCaFiles: ${list(o.tls.rootCaFiles)}`,
      ]
    : [];
  const service = (name: string, grpc: number, membership: number, http?: number) => [
    `  ${name}:`,
    '    rpc:',
    `      grpcPort: ${grpc}`,
    `      membershipPort: ${membership}`,
    '      bindOnLocalHost: true',
    ...(http ? [`      httpPort: ${http}`] : []),
  ];
  const [mFrontend, mHistory, mMatching, mWorker] = o.ports.membership;
  return [
    'log:',
    '  stdout: true',
    `  level: ${o.logLevel}`,
    'persistence:',
    '  defaultStore: postgres-default',
    '  visibilityStore: postgres-visibility',
    '  numHistoryShards: 4',
    '  datastores:',
    '    postgres-default:',
    ...store(o.postgres.databases.temporal, 20),
    '    postgres-visibility:',
    ...store(o.postgres.databases.visibility, 4),
    'global:',
    '  membership:',
    '    maxJoinDuration: 30s',
    '    broadcastAddress: "127.0.0.1"',
    ...tls,
    'services:',
    ...service('frontend', o.ports.frontend, mFrontend, o.ports.frontendHttp),
    ...service('history', o.ports.history, mHistory),
    ...service('matching', o.ports.matching, mMatching),
    ...service('worker', o.ports.worker, mWorker),
    'clusterMetadata:',
    '  enableGlobalNamespace: false',
    '  failoverVersionIncrement: 10',
    '  masterClusterName: "active"',
    '  currentClusterName: "active"',
    '  clusterInformation:',
    '    active:',
    '      enabled: true',
    '      initialFailoverVersion: 1',
    '      rpcName: "frontend"',
    `      rpcAddress: ${q(`127.0.0.1:${o.ports.frontend}`)}`,
    'dcRedirectionPolicy:',
    '  policy: "noop"',
    'dynamicConfigClient:',
    `  filepath: ${q(o.dynamicConfigFile)}`,
    '  pollInterval: "10s"',
    '',
  ].join('\n');
}
