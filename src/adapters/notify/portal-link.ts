import type { Notification } from '../../ports/notifier.js';

/** The request's page in the approver portal under `baseUrl` (e.g. `https://lockbox.example.com`). */
export function portalLink(baseUrl: string, requestId: string): string {
  return `${baseUrl.replace(/\/+$/, '')}/requests/${encodeURIComponent(requestId)}`;
}

/**
 * The message body as the domain wrote it (it already says who, what, why, ticket, duration and expiry), plus the
 * portal link when a base URL is configured. Channels add nothing else: the domain decides what is safe to send.
 */
export function renderBody(n: Notification, portalBaseUrl?: string): { text: string; link?: string } {
  if (portalBaseUrl === undefined) return { text: n.body };
  const link = portalLink(portalBaseUrl, n.requestId);
  return { text: `${n.body}\n\nOpen in Lockbox: ${link}`, link };
}
