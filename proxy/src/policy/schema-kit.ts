// policy/schema-kit.ts — zod and the value schemas the configuration shares (durations, CIDR ranges): what every
// rule's schema is built from (rule.ts SchemaKit). Only validation imports this module (policy/schema.ts,
// schema/config.ts, cli/test.ts), so a process that compiles validated configurations (serve) never loads zod.
import { z } from 'zod';
import { parseCidr } from './cidr.js';
import { DURATION, DURATION_HINT, durationMs } from './duration.js';
import type { SchemaKit } from './rule.js';

/** A positive duration string; parse it with `parseDuration` after validation. */
export const durationSchema = z
  .string()
  .regex(DURATION, `expected a duration: ${DURATION_HINT}`)
  .refine((text) => {
    const ms = durationMs(text);
    return ms === undefined || ms > 0;
  }, 'a duration must be greater than zero')
  .refine((text) => !DURATION.test(text) || durationMs(text) !== undefined, 'the duration is too large');

/** A CIDR range (or a single address) as written in YAML; the message says what is wrong. */
export const cidrSchema = z.string().superRefine((text, ctx) => {
  const parsed = parseCidr(text);
  if (!parsed.ok) ctx.addIssue({ code: 'custom', message: parsed.error });
});

/** What policy/schema.ts hands every rule's `schema`. */
export const SCHEMA_KIT: SchemaKit = Object.freeze({ z, duration: durationSchema, cidr: cidrSchema });
