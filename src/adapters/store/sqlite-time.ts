/**
 * Times are stored as text, so they must all share one format for `<` and ORDER BY to be chronological:
 * `toISOString()` always gives `YYYY-MM-DDTHH:mm:ss.sssZ`, except outside years 0000-9999 where it grows a sign
 * and would sort wrongly, hence the length check.
 */
export function isoUtc(value: string, field: string): string {
  const d = new Date(value);
  if (Number.isNaN(d.getTime())) throw new RangeError(`${field} is not a valid ISO-8601 time`);
  const iso = d.toISOString();
  if (iso.length !== 24) throw new RangeError(`${field} is outside the years 0000-9999`);
  return iso;
}
