/** Rejects unparsable times here, with the field's name, rather than as a PostgreSQL cast error. */
export function isoUtc(value: string, field: string): string {
  const d = new Date(value);
  if (Number.isNaN(d.getTime())) throw new RangeError(`${field} is not a valid ISO-8601 time`);
  return d.toISOString();
}
