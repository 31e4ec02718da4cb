// pages/page-user.ts — what Drawbridge's pages show of an identity (never tokens, never claims beyond these).
import type { Identity } from '../policy/input.js';

/** The user as the pages show them: name, email, groups. */
export function pageUser(id: Identity): { user: string; email?: string; name?: string; groups?: readonly string[] } {
  return { user: id.user, ...(id.email ? { email: id.email } : {}), ...(id.name ? { name: id.name } : {}), groups: id.groups };
}
