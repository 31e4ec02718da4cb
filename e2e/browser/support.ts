// e2e/browser/support.ts — what the browser suite shares: headless Chromium (Debian's, never downloaded),
// contexts sized for the docs' screenshots, signing in at the dev IdP through its real forms, and the
// page checks (CSP violations, axe-core, screenshots, token leaks).
import { mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type BrowserContext, type BrowserContextOptions, type Page } from 'playwright-core';
import { startStack, type Stack, type StackOptions } from '../../test-support/stack.js';

export { startStack, type Stack, type StackOptions };

const CHROMIUM_PATH = '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];

/** Per-action wait: generous for a loaded 2-core CI machine, far below every test's own timeout. */
export const STEP_MS = 10_000;

/** Starts the headless Chromium of this machine (one per test file). */
export function launchBrowser(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS });
}

/** A fresh context (own cookies): 1000×700 at scale 1, light theme, so screenshots look the same everywhere. */
export async function newContext(browser: Browser, options: BrowserContextOptions = {}): Promise<BrowserContext> {
  const context = await browser.newContext({ viewport: { width: 1000, height: 700 }, deviceScaleFactor: 1, colorScheme: 'light', locale: 'en-US', ...options });
  context.setDefaultTimeout(STEP_MS);
  context.setDefaultNavigationTimeout(STEP_MS);
  return context;
}

/** Whether `page` shows the dev IdP's password form. */
export async function onIdpSignInForm(page: Page): Promise<boolean> {
  return (await page.getByLabel('Username').count()) > 0 && (await page.getByLabel('Password').count()) > 0;
}

/** What {@link signInAtIdp} went through. */
export interface IdpSignIn {
  askedOtp: boolean;
}

/** Clicks `button` and resolves once the document it leads to (after every redirect) has loaded. */
async function submit(page: Page, button: string): Promise<void> {
  await Promise.all([page.waitForEvent('framenavigated', { predicate: (frame) => frame === page.mainFrame() }), page.getByRole('button', { name: button }).click()]);
  await page.waitForLoadState();
}

/**
 * Fills the dev IdP's sign-in form shown on `page` (password = login), then its one-time code form when
 * the IdP asks for it, and resolves once the browser has left the IdP (redirects included).
 */
export async function signInAtIdp(page: Page, login: string, options: { password?: string; otp?: string } = {}): Promise<IdpSignIn> {
  const idpOrigin = new URL(page.url()).origin;
  const where = async () => `still at the IdP (${page.url()}): ${(await page.locator('main').innerText().catch(() => '')).replace(/\s+/g, ' ')}`;
  await page.getByLabel('Username').fill(login);
  await page.getByLabel('Password').fill(options.password ?? login);
  await submit(page, 'Sign in');
  if (new URL(page.url()).origin !== idpOrigin) return { askedOtp: false };
  const otp = page.getByLabel('One-time code');
  if ((await otp.count()) === 0) throw new Error(`signInAtIdp(${login}): no one-time code form and ${await where()}`);
  await otp.fill(options.otp ?? '123456');
  await submit(page, 'Verify');
  if (new URL(page.url()).origin === idpOrigin) throw new Error(`signInAtIdp(${login}): after the one-time code, ${await where()}`);
  return { askedOtp: true };
}

/**
 * Opens `url` (a protected page), signs in at the dev IdP as `login` and waits until the browser is back
 * on `landing` (default: `url` itself, exactly).
 */
export async function openAndSignIn(page: Page, url: string, login: string, options: { otp?: string; landing?: string } = {}): Promise<IdpSignIn> {
  await page.goto(url);
  if (!(await onIdpSignInForm(page))) throw new Error(`openAndSignIn(${login}): expected the IdP's sign-in form, got ${page.url()}`);
  const result = await signInAtIdp(page, login, options);
  await page.waitForURL(options.landing ?? url);
  return result;
}

/** Every URL the page's main frame navigated to (redirect hops included), in order. */
export function recordNavigations(page: Page): string[] {
  const seen: string[] = [];
  page.on('request', (request) => {
    if (request.isNavigationRequest() && request.frame() === page.mainFrame()) seen.push(request.url());
  });
  return seen;
}

/**
 * Content-Security-Policy violations seen on `page`: the browser's console reports and the
 * `securitypolicyviolation` events (recorded by an init script, which CSP does not govern).
 */
export async function watchCsp(page: Page): Promise<() => Promise<string[]>> {
  const reports: string[] = [];
  page.on('console', (message) => {
    if (/content.security.policy/i.test(message.text())) reports.push(`console ${message.type()}: ${message.text()}`);
  });
  page.on('pageerror', (error) => reports.push(`page error: ${error.message}`));
  await page.addInitScript(() => {
    const w = window as unknown as { __csp?: string[] };
    w.__csp = [];
    document.addEventListener('securitypolicyviolation', (e) => w.__csp?.push(`${e.violatedDirective} blocked ${e.blockedURI || '(inline)'} on ${e.documentURI}`));
  });
  return async () => {
    const events = await page.evaluate(() => (window as unknown as { __csp?: string[] }).__csp ?? []).catch(() => []);
    return [...reports, ...events.map((e) => `event: ${e}`)];
  };
}

const AXE_PATH = fileURLToPath(new URL('../../node_modules/axe-core/axe.min.js', import.meta.url));

/** A violation axe-core found, in short. */
export interface AxeFinding {
  id: string;
  impact: string | null;
  help: string;
  targets: string[];
}

/**
 * Runs axe-core on `page` (its context must be created with `bypassCSP: true`) and returns every violation;
 * `rules` narrows the run to those rule ids.
 */
export async function runAxe(page: Page, rules?: string[]): Promise<AxeFinding[]> {
  if (!(await page.evaluate(() => 'axe' in window))) await page.addScriptTag({ path: AXE_PATH });
  return page.evaluate(async (only) => {
    type AxeResult = { violations: Array<{ id: string; impact: string | null; help: string; nodes: Array<{ target: unknown[] }> }> };
    const axe = (window as unknown as { axe: { run(ctx: Document, options: object): Promise<AxeResult> } }).axe;
    const result = await axe.run(document, only ? { runOnly: { type: 'rule', values: only } } : {});
    return result.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, targets: v.nodes.map((n) => n.target.map(String).join(' ')) }));
  }, rules);
}

/** The violations that fail the suite: `serious` and `critical` ones. */
export function seriousFindings(findings: AxeFinding[]): AxeFinding[] {
  return findings.filter((f) => f.impact === 'serious' || f.impact === 'critical');
}

const IMAGES = fileURLToPath(new URL('../../docs/images/', import.meta.url));

/** Saves the viewport of `page` as docs/images/flow-NAME.png (1000×700); returns the file's path. */
export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(IMAGES, { recursive: true });
  const path = `${IMAGES}flow-${name}.png`;
  await page.screenshot({ path, animations: 'disabled', caret: 'hide' });
  return path;
}

/** Anything looking like a JWT (base64url JSON header `{"...` → `eyJ`, then a dot and a payload). */
export const JWT_LIKE = /eyJ[\w-]{4,}\.[\w-]{4,}/;

/** A TCP port nothing listens on (bound, then released), for an upstream that is down. */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** A clock for the stack's `now` that tests can move forward. */
export function movableClock(): { now: () => number; advance(ms: number): void; reset(): void } {
  let offset = 0;
  return {
    now: () => Date.now() + offset,
    advance: (ms) => {
      offset += ms;
    },
    reset: () => {
      offset = 0;
    },
  };
}
