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

/**
 * The device flow's first page (RFC 8628 verification URI): the code `lockbox login` printed. `form` is the
 * provider's (its CSRF token and the code field); the field gets a label here.
 */
export function userCodePage(form: string, error: string): string {
  const labelled = form.replace(/<input([^>]*?)name="user_code"/, '<label for="user_code">Code</label><input id="user_code"$1name="user_code" spellcheck="false"');
  return page(
    'Sign in to the Lockbox command line',
    (error ? `<p class="error" role="alert">${escapeHtml(error)}</p>` : '<p>Enter the code that <code>lockbox login</code> printed in your terminal.</p>')
      + `${labelled}<button type="submit" form="op.deviceInputForm">Continue</button>`,
  );
}

/** The device flow's confirmation: the person checks the code matches their terminal before the CLI gets tokens. */
export function userCodeConfirmPage(form: string, clientName: string, userCode: string): string {
  return page(
    'Confirm the command-line sign-in',
    `<p><strong>${escapeHtml(clientName)}</strong> asks to act as you. Continue only if your terminal shows this code:</p>`
      + `<p><code style="font-size:1.6rem">${escapeHtml(userCode)}</code></p>${form}`
      + '<button type="submit" form="op.deviceConfirmForm">Continue</button> '
      + '<button type="submit" form="op.deviceConfirmForm" name="abort" value="yes">Abort</button>'
      + '<p class="hint">If you did not run <code>lockbox login</code> or the code differs, abort.</p>',
  );
}

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
