// e2e/idp/views.ts — the dev IdP's server-rendered pages: sign-in, one-time code, signed out, error.
// Plain labelled forms, no JavaScript, so Playwright and a cookie-jar HTTP client drive them alike.
import { DEV_OTP } from './accounts.js';

/** Escapes text for HTML content and attribute values. */
export function escapeHtml(text: unknown): string {
  return String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

const STYLE = `
  body { font: 16px/1.5 system-ui, sans-serif; background: #f3f4f6; color: #111827; margin: 0; }
  main { max-width: 22rem; margin: 4rem auto; background: #fff; padding: 1.5rem 2rem 2rem; border-radius: 8px; box-shadow: 0 1px 3px rgba(0,0,0,.15); }
  h1 { font-size: 1.4rem; margin: 0 0 .25rem; }
  .sub { color: #4b5563; margin: 0 0 1rem; }
  label { display: block; font-weight: 600; margin-top: 1rem; }
  input { box-sizing: border-box; width: 100%; font: inherit; padding: .5rem; margin-top: .25rem; border: 1px solid #6b7280; border-radius: 4px; }
  input:focus, button:focus { outline: 3px solid #2563eb; outline-offset: 1px; }
  button { margin-top: 1.5rem; width: 100%; font: inherit; font-weight: 600; padding: .6rem; border: 0; border-radius: 4px; background: #1d4ed8; color: #fff; cursor: pointer; }
  .error { color: #991b1b; background: #fee2e2; padding: .5rem .75rem; border-radius: 4px; }
  .hint { color: #374151; font-size: .9rem; margin-top: .25rem; }
  footer { color: #4b5563; font-size: .85rem; margin-top: 1.5rem; }
`;

/** The page shell shared by every IdP page. */
export function layout(title: string, body: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)} · Drawbridge dev IdP</title>
<style>${STYLE}</style>
</head>
<body>
<main>
${body}
</main>
</body>
</html>`;
}

function errorLine(error: string | undefined): string {
  return error ? `<p class="error" role="alert" id="form-error">${escapeHtml(error)}</p>` : '';
}

/** The sign-in form: fields `login` and `password`, posted to `action`. */
export function loginPage(input: { action: string; clientId?: string; login?: string; error?: string; reason?: string }): string {
  const describedBy = input.error ? ' aria-describedby="form-error"' : '';
  return layout(
    'Sign in',
    `<h1>Sign in</h1>
<p class="sub">to ${escapeHtml(input.clientId ?? 'the application')}${input.reason ? ` — ${escapeHtml(input.reason)}` : ''}</p>
${errorLine(input.error)}
<form method="post" action="${escapeHtml(input.action)}" id="login-form">
  <label for="login">Username</label>
  <input id="login" name="login" type="text" autocomplete="username" autocapitalize="none" spellcheck="false" required autofocus value="${escapeHtml(input.login ?? '')}"${describedBy}>
  <label for="password">Password</label>
  <input id="password" name="password" type="password" autocomplete="current-password" required${describedBy}>
  <button type="submit">Sign in</button>
</form>
<footer>Development identity provider. Test accounts: alice, bob, carol, dave, eve, frank, grace; the password is the username.</footer>`,
  );
}

/** The one-time code form: field `otp`, posted to `action`; shows the dev code as a hint. */
export function otpPage(input: { action: string; login: string; error?: string }): string {
  return layout(
    'One-time code',
    `<h1>Two-step verification</h1>
<p class="sub">Signed in as ${escapeHtml(input.login)} with a password. Enter the code from your authenticator.</p>
${errorLine(input.error)}
<form method="post" action="${escapeHtml(input.action)}" id="otp-form">
  <label for="otp">One-time code</label>
  <input id="otp" name="otp" type="text" inputmode="numeric" autocomplete="one-time-code" pattern="[0-9]{6}" maxlength="6" required autofocus aria-describedby="otp-hint${input.error ? ' form-error' : ''}">
  <p class="hint" id="otp-hint">Development code: ${DEV_OTP}</p>
  <button type="submit">Verify</button>
</form>`,
  );
}

/** Shown after a sign-out that had no post_logout_redirect_uri. */
export function signedOutPage(): string {
  return layout('Signed out', '<h1>Signed out</h1>\n<p>You are signed out of the development identity provider.</p>');
}

/** An OAuth error or an interaction that cannot continue. */
export function errorPage(fields: Record<string, unknown>): string {
  const rows = Object.entries(fields)
    .filter(([, value]) => value !== undefined)
    .map(([key, value]) => `<dt>${escapeHtml(key)}</dt><dd>${escapeHtml(value)}</dd>`)
    .join('\n');
  return layout('Error', `<h1>Something went wrong</h1>\n<dl>\n${rows}\n</dl>`);
}
