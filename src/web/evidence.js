/**
 * The evidence pack's page (docs/evidence.md) from the portal. Signed in with the session cookie, a plain link does:
 * the browser sends the cookie with the navigation and the API serves the page with its own CSP. A pasted bearer
 * token cannot ride on a link (it never goes into a URL), so the portal fetches the page with the token, as every
 * other call, and opens it in a new tab from a blob: URL. Such a page keeps the portal's CSP (no inline style), so its
 * inline stylesheet is swapped for the same rules served at /portal/evidence.css; it has no script, and the inherited
 * CSP would refuse an inline one anyway.
 */
import { ApiError, getText, session } from './api.js';

let lastUrl = '';

/** `GET /v1/tenants/{tenant}/evidence?from=&to=&format=html`; `from`, `to`: ISO-8601 instants, `[from, to)`. */
export function evidencePath(tenant, from, to) {
  return `/v1/tenants/${encodeURIComponent(tenant)}/evidence?${new URLSearchParams({ from, to, format: 'html' })}`;
}

/**
 * The link's click (or middle click): with a session, the browser follows the link; with a bearer token, the page
 * is fetched and opened from a blob: URL. A refusal (403, 422 for too long a period) is said in `errorEl`.
 * @param {Event} ev
 * @param {HTMLAnchorElement} link
 * @param {HTMLElement} errorEl
 */
export async function openEvidence(ev, link, errorEl) {
  errorEl.textContent = '';
  if (!session.token) return;
  ev.preventDefault();
  // Opened now, while the click counts as the person's: a tab opened after the fetch could be blocked as a pop-up.
  const tab = window.open('', '_blank');
  if (!tab) {
    errorEl.textContent = 'The browser did not open a new tab for the evidence pack: allow pop-ups for this page and try again.';
    return;
  }
  tab.opener = null;
  tab.document.title = 'Lockbox evidence';
  tab.document.body.textContent = 'Loading the evidence pack…';
  try {
    const html = await getText(`${link.pathname}${link.search}`);
    if (lastUrl) URL.revokeObjectURL(lastUrl);
    // Kept until the next pack is opened, so reloading the tab still works.
    lastUrl = URL.createObjectURL(new Blob([restyle(html)], { type: 'text/html' }));
    tab.location.replace(lastUrl);
  } catch (err) {
    tab.close();
    errorEl.textContent = `The evidence pack could not be read: ${err instanceof ApiError ? err.words : String(err)}`;
  }
}

/** The page's inline stylesheet (refused under the portal's CSP) as a link to the same rules on this origin. */
function restyle(html) {
  return html.replace(/<style>[\s\S]*?<\/style>/, `<link rel="stylesheet" href="${location.origin}/portal/evidence.css">`);
}
