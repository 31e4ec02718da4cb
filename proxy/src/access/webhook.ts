// access/webhook.ts — the access-request notifier (HMAC-signed JSON, retried with backoff, never on the request path).
// Placeholder with the agreed interface: the lead's implementation replaces this file at merge.

export interface AccessWebhookOptions {
  url: string;
  secret: string;
  log: (event: Record<string, unknown>) => void;
  now?: () => number;
  fetchImpl?: typeof fetch;
  maxAttempts?: number;
}

export interface AccessWebhook {
  notify(payload: AccessWebhookPayload): void;
  close(): Promise<void>;
}

export interface AccessWebhookPayload {
  event: 'access-request.created' | 'access-request.approved' | 'access-request.denied' | 'access-grant.revoked' | 'access-grant.expired';
  id: string;
  route: string;
  user: string;
  actor?: string;
  reason?: string;
  durationSeconds?: number;
  expiresAt?: string;
  url: string;
  text: string;
}

/** Builds the notifier (not merged yet: the lead's access/webhook.ts replaces this). */
export function createAccessWebhook(options: AccessWebhookOptions): AccessWebhook {
  void options;
  throw new Error('not merged yet');
}
