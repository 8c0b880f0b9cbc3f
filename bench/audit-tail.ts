/**
 * Follows the stack's `audit.jsonl` (read-only, incrementally from the last offset) and tells when an event of a
 * given type for a given request has been written there: the "audit exported" end of a lifecycle.
 */
import { open } from 'node:fs/promises';
import { StringDecoder } from 'node:string_decoder';
import { sleep } from './stats.js';

export class AuditTail {
  private offset = 0;
  private partial = '';
  private decoder = new StringDecoder('utf8');
  /** requestId -> event type -> the event's time (the first one of that type). */
  private readonly seen = new Map<string, Map<string, string>>();
  private readonly waiters = new Map<string, Array<() => void>>();
  private running = false;
  private loop: Promise<void> | null = null;

  constructor(private readonly file: string, private readonly everyMs = 20) {}

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = (async () => {
      while (this.running) {
        try {
          await this.pollOnce();
        } catch {
          // the file may not exist yet
        }
        await sleep(this.everyMs);
      }
    })();
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
  }

  has(requestId: string, type: string): boolean {
    return this.seen.get(requestId)?.has(type) ?? false;
  }

  /** The `time` of the first event of `type` for the request in the file, if it is there yet. */
  timeOf(requestId: string, type: string): string | undefined {
    return this.seen.get(requestId)?.get(type);
  }

  /** Reads whatever was appended since the last poll, now. */
  async refresh(): Promise<void> {
    try {
      await this.pollOnce();
    } catch {
      // not there yet
    }
  }

  /** One poll at a time: the offset and the partial line are shared state. */
  private chain: Promise<void> = Promise.resolve();
  private pollOnce(): Promise<void> {
    const next = this.chain.then(() => this.poll());
    this.chain = next.catch(() => undefined);
    return next;
  }

  /** Resolves true once the event is in the file, false after `timeoutMs`. */
  waitFor(requestId: string, type: string, timeoutMs: number): Promise<boolean> {
    if (this.has(requestId, type)) return Promise.resolve(true);
    const key = `${requestId}\n${type}`;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        const list = this.waiters.get(key);
        if (list) this.waiters.set(key, list.filter((w) => w !== done));
        resolve(false);
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        resolve(true);
      };
      this.waiters.set(key, [...(this.waiters.get(key) ?? []), done]);
    });
  }

  private async poll(): Promise<void> {
    const fh = await open(this.file, 'r');
    try {
      const { size } = await fh.stat();
      if (size < this.offset) {
        this.offset = 0;
        this.partial = '';
        this.decoder = new StringDecoder('utf8');
      }
      while (this.offset < size) {
        const len = Math.min(size - this.offset, 4 * 1024 * 1024);
        const buf = Buffer.alloc(len);
        const { bytesRead } = await fh.read(buf, 0, len, this.offset);
        if (bytesRead === 0) break;
        this.offset += bytesRead;
        const text = this.partial + this.decoder.write(buf.subarray(0, bytesRead));
        const lines = text.split('\n');
        this.partial = lines.pop() ?? '';
        for (const line of lines) this.learn(line);
      }
    } finally {
      await fh.close();
    }
  }

  private learn(line: string): void {
    if (!line.trim()) return;
    let e: { requestId?: unknown; type?: unknown; time?: unknown };
    try {
      e = JSON.parse(line);
    } catch {
      return;
    }
    if (typeof e.requestId !== 'string' || typeof e.type !== 'string') return;
    let types = this.seen.get(e.requestId);
    if (!types) this.seen.set(e.requestId, (types = new Map()));
    if (!types.has(e.type)) types.set(e.type, typeof e.time === 'string' ? e.time : '');
    const key = `${e.requestId}\n${e.type}`;
    const list = this.waiters.get(key);
    if (list) {
      this.waiters.delete(key);
      for (const w of list) w();
    }
  }
}
