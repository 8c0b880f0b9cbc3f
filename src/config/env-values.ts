/** How the configuration schemas read an environment variable's text: durations, ports, booleans, optional text. */
import { z } from 'zod';
import { parseDuration } from '../domain/duration.js';

export const duration = (fallback: string) =>
  z
    .string()
    .default(fallback)
    .transform((text, ctx) => {
      const ms = parseDuration(text);
      if (ms === null) {
        ctx.addIssue({ code: 'custom', message: `"${text}" is not a duration (write 45s, 30m, 4h or PT4H)` });
        return z.NEVER;
      }
      return ms;
    });

export const port = (fallback: number) => z.coerce.number().int().min(1).max(65535).default(fallback);

/** An empty value (`VAR=`, compose's `${VAR:-}`) counts as unset. */
export const unsetIfEmpty = (v: unknown) => (v === '' ? undefined : v);
export const text = z.preprocess(unsetIfEmpty, z.string().optional());

/** `true`/`false` (also 1/0, yes/no), as Temporal's tools read booleans; unset or empty stays undefined. */
export const bool = z.preprocess(
  unsetIfEmpty,
  z
    .string()
    .regex(/^(true|false|1|0|yes|no)$/i, 'must be true or false')
    .transform((v) => /^(true|1|yes)$/i.test(v))
    .optional(),
);
