import type { Request, Response } from 'express';

/** Names of Lockbox's cookies; with `secure`, the `__Host-` prefix (Secure, Path=/, no Domain: no subdomain can set it). */
export function cookieNames(secure: boolean): { session: string; signIn: string } {
  const prefix = secure ? '__Host-' : '';
  return { session: `${prefix}lockbox_session`, signIn: `${prefix}lockbox_signin` };
}

/** One cookie's value from the request, or undefined. Only the first of several with the same name counts. */
export function readCookie(req: Request, name: string): string | undefined {
  const header = req.headers.cookie;
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const i = part.indexOf('=');
    if (i < 0) continue;
    if (part.slice(0, i).trim() === name) {
      const value = part.slice(i + 1).trim();
      return /^[A-Za-z0-9_-]{1,128}$/.test(value) ? value : undefined;
    }
  }
  return undefined;
}

/** HttpOnly (no script reads it), SameSite=Lax (not sent on cross-site POSTs), Path=/, Secure over https. */
export function setCookie(res: Response, name: string, value: string, opts: { secure: boolean; maxAgeSec?: number }): void {
  const parts = [`${name}=${value}`, 'Path=/', 'HttpOnly', 'SameSite=Lax'];
  if (opts.secure) parts.push('Secure');
  if (opts.maxAgeSec !== undefined) parts.push(`Max-Age=${Math.max(0, Math.floor(opts.maxAgeSec))}`);
  res.append('Set-Cookie', parts.join('; '));
}

export function clearCookie(res: Response, name: string, secure: boolean): void {
  setCookie(res, name, '', { secure, maxAgeSec: 0 });
}
