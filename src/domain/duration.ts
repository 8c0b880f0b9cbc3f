/**
 * Durations as people write them: `45s`, `30m`, `4h`, `1d`, `1h30m`, or ISO-8601 like `PT4H`, `P1DT2H`.
 * Parsing is pure and total: a bad string yields null, never an exception.
 */
const UNIT_MS = { d: 86_400_000, h: 3_600_000, m: 60_000, s: 1_000, ms: 1 } as const;

const SHORT = /^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m(?!s))?(?:(\d+)s)?(?:(\d+)ms)?$/;
const ISO = /^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$/;

/** Parses a duration string into milliseconds, or null when it is not a valid positive duration. */
export function parseDuration(text: string): number | null {
  const s = text.trim();
  if (s.length === 0 || s.length > 32) return null;
  const short = SHORT.exec(s);
  if (short && short.slice(1).some((g) => g !== undefined)) {
    const [, d, h, m, sec, ms] = short;
    return total([
      [d, UNIT_MS.d],
      [h, UNIT_MS.h],
      [m, UNIT_MS.m],
      [sec, UNIT_MS.s],
      [ms, UNIT_MS.ms],
    ]);
  }
  const iso = ISO.exec(s.toUpperCase());
  if (iso && iso.slice(1).some((g) => g !== undefined) && !s.toUpperCase().endsWith('T')) {
    const [, d, h, m, sec] = iso;
    return total([
      [d, UNIT_MS.d],
      [h, UNIT_MS.h],
      [m, UNIT_MS.m],
      [sec, UNIT_MS.s],
    ]);
  }
  return null;
}

function total(parts: Array<[string | undefined, number]>): number | null {
  let ms = 0;
  for (const [value, unit] of parts) if (value !== undefined) ms += Number(value) * unit;
  // Round first: a fraction of a millisecond (`PT0.0001S`) is not a positive duration.
  const rounded = Math.round(ms);
  return Number.isSafeInteger(rounded) && rounded > 0 ? rounded : null;
}

/** Formats milliseconds compactly (`4h`, `1h30m`, `45s`); the inverse of parseDuration for whole units. */
export function formatDuration(ms: number): string {
  let rest = Math.round(ms);
  let out = '';
  for (const [unit, size] of Object.entries(UNIT_MS)) {
    const n = Math.floor(rest / size);
    if (n > 0) {
      out += `${n}${unit}`;
      rest -= n * size;
    }
  }
  return out || '0s';
}
