// e2e/idp/accounts.ts — the dev IdP's test accounts (password = login) and the live, editable store
// the provider reads them from, so a claim changed in a test shows in the next ID token.
import { timingSafeEqual } from 'node:crypto';

/** The claims an account releases; `sub` is required, the rest is free-form (only configured claim names are issued). */
export type AccountClaims = { sub: string } & Record<string, unknown>;

/** A dev account. */
export interface DevAccount {
  login: string;
  password: string;
  /** Always asked for the one-time code after the password (carol). */
  mfa: boolean;
  /** What the account is for, one line, for the demo's account list. */
  note: string;
  claims: AccountClaims;
}

/** What `addAccount` takes: password defaults to the login, `sub` to `<login>-sub`, `preferred_username` to the login. */
export interface NewAccount {
  login: string;
  password?: string;
  mfa?: boolean;
  note?: string;
  claims?: Partial<AccountClaims>;
}

/** The dev one-time code; the OTP form shows it as a hint. */
export const DEV_OTP = '123456';

/** The accounts every dev IdP starts with. */
export function defaultAccounts(): NewAccount[] {
  return [
    {
      login: 'alice',
      note: 'groups engineering, password sign-in',
      claims: { name: 'Alice Example', email: 'alice@example.com', email_verified: true, groups: ['engineering'] },
    },
    {
      login: 'bob',
      note: 'groups sales',
      claims: { name: 'Bob Example', email: 'bob@example.com', email_verified: true, groups: ['sales'] },
    },
    {
      login: 'carol',
      mfa: true,
      note: `groups wiki-admins, always asked for the one-time code (${DEV_OTP})`,
      claims: { name: 'Carol Example', email: 'carol@example.com', email_verified: true, groups: ['wiki-admins'] },
    },
    {
      login: 'dave',
      note: 'edge case: email_verified false, groups engineering',
      claims: { name: 'Dave Unverified', email: 'dave@example.com', email_verified: false, groups: ['engineering'] },
    },
    {
      login: 'eve',
      note: 'edge case: email eve@evil.com@example.com (two @)',
      claims: { name: 'Eve Attacker', email: 'eve@evil.com@example.com', email_verified: true, groups: [] },
    },
    {
      login: 'frank',
      note: "edge case: groups is the string 'engineering', not an array",
      claims: { name: 'Frank String', email: 'frank@example.com', email_verified: true, groups: 'engineering' },
    },
    {
      login: 'grace',
      note: 'edge case: 2000 groups g0..g1999',
      claims: { name: 'Grace Many', email: 'grace@example.com', email_verified: true, groups: Array.from({ length: 2000 }, (_, i) => `g${i}`) },
    },
  ];
}

/** The accounts of one dev IdP, keyed by login. */
export class AccountStore {
  readonly accounts = new Map<string, DevAccount>();

  constructor(initial: NewAccount[]) {
    for (const account of initial) this.add(account);
  }

  /** Adds (or replaces) an account, filling the defaults. */
  add(account: NewAccount): DevAccount {
    const { login } = account;
    if (!login) throw new Error('addAccount: login is required');
    const claims: AccountClaims = { sub: `${login}-sub`, preferred_username: login, ...account.claims } as AccountClaims;
    const stored: DevAccount = { login, password: account.password ?? login, mfa: account.mfa ?? false, note: account.note ?? '', claims };
    this.accounts.set(login, stored);
    return stored;
  }

  /** Merges `patch` into the account's claims; a claim set to `undefined` is removed. */
  update(login: string, patch: Record<string, unknown>): DevAccount {
    const account = this.accounts.get(login);
    if (!account) throw new Error(`updateAccount: no account ${JSON.stringify(login)}`);
    for (const [claim, value] of Object.entries(patch)) {
      if (value === undefined) delete account.claims[claim];
      else account.claims[claim] = value;
    }
    return account;
  }

  /** The account whose `sub` this is. */
  bySub(sub: string): DevAccount | undefined {
    for (const account of this.accounts.values()) if (account.claims.sub === sub) return account;
    return undefined;
  }

  /** The account when login and password match, in constant time for the password. */
  authenticate(login: string, password: string): DevAccount | undefined {
    const account = this.accounts.get(login.trim());
    if (!account) return undefined;
    const given = Buffer.from(password);
    const expected = Buffer.from(account.password);
    return given.length === expected.length && timingSafeEqual(given, expected) ? account : undefined;
  }
}
