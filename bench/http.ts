/** A minimal keep-alive HTTP client for the Lockbox API (127.0.0.1 only), with a per-call timeout. */
import { Agent, request } from 'node:http';
import { nowMs } from './stats.js';

export const TOKENS = {
  engineer: 'eve-dev-token',
  approver: 'alice-dev-token',
} as const;

export interface ApiResponse<T = any> {
  status: number;
  body: T;
  /** Wall time of the call, ms. */
  ms: number;
  /** performance.now() when the answer was complete. */
  doneAt: number;
  /** Date.now() when the answer was complete (to compare with timestamps the stack wrote). */
  doneEpoch: number;
}

export class ApiClient {
  /**
   * Idle keep-alive sockets are dropped after 4 s (the agent's timeout applies while a socket is free), before the
   * server's 5 s keep-alive timeout can close one under a request ("socket hang up").
   */
  private readonly agent = new Agent({ keepAlive: true, maxSockets: 256, keepAliveMsecs: 1_000, timeout: 4_000 });
  private readonly url: URL;

  constructor(baseUrl: string, private readonly timeoutMs = 30_000) {
    this.url = new URL(baseUrl);
    if (this.url.hostname !== '127.0.0.1') throw new Error(`benchmark traffic goes to 127.0.0.1 only, not ${this.url.hostname}`);
  }

  call<T = any>(method: string, path: string, token: string, body?: unknown, timeoutMs = this.timeoutMs): Promise<ApiResponse<T>> {
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const started = nowMs();
    return new Promise((resolve, reject) => {
      const req = request(
        {
          agent: this.agent,
          host: '127.0.0.1',
          port: Number(this.url.port),
          method,
          path,
          headers: {
            authorization: `Bearer ${token}`,
            ...(payload ? { 'content-type': 'application/json', 'content-length': String(payload.length) } : {}),
          },
          timeout: timeoutMs,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const doneAt = nowMs();
            const doneEpoch = Date.now();
            const text = Buffer.concat(chunks).toString('utf8');
            let parsed: unknown = text;
            try {
              parsed = text ? JSON.parse(text) : null;
            } catch {
              // keep the text
            }
            resolve({ status: res.statusCode ?? 0, body: parsed as T, ms: doneAt - started, doneAt, doneEpoch });
          });
          res.on('error', reject);
        },
      );
      req.on('timeout', () => req.destroy(new Error(`${method} ${path} timed out after ${timeoutMs} ms`)));
      req.on('error', reject);
      if (payload) req.write(payload);
      req.end();
    });
  }

  /** Like `call`, but throws unless the status is the expected one. */
  async expect<T = any>(status: number, method: string, path: string, token: string, body?: unknown, timeoutMs?: number): Promise<ApiResponse<T>> {
    const res = await this.call<T>(method, path, token, body, timeoutMs);
    if (res.status !== status) {
      const detail = typeof res.body === 'string' ? res.body : JSON.stringify(res.body);
      throw new Error(`${method} ${path} answered ${res.status}, expected ${status}: ${detail.slice(0, 300)}`);
    }
    return res;
  }

  close(): void {
    this.agent.destroy();
  }
}
