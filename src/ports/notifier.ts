import type { Message } from '../domain/messages.js';

/** A message for one person; `id` is deterministic. */
export type Notification = Message;

/** Delivers one message to one person. Must be idempotent by `id`. */
export interface Notifier {
  notify(n: Notification): Promise<void>;
}
