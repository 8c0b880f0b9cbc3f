import { readFile } from 'node:fs/promises';
import type { TLSConfig } from '@temporalio/client';
import { ConfigError, type TemporalConnectionConfig } from '../config/index.js';

/**
 * The TLS settings of TEMPORAL_TLS_* as the SDK takes them, or null for a plaintext connection.
 *
 * TLS is on when TEMPORAL_TLS=true, or (TEMPORAL_TLS unset) when an API key, a client certificate, a server CA or a
 * server name is given, as in Temporal's environment configuration. `TEMPORAL_TLS=true` alone means TLS with the
 * system's root certificates (Temporal Cloud). Files are read here, once per connection; a file that cannot be read
 * is a ConfigError naming the variable (never the file's content).
 */
export async function temporalTls(c: TemporalConnectionConfig): Promise<TLSConfig | null> {
  const anySetting = Boolean(c.clientCertPath ?? c.clientCertData ?? c.serverCaCertPath ?? c.serverCaCertData ?? c.serverName);
  const enabled = c.tls ?? (anySetting || c.apiKey !== undefined);
  if (!enabled) return null;
  const tls: TLSConfig = {};
  if (c.serverName) tls.serverNameOverride = c.serverName;
  const ca = await pem('TEMPORAL_TLS_SERVER_CA_CERT', c.serverCaCertPath, c.serverCaCertData);
  if (ca) tls.serverRootCACertificate = ca;
  const crt = await pem('TEMPORAL_TLS_CLIENT_CERT', c.clientCertPath, c.clientCertData);
  const key = await pem('TEMPORAL_TLS_CLIENT_KEY', c.clientKeyPath, c.clientKeyData);
  if (crt && key) tls.clientCertPair = { crt, key };
  return tls;
}

async function pem(variable: string, path: string | undefined, data: string | undefined): Promise<Buffer | undefined> {
  if (data) return Buffer.from(data);
  if (!path) return undefined;
  try {
    const content = await readFile(path);
    if (content.length === 0) throw new Error('the file is empty');
    return content;
  } catch (err) {
    const why = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    throw new ConfigError(`invalid configuration:\n  ${variable}_PATH: cannot read ${path} (${why})`);
  }
}

/** What a log line may say about the connection: never a key or a certificate's content. */
export function describeTls(c: TemporalConnectionConfig, tls: TLSConfig | null): Record<string, unknown> {
  if (!tls) return { tls: false, apiKey: c.apiKey !== undefined };
  return {
    tls: true,
    mutualTls: Boolean(tls.clientCertPair),
    serverCa: c.serverCaCertPath ?? (c.serverCaCertData ? '(inline)' : 'system roots'),
    serverName: c.serverName ?? '(host of the address)',
    apiKey: c.apiKey !== undefined,
  };
}
