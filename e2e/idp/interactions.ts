// e2e/idp/interactions.ts — the dev IdP's interaction endpoints: password form, one-time code form,
// automatic consent. GET /interaction/:uid shows the current step; each form POSTs to its own action.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Interaction, InteractionResult, Provider } from 'oidc-provider';
import { DEV_OTP, type AccountStore } from './accounts.js';
import { errorPage, loginPage, otpPage } from './views.js';

/** Handles a request when it is an interaction request; resolves false when it is not. */
export type InteractionHandler = (req: IncomingMessage, res: ServerResponse) => Promise<boolean>;

const ROUTE = /^\/interaction\/([\w-]+)(?:\/(login|otp))?$/;
const PENDING_LIMIT = 1000;
const MAX_BODY = 16 * 1024;

/** Whether an authorization request's `acr_values` asks for a multi-factor sign-in. */
export function requestsMfa(acrValues: string | undefined): boolean {
  return (acrValues ?? '').split(' ').includes('mfa');
}

/** Options of {@link createInteractionHandler}. */
export interface InteractionOptions {
  /** The `amr` of a password sign-in (default `['pwd']`). */
  passwordAmr?: string[];
  /** `acr_values=mfa` does not bring the one-time code form (only an account that always uses it gets it). */
  ignoreAcrValues?: boolean;
}

/** Builds the interaction handler over `provider` and `accounts`. */
export function createInteractionHandler(provider: Provider, accounts: AccountStore, options: InteractionOptions = {}): InteractionHandler {
  // Interactions whose password was right and that now wait for the one-time code: uid → login.
  // The uid is only usable with the browser's interaction cookie, which oidc-provider checks.
  const awaitingOtp = new Map<string, string>();

  async function finish(req: IncomingMessage, res: ServerResponse, result: InteractionResult): Promise<void> {
    await provider.interactionFinished(req, res, result, { mergeWithLastSubmission: false });
  }

  async function consent(req: IncomingMessage, res: ServerResponse, interaction: Interaction): Promise<void> {
    const { prompt, params, session, grantId } = interaction;
    const accountId = session?.accountId;
    if (!accountId || !params.client_id) throw new Error('consent without a signed-in account');
    const grant = (grantId ? await provider.Grant.find(grantId) : undefined) ?? new provider.Grant({ accountId, clientId: params.client_id });
    if (prompt.details.missingOIDCScope) grant.addOIDCScope(prompt.details.missingOIDCScope.join(' '));
    if (prompt.details.missingOIDCClaims) grant.addOIDCClaims(prompt.details.missingOIDCClaims);
    await provider.interactionFinished(req, res, { consent: { grantId: await grant.save() } }, { mergeWithLastSubmission: true });
  }

  async function show(req: IncomingMessage, res: ServerResponse, interaction: Interaction): Promise<void> {
    const base = `/interaction/${interaction.uid}`;
    if (interaction.prompt.name === 'consent') return consent(req, res, interaction);
    if (interaction.prompt.name !== 'login') return sendHtml(res, 400, errorPage({ error: 'unsupported interaction', prompt: interaction.prompt.name }));
    const login = awaitingOtp.get(interaction.uid);
    if (login) return sendHtml(res, 200, otpPage({ action: `${base}/otp`, login }));
    sendHtml(res, 200, loginPage({ action: `${base}/login`, clientId: interaction.params.client_id, login: interaction.params.login_hint, reason: reasonText(interaction) }));
  }

  async function submitPassword(req: IncomingMessage, res: ServerResponse, interaction: Interaction): Promise<void> {
    const base = `/interaction/${interaction.uid}`;
    const form = await readForm(req);
    const login = form.get('login') ?? '';
    const account = accounts.authenticate(login, form.get('password') ?? '');
    if (!account) {
      return sendHtml(res, 200, loginPage({ action: `${base}/login`, clientId: interaction.params.client_id, login, error: 'Wrong username or password.' }));
    }
    if (account.mfa || (!options.ignoreAcrValues && requestsMfa(interaction.params.acr_values))) {
      if (awaitingOtp.size >= PENDING_LIMIT) awaitingOtp.delete(awaitingOtp.keys().next().value as string);
      awaitingOtp.set(interaction.uid, account.login);
      return redirect(res, base);
    }
    await finish(req, res, { login: { accountId: account.claims.sub, amr: options.passwordAmr ?? ['pwd'], acr: 'pwd', remember: true } });
  }

  async function submitOtp(req: IncomingMessage, res: ServerResponse, interaction: Interaction): Promise<void> {
    const base = `/interaction/${interaction.uid}`;
    const login = awaitingOtp.get(interaction.uid);
    const account = login === undefined ? undefined : accounts.accounts.get(login);
    if (!login || !account) return redirect(res, base);
    const form = await readForm(req);
    if ((form.get('otp') ?? '').trim() !== DEV_OTP) {
      return sendHtml(res, 200, otpPage({ action: `${base}/otp`, login, error: 'Wrong code. Try again.' }));
    }
    awaitingOtp.delete(interaction.uid);
    await finish(req, res, { login: { accountId: account.claims.sub, amr: ['pwd', 'otp'], acr: 'mfa', remember: true } });
  }

  return async function handleInteraction(req, res) {
    const match = ROUTE.exec(new URL(req.url ?? '/', 'http://idp.invalid').pathname);
    if (!match) return false;
    const [, uid, step] = match;
    const method = req.method ?? 'GET';
    if (step ? method !== 'POST' : method !== 'GET' && method !== 'HEAD') {
      res.setHeader('allow', step ? 'POST' : 'GET, HEAD');
      sendHtml(res, 405, errorPage({ error: 'method not allowed' }));
      return true;
    }
    let interaction: Interaction;
    try {
      interaction = await provider.interactionDetails(req, res);
    } catch (error) {
      sendHtml(res, 400, errorPage({ error: 'sign-in expired or not found', detail: (error as Error).message, hint: 'Start the sign-in again from the application.' }));
      return true;
    }
    if (interaction.uid !== uid) {
      sendHtml(res, 400, errorPage({ error: 'this sign-in form belongs to another sign-in attempt' }));
      return true;
    }
    if (step === 'login') await submitPassword(req, res, interaction);
    else if (step === 'otp') await submitOtp(req, res, interaction);
    else await show(req, res, interaction);
    return true;
  };
}

function reasonText(interaction: Interaction): string | undefined {
  const { reasons } = interaction.prompt;
  if (reasons.includes('login_prompt')) return 'please sign in again';
  if (reasons.includes('max_age')) return 'your last sign-in is too old';
  if (reasons.includes('acr_mfa')) return 'this needs a two-step sign-in';
  return undefined;
}

async function readForm(req: IncomingMessage): Promise<URLSearchParams> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY) throw new Error('form body too large');
    chunks.push(chunk);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

function redirect(res: ServerResponse, location: string): void {
  res.writeHead(303, { location, 'content-length': '0', 'cache-control': 'no-store' });
  res.end();
}

function sendHtml(res: ServerResponse, status: number, html: string): void {
  res.writeHead(status, {
    'content-type': 'text/html; charset=utf-8',
    'cache-control': 'no-store',
    'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; frame-ancestors 'none'",
    'x-content-type-options': 'nosniff',
  });
  res.end(html);
}
