/** The demo provider's few pages: plain HTML, no scripts, no external fonts (the tests run offline). */

const STYLE = 'body{font:16px/1.5 system-ui,sans-serif;max-width:28rem;margin:3rem auto;padding:0 1rem;color:#1a1a1a}'
  + 'label{display:block;margin-top:1rem;font-weight:600}input{width:100%;padding:.5rem;font:inherit;box-sizing:border-box}'
  + 'button{margin-top:1.25rem;padding:.5rem 1rem;font:inherit}.error{color:#a00000}.hint{color:#444;font-size:.9rem}';

function page(title: string, body: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">`
    + `<title>${escapeHtml(title)}</title><style>${STYLE}</style></head><body><main><h1>${escapeHtml(title)}</h1>${body}</main></body></html>`;
}

/** A page with a title and trusted HTML (callers escape what they put in). */
export function messagePage(title: string, html: string): string {
  return page(title, html);
}

/** The login form of one interaction. */
export function loginPage(uid: string, error: string, people: string[]): string {
  const action = `/interaction/${encodeURIComponent(uid)}`;
  return page(
    'Sign in to Lockbox (demo provider)',
    `<form method="post" action="${escapeHtml(action)}" autocomplete="off">`
      + (error ? `<p class="error" role="alert">${escapeHtml(error)}</p>` : '')
      + '<label for="login">Username</label><input id="login" name="login" autofocus required spellcheck="false">'
      + '<label for="password">Password</label><input id="password" name="password" type="password" required>'
      + '<button type="submit">Sign in</button></form>'
      + `<p class="hint">Demo people: ${people.map((p) => escapeHtml(p)).join(', ')} (the part before @ is enough). The password is printed when Lockbox starts.</p>`,
  );
}

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
