// policy/reasons.ts — the one catalog of policy reason codes, each with the plain-words sentence
// that end users read on the 403 page and operators read in `explain` and the logs.

/** Reason code → one sentence, addressed to the person making the request. */
export const REASONS = {
  // Decision-level reasons (evaluate.ts).
  'public-route': 'This route is public: no sign-in is needed.',
  'user-unauthenticated': 'You need to sign in to reach this page.',
  'allow-matched': 'A rule that grants access to this route applies to your request.',
  'deny-matched': 'A rule that refuses access to this route applies to your request.',
  'deny-undecided': 'A rule that refuses access to this route could not be checked for your request, so access is refused.',
  'no-allow-matched': 'None of the rules that grant access to this route apply to you.',
  'step-up-required': 'This page needs a stronger or more recent sign-in than your current one.',

  // One pair (or more) per rule, in the order of the registry.
  'authenticated-ok': 'You are signed in.',
  'user-ok': 'Your user name is one of those allowed by this rule.',
  'user-unauthorized': 'Your user name is not one of those this route allows.',
  'email-ok': 'Your email address is one of those listed by this rule.',
  'email-unauthorized': 'Your email address is not one of those this route allows.',
  'email-unverified': 'Your email address has not been verified with your identity provider.',
  'domain-ok': 'Your verified email address is in a domain listed by this rule.',
  'domain-unauthorized': 'Your email address is not in a domain this route allows.',
  'groups-ok': 'You are in one of the groups listed by this rule.',
  'groups-unauthorized': 'You are not in any of the groups this route requires.',
  'claim-ok': 'Your account has the attribute values this rule asks for.',
  'claim-mismatch': 'Your account does not have the attribute values this route requires.',
  'method-ok': 'The request method is one of those listed by this rule.',
  'method-not-allowed': 'This kind of request (its HTTP method) is not allowed here.',
  'path-ok': 'The page is under one of the paths listed by this rule.',
  'path-outside': 'This page is outside the paths you may reach on this route.',
  'ip-ok': 'Your network address is in one of the ranges listed by this rule.',
  'ip-outside': 'You are not connecting from a network this route allows.',
  'ip-unknown': 'Your network address could not be determined, so no rule about networks can let you in.',
  'time-ok': 'The current time is inside the window set by this rule.',
  'time-outside-window': 'This route cannot be reached at this time of day or on this day.',
  'before-ok': 'The time-limited access of this rule has not ended yet.',
  'grant-expired': 'Your time-limited access to this route has ended.',
  'after-ok': 'The time-limited access of this rule has started.',
  'grant-not-yet-active': 'Your time-limited access to this route has not started yet.',
  'mfa-ok': 'You signed in with multi-factor authentication.',
  'mfa-missing': 'This page needs a sign-in with multi-factor authentication.',
  'acr-ok': 'Your sign-in meets the assurance level this rule asks for.',
  'acr-unsatisfied': 'This page needs a sign-in at a higher assurance level.',
  'auth-age-ok': 'You signed in recently enough for this rule.',
  'auth-too-old': 'This page needs a more recent sign-in.',
  'auth-time-missing': 'This page needs a fresh sign-in: the time of your last sign-in is unknown.',
  'policy-ok': 'A shared policy grants you access.',
  'policy-unauthorized': 'A shared policy this route relies on does not grant you access.',
  'and-ok': 'All the conditions of this rule hold.',
  'and-unauthorized': 'Not all the conditions this route requires hold.',
  'or-ok': 'At least one of the alternatives of this rule holds.',
  'or-unauthorized': 'None of the alternatives this route accepts holds.',
  'not-matched': 'The condition this rule excludes does not apply to your request.',
  'not-unmatched': 'Your request meets a condition this route excludes.',
  'not-undecided': 'Whether your request meets a condition this route excludes could not be checked.',
} as const satisfies Record<string, string>;

export type ReasonCode = keyof typeof REASONS;
