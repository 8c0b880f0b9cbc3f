import type { z } from 'zod';
import { fieldErrors, problems } from './problem.js';

/** Parses one part of a request (body, query, a header) or throws a 400 naming each bad field. */
export function parse<S extends z.ZodType>(schema: S, value: unknown, prefix = ''): z.infer<S> {
  const r = schema.safeParse(value);
  if (!r.success) throw problems.validation(fieldErrors(r.error, prefix));
  return r.data;
}
