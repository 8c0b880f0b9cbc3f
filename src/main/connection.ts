/**
 * One way to reach Temporal for every process: the API's client `Connection`, the worker's `NativeConnection` and
 * the start-up checks all take their options from here, so TLS, mTLS and API keys behave alike everywhere.
 */
import { isIP } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { Connection, type TLSConfig } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import type { Config } from '../config/index.js';
import { describeTls, temporalTls } from './tls.js';

/** What both connection kinds take. */
export interface TemporalConnectionOptions {
  address: string;
  tls?: TLSConfig;
  /** Secret: never logged. */
  apiKey?: string;
}

/**
 * Options for `address`. Against TEMPORAL_ADDRESS: TEMPORAL_TLS_* and TEMPORAL_API_KEY. The embedded dev server
 * that Lockbox starts itself speaks plaintext on 127.0.0.1, so it gets none of them.
 */
export async function temporalConnectionOptions(config: Config, address: string): Promise<TemporalConnectionOptions> {
  if (!config.temporalAddress || address !== config.temporalAddress) return { address };
  const c = config.temporalConnection;
  const tls = await temporalTls(c);
  return { address, ...(tls ? { tls } : {}), ...(c.apiKey ? { apiKey: c.apiKey } : {}) };
}

/** Log fields describing how Lockbox connects (no secrets). */
export function describeConnection(config: Config, options: TemporalConnectionOptions): Record<string, unknown> {
  return { address: options.address, namespace: config.namespace, ...describeTls(config.temporalConnection, options.tls ?? null) };
}

/** A client connection (API, start-up checks); a failure says where to and how it tried. */
export async function connectClient(config: Config, address: string): Promise<Connection> {
  const options = await temporalConnectionOptions(config, address);
  try {
    return await Connection.connect(options);
  } catch (err) {
    throw connectError(config, options, err, await diagnoseTls(options));
  }
}

/** A worker connection; a failure says where to and how it tried. */
export async function connectNative(config: Config, address: string): Promise<NativeConnection> {
  const options = await temporalConnectionOptions(config, address);
  try {
    return await NativeConnection.connect(options);
  } catch (err) {
    throw connectError(config, options, err, await diagnoseTls(options));
  }
}

function connectError(config: Config, options: TemporalConnectionOptions, err: unknown, diagnosis: string | undefined): Error {
  const how = options.tls
    ? `TLS${options.tls.clientCertPair ? ' with a client certificate' : ''}, server CA ${config.temporalConnection.serverCaCertPath ?? (options.tls.serverRootCACertificate ? 'inline' : 'from the system roots')}` +
      `${options.tls.serverNameOverride ? `, server name ${options.tls.serverNameOverride}` : ''}`
    : 'plaintext (set TEMPORAL_TLS=true or TEMPORAL_TLS_* for TLS)';
  const cause = err instanceof Error ? err.message : String(err);
  return new Error(`could not connect to Temporal at ${options.address} (${how}${options.apiKey ? ', API key' : ''}): ${cause}${diagnosis ? `; ${diagnosis}` : ''}`);
}

/**
 * gRPC says little more than "failed to connect before the deadline" when TLS goes wrong. A TLS handshake of our own
 * with the same settings says why: the server's certificate is not signed by the configured CA, its name does not
 * match, the server refused our certificate, or the server speaks TLS to a plaintext client.
 */
async function diagnoseTls(options: TemporalConnectionOptions): Promise<string | undefined> {
  const m = /^\[?([^\]]+?)\]?:(\d+)$/.exec(options.address);
  if (!m) return undefined;
  const [, host, port] = m as unknown as [string, string, string];
  const tls = options.tls;
  const servername = tls?.serverNameOverride ?? (isIP(host) ? undefined : host);
  const handshake = (verify: boolean) =>
    new Promise<{ secure: boolean; problem?: string }>((resolve) => {
      let secure = false;
      const socket = tlsConnect({
        host,
        port: Number(port),
        servername,
        ALPNProtocols: ['h2'],
        rejectUnauthorized: verify,
        ...(verify && tls?.serverRootCACertificate ? { ca: Buffer.from(tls.serverRootCACertificate) } : {}),
        ...(tls?.clientCertPair ? { cert: Buffer.from(tls.clientCertPair.crt), key: Buffer.from(tls.clientCertPair.key) } : {}),
      });
      let settled = false;
      const done = (problem: string | undefined) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        socket.destroy();
        resolve({ secure, ...(problem ? { problem } : {}) });
      };
      const timer = setTimeout(() => done(secure ? undefined : 'no TLS handshake within 5 s'), 5_000);
      socket.once('secureConnect', () => {
        secure = true;
        // TLS 1.3 reports a refused client certificate only after the handshake: wait a moment for the alert.
        setTimeout(() => done(undefined), 300);
      });
      socket.once('error', (e: NodeJS.ErrnoException) => done(e.code ? `${e.code}: ${e.message}` : e.message));
      socket.once('close', () => done('the server closed the connection'));
    });
  if (tls) {
    const { problem } = await handshake(true);
    return problem ? `TLS handshake with the configured settings fails: ${problem}` : undefined;
  }
  const speaksTls = (await handshake(false)).secure;
  return speaksTls ? 'the server speaks TLS: set TEMPORAL_TLS=true and TEMPORAL_TLS_* (CA, client certificate) to connect' : undefined;
}
