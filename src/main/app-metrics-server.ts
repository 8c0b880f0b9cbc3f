/**
 * `LOCKBOX_APP_METRICS_ADDRESS`: a worker-only process serves the process registry (src/main/metrics.ts) at
 * `GET /metrics`, since it has no API whose /metrics could. No token: like the SDK's exporter beside it, it is
 * meant for a scraper on a private address, and no metric carries a secret (labels are providers, sinks, stages,
 * outcomes and reasons; never a request id, a principal or a URL).
 */
import { createServer } from 'node:http';
import type { Registry } from 'prom-client';
import type { Logger } from '../config/logger.js';

export interface AppMetricsServer {
  /** `http://host:port/metrics` as bound (the real port when 0 was asked for). */
  url: string;
  /** Stops listening and ends idle keep-alive connections; safe to call twice. */
  close(): Promise<void>;
}

/**
 * Listens on `address` (`host:port`, as configured) and serves `registry` in Prometheus text format; anything but
 * GET or HEAD of /metrics is a 404. Rejects when the address cannot be bound (in use, not this machine's).
 */
export async function serveAppMetrics(registry: Registry, address: string, log: Logger): Promise<AppMetricsServer> {
  const i = address.lastIndexOf(':');
  const host = address.slice(0, i);
  const port = Number(address.slice(i + 1));
  const server = createServer((req, res) => {
    const path = (req.url ?? '').split('?')[0];
    if (path !== '/metrics' || (req.method !== 'GET' && req.method !== 'HEAD')) {
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('not found\n');
      return;
    }
    registry.metrics().then(
      (text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text),
      (err: unknown) => {
        log.error('metrics could not be collected', { error: err instanceof Error ? err.message : String(err) });
        res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' }).end('metrics could not be collected\n');
      },
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err) => reject(new Error(`LOCKBOX_APP_METRICS_ADDRESS ${address}: ${err.message}`)));
    server.listen(port, host, () => resolve());
  });
  const bound = server.address();
  const url = `http://${host}:${typeof bound === 'object' && bound ? bound.port : port}/metrics`;
  log.info('app metrics served', { url });
  let closing: Promise<void> | undefined;
  return {
    url,
    close() {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        // A scraper's keep-alive connection would hold close() open until it times out.
        server.closeAllConnections();
      });
      return closing;
    },
  };
}
