// e2e/screenshots.ts — renders every end-user page in headless Chromium, served with its real CSP, and
// writes PNGs for the docs. Run: `node --import tsx e2e/screenshots.ts docs/images`.
import { mkdir } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium } from 'playwright-core';
import {
  ME_PAGE_CSP,
  PAGE_CSP,
  badRequestPage,
  forbiddenPage,
  mePage,
  methodNotAllowedPage,
  notFoundPage,
  signInErrorPage,
  signOutConfirmPage,
  signedOutPage,
  stepUpFailedPage,
  contextChangedPage,
  unavailablePage,
  upstreamErrorPage,
  userSwitchPage,
} from '../proxy/src/pages/views.js';
import { accessRequestedPage, grantsSection, requestAccessForm, requestsPage } from '../proxy/src/pages/access-views.js';

const CHROMIUM_PATH = '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];

const alice = { user: 'alice', email: 'alice@example.com', name: 'Alice Liddell' };
const requestId = '01JZ8Q4W6K3M9T2X7V5B0N1C8D';
const signOutUrl = '/.drawbridge/sign_out';
const at = Date.UTC(2025, 5, 2, 8, 30);

// Page name → realistic demo content (the accounts of the dev IdP, §9 of the spec).
const PAGES: Record<string, string> = {
  forbidden: forbiddenPage({
    user: { ...alice, groups: ['engineering', 'staff'] },
    route: 'wiki.example.com/admin',
    reasons: [{ code: 'groups-unauthorized', text: 'You are not in any of the groups this route requires.', detail: 'Allowed groups: wiki-admins.' }],
    requestId,
    signOutUrl,
    homeUrl: 'https://wiki.example.com/',
  }),
  'not-found': notFoundPage({ host: 'wikki.example.com', path: '/handbook/onboarding', requestId }),
  'bad-request': badRequestPage({ reason: 'The path contains an encoded slash (%2F), which is not allowed.', requestId }),
  'method-not-allowed': methodNotAllowedPage({ method: 'DELETE', requestId }),
  'upstream-error': upstreamErrorPage({ status: 502, requestId }),
  'upstream-timeout': upstreamErrorPage({ status: 504, requestId }),
  'idp-unavailable': unavailablePage({ what: 'idp', requestId, retryAfterSec: 30 }),
  'store-unavailable': unavailablePage({ what: 'store', requestId }),
  'sign-in-error': signInErrorPage({
    message: 'The sign-in link expired or was already used. This happens when a sign-in tab is left open for a long time.',
    requestId,
    retryUrl: '/.drawbridge/sign_in?rd=%2F',
    status: 400,
  }),
  'step-up-failed': stepUpFailedPage({
    user: alice,
    needs: 'A sign-in with a second factor (such as a one-time code or a security key) within the last 15 minutes.',
    requestId,
    signOutUrl,
    retryUrl: '/.drawbridge/sign_in?rd=%2Fadmin',
  }),
  'context-changed': contextChangedPage({
    user: alice,
    changes: [{ text: 'This session was started on another network.', detail: 'compared at IPv4 /24, IPv6 /48' }],
    signInUrl: '/.drawbridge/sign_in?rd=%2Fpayments&step_up=1&max_age=300',
    signOutUrl,
    requestId,
    route: { name: 'payments', title: 'Payments' },
  }),
  'sign-out': signOutConfirmPage({ user: alice, action: signOutUrl, csrfToken: 'demo-csrf-token', returnTo: '/' }),
  'signed-out': signedOutPage({ signInUrl: '/.drawbridge/sign_in?rd=%2F' }),
  'not-signed-in': signedOutPage({ signInUrl: '/.drawbridge/sign_in?rd=%2F', notSignedIn: true }),
  'user-switch': userSwitchPage({
    current: alice,
    signedIn: { user: 'carol', email: 'carol@example.com', name: 'Carol Example' },
    action: '/.drawbridge/switch_user',
    code: 'demo-one-time-code',
    backUrl: 'https://wiki.example.com/admin',
  }),
  'access-request': forbiddenPage({
    user: { user: 'bob', email: 'bob@example.com', name: 'Bob Example', groups: ['sales'] },
    route: 'wiki-admin',
    reasons: [
      { code: 'no-allow-matched', text: 'None of the rules that grant access to this route apply to you.' },
      { code: 'groups-unauthorized', text: 'You are not in any of the groups this route requires.', detail: 'Allowed groups: wiki-admins.' },
    ],
    requestId,
    signOutUrl,
    requestAccess: requestAccessForm({
      action: '/.drawbridge/requests',
      csrfToken: 'demo-csrf-token',
      route: 'wiki-admin',
      reasonRequired: true,
      durations: [
        { seconds: 900, label: '15 minutes' },
        { seconds: 1800, label: '30 minutes' },
        { seconds: 3600, label: '1 hour' },
        { seconds: 7200, label: '2 hours' },
        { seconds: 14400, label: '4 hours' },
        { seconds: 28800, label: '8 hours' },
      ],
      defaultSeconds: 3600,
      rd: 'https://wiki.example.com/admin',
    }),
  }),
  'access-requested': accessRequestedPage({ route: 'wiki-admin', outcome: 'pending', duration: '1 hour', backUrl: 'https://wiki.example.com/admin', requestId }),
  'access-requests': requestsPage({
    user: { user: 'carol', email: 'carol@example.com', name: 'Carol Example' },
    items: [
      { id: '7f8c0e1a-3b2d-4c5e-9f60-1a2b3c4d5e6f', route: 'wiki-admin', user: { user: 'bob', email: 'bob@example.com', name: 'Bob Example' }, reason: 'Fix the broken onboarding page before the 10:00 training.', duration: '1 hour', createdAt: at, can: 'approve' },
      { id: '0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d', route: 'billing', user: { user: 'dave', name: 'Dave Example' }, reason: 'Quarter-end export.', duration: '4 hours', createdAt: at + 5 * 60_000, can: 'step-up', stepUpUrl: '/.drawbridge/sign_in?rd=%2F.drawbridge%2Frequests&step_up=1&mfa=1' },
    ],
    action: '/.drawbridge/requests/decide',
    csrfToken: 'demo-csrf-token',
  }),
  'me-grants': mePage({
    identity: { user: 'bob', email: 'bob@example.com', name: 'Bob Example', groups: ['sales'], amr: ['pwd'], authTime: at / 1000 },
    session: { createdAt: at, lastSeenAt: at + 12 * 60_000, expiresAt: at + 12 * 3_600_000, idleExpiresAt: at + 42 * 60_000 },
    signOutUrl,
    grants: grantsSection([{ route: 'wiki-admin', expiresAt: at + 72 * 60_000, approver: 'carol', left: '1 hour' }]),
  }),
  me: mePage({
    identity: { ...alice, groups: ['engineering', 'staff', 'on-call'], amr: ['pwd', 'otp'], acr: 'urn:example:loa:2', authTime: at / 1000 },
    session: { createdAt: at, lastSeenAt: at + 42 * 60_000, expiresAt: at + 12 * 3_600_000, idleExpiresAt: at + 72 * 60_000 },
    signOutUrl,
  }),
};

interface Shot {
  file: string;
  page: string;
  width: number;
  height: number;
  dark?: boolean;
}

const SHOTS: Shot[] = [
  ...Object.keys(PAGES).map((page) => ({ file: `${page}.png`, page, width: 1000, height: 700 })),
  { file: 'forbidden-mobile.png', page: 'forbidden', width: 390, height: 844 },
  { file: 'forbidden-dark.png', page: 'forbidden', width: 1000, height: 700, dark: true },
  { file: 'me-dark.png', page: 'me', width: 1000, height: 700, dark: true },
];

/** Screenshots every page (1000×700; the 403 page also at 390×844 and in dark mode) into outDir; returns the files written. */
export async function screenshotPages(outDir: string): Promise<string[]> {
  await mkdir(outDir, { recursive: true });
  const server = http.createServer((req, res) => {
    const name = (req.url ?? '/').slice(1);
    const body = PAGES[name];
    if (body === undefined) return void res.writeHead(404).end();
    // /me's pages run their one local-time script: served with /me's CSP, as Drawbridge serves them.
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'content-security-policy': name.startsWith('me') ? ME_PAGE_CSP : PAGE_CSP }).end(body);
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS });
  const written: string[] = [];
  try {
    // One page for every shot: opening a page costs Chromium far more than resizing one.
    const page = await browser.newPage();
    const problems: string[] = [];
    page.on('console', (msg) => {
      if (msg.type() === 'error') problems.push(msg.text());
    });
    for (const shot of SHOTS) {
      await page.setViewportSize({ width: shot.width, height: shot.height });
      await page.emulateMedia({ colorScheme: shot.dark ? 'dark' : 'light' });
      await page.goto(`${base}/${shot.page}`);
      // A screenshot of a page whose stylesheet the CSP refused would document a broken page.
      if (problems.length > 0) throw new Error(`${shot.page}: console errors: ${problems.join('; ')}`);
      const file = join(outDir, shot.file);
      await page.screenshot({ path: file, fullPage: true });
      written.push(file);
    }
  } finally {
    await browser.close();
    server.close();
  }
  return written;
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const files = await screenshotPages(process.argv[2] ?? 'docs/images');
  for (const file of files) console.log(file);
}
