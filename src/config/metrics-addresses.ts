/**
 * Where a worker serves metrics for Prometheus, part of the one configuration schema (index.ts takes
 * {@link MetricsAddressEnv} in). Two listeners, because the two sets cannot be merged: the SDK's Rust core serves the
 * `temporal_*` runtime metrics itself, and Lockbox's own metrics live on prom-client's registry (src/main/metrics.ts).
 */
import { z } from 'zod';
import { unsetIfEmpty } from './env-values.js';

const hostPort = (example: string) =>
  z.preprocess(
    unsetIfEmpty,
    z
      .string()
      .refine((v) => /^[^\s:]+:\d{1,5}$/.test(v) && portOf(v) >= 1 && portOf(v) <= 65535, `must be host:port (port 1-65535), e.g. ${example}`)
      .optional(),
  );

export const MetricsAddressEnv = {
  /** Worker: `host:port` where the SDK's Prometheus exporter serves the worker's runtime metrics at /metrics. */
  LOCKBOX_WORKER_METRICS_ADDRESS: hostPort('0.0.0.0:9464'),
  /**
   * Worker-only process (`npm run worker`): `host:port` where Lockbox's own metrics (reconciler, grants, audit export
   * backlog) are served at /metrics, without a token; the API's /metrics serves them where the API runs too.
   */
  LOCKBOX_APP_METRICS_ADDRESS: hostPort('0.0.0.0:9465'),
};

type AddressValues = { [K in keyof typeof MetricsAddressEnv]?: string };

/** Hosts that bind every interface, and so clash with any host on the same port. */
const WILDCARD = new Set(['0.0.0.0', '*']);

/** Problems with the two addresses together, each naming its variable (empty: none). Pure. */
export function metricsAddressProblems(e: AddressValues): string[] {
  const app = e.LOCKBOX_APP_METRICS_ADDRESS;
  const sdk = e.LOCKBOX_WORKER_METRICS_ADDRESS;
  if (!app || !sdk || portOf(app) !== portOf(sdk)) return [];
  const [a, b] = [hostOf(app), hostOf(sdk)];
  if (a !== b && !WILDCARD.has(a) && !WILDCARD.has(b)) return [];
  return [
    `LOCKBOX_APP_METRICS_ADDRESS: ${app} is the same address as LOCKBOX_WORKER_METRICS_ADDRESS (${sdk}); the SDK's temporal_* metrics and Lockbox's own need a port each`,
  ];
}

function portOf(address: string): number {
  return Number(address.slice(address.lastIndexOf(':') + 1));
}

function hostOf(address: string): string {
  const host = address.slice(0, address.lastIndexOf(':')).toLowerCase();
  return host === 'localhost' ? '127.0.0.1' : host;
}
