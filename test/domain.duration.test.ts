/**
 * Durations as people write them (`4h`, `1h30m`) and as ISO-8601 (`PT4H`): what is accepted, what is refused,
 * and that formatting and parsing are inverse.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatDuration, parseDuration } from '../src/domain/duration.js';

const S = 1_000;
const M = 60 * S;
const H = 60 * M;
const D = 24 * H;

describe('parseDuration accepts', () => {
  it.each<[string, number, string]>([
    ['45s', 45 * S, 'seconds'],
    ['30m', 30 * M, 'minutes'],
    ['4h', 4 * H, 'hours'],
    ['1d', D, 'days'],
    ['1h30m', H + 30 * M, 'compound, largest unit first'],
    ['90m', 90 * M, 'a unit above its carry-over'],
    ['0h30m', 30 * M, 'a zero part beside a positive one'],
    ['1d2h3m4s5ms', D + 2 * H + 3 * M + 4 * S + 5, 'every short unit'],
    ['5ms', 5, 'milliseconds ("m" is not read as minutes before "s")'],
    ['1m30ms', M + 30, 'minutes then milliseconds'],
    ['PT4H', 4 * H, 'ISO hours'],
    ['PT1M', M, 'ISO minutes (M after T)'],
    ['P1D', D, 'ISO days'],
    ['P1DT2H', D + 2 * H, 'ISO days and hours'],
    ['PT4H30M', 4 * H + 30 * M, 'ISO hours and minutes'],
    ['PT0.5S', 500, 'ISO fractional seconds'],
    ['P1DT2H3M4.25S', D + 2 * H + 3 * M + 4250, 'every ISO part'],
    ['pt4h', 4 * H, 'ISO in lower case'],
    ['Pt4h', 4 * H, 'ISO in mixed case'],
    [' 4h ', 4 * H, 'surrounding blanks are trimmed'],
    ['\t4h\n', 4 * H, 'surrounding tabs and newlines are trimmed'],
  ])('%j = %d ms (%s)', (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });
});

describe('parseDuration refuses', () => {
  it.each<[string, string]>([
    ['', 'empty'],
    ['   ', 'only blanks'],
    ['0s', 'zero'],
    ['0h0m', 'zero in parts'],
    ['P0D', 'ISO zero'],
    ['PT0S', 'ISO zero seconds'],
    ['4', 'a number without a unit'],
    ['h', 'a unit without a number'],
    ['PT', 'ISO with no part'],
    ['P', 'ISO with nothing at all'],
    ['P1DT', 'ISO time designator with no time part'],
    ['T4H', 'ISO without P'],
    ['-1h', 'negative'],
    ['+4h', 'signed'],
    ['4x', 'unknown unit'],
    ['4hh', 'unit twice'],
    ['1e3s', 'exponent notation'],
    ['1.5h', 'fractions in the short form'],
    ['PT1.5H', 'ISO fractions other than seconds'],
    ['PT.5S', 'ISO fraction without its integer part'],
    ['PT0,5S', 'ISO decimal comma'],
    ['1h 30m', 'blanks inside'],
    ['30m1h', 'units out of order'],
    ['1h1h', 'a unit repeated'],
    ['4H', 'the short form is lower case only (ISO alone is case-insensitive)'],
    ['P1W', 'ISO weeks'],
    ['P1M', 'ISO months (ambiguous length)'],
    ['P1Y', 'ISO years'],
    ['\uff14h', 'non-ASCII digits'],
    ['0'.repeat(31) + '1h', 'longer than 32 characters, even if it means 1h'],
    ['9'.repeat(31) + 's', 'beyond the safe integer range'],
    ['4h'.repeat(1000), 'very long'],
    ['PT0.0001S', 'rounds to 0 ms'],
  ])('%j (%s)', (text) => {
    expect(parseDuration(text)).toBeNull();
  });
});

describe('formatDuration', () => {
  it.each<[number, string]>([
    [45 * S, '45s'],
    [30 * M, '30m'],
    [4 * H, '4h'],
    [D, '1d'],
    [H + 30 * M, '1h30m'],
    [D + 2 * H, '1d2h'],
    [1500, '1s500ms'],
    [0, '0s'],
    [-5 * S, '0s'],
  ])('%d ms is %j', (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
  });
});

describe('duration properties', () => {
  const units = fc.record({
    d: fc.nat({ max: 400 }),
    h: fc.nat({ max: 23 }),
    m: fc.nat({ max: 59 }),
    s: fc.nat({ max: 59 }),
  });

  it('parseDuration(formatDuration(n s)) = n s for every whole number of seconds', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: Math.floor(Number.MAX_SAFE_INTEGER / S) }), (n) => {
        expect(parseDuration(formatDuration(n * S))).toBe(n * S);
      }),
      { numRuns: 2000 },
    );
  });

  it('parseDuration(formatDuration(ms)) = ms for every positive safe integer', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }), (ms) => {
        expect(parseDuration(formatDuration(ms))).toBe(ms);
      }),
      { numRuns: 2000 },
    );
  });

  it('formatDuration(parseDuration(text)) gives the canonical short form back', () => {
    fc.assert(
      fc.property(units, ({ d, h, m, s }) => {
        fc.pre(d + h + m + s > 0);
        const canonical = [[d, 'd'], [h, 'h'], [m, 'm'], [s, 's']]
          .filter(([n]) => n !== 0)
          .map(([n, u]) => `${n}${u}`)
          .join('');
        const ms = d * D + h * H + m * M + s * S;
        expect(parseDuration(canonical)).toBe(ms);
        expect(formatDuration(ms)).toBe(canonical);
        // The ISO spelling means the same.
        expect(parseDuration(`P${d}DT${h}H${m}M${s}S`)).toBe(ms);
      }),
      { numRuns: 2000 },
    );
  });

  it('is total: any text yields null or a positive safe integer of milliseconds, never a throw', () => {
    const isoLike = fc.stringMatching(/^[Pp](\d{0,3}D)?([Tt](\d{0,3}H)?(\d{0,3}M)?(\d{0,2}(\.\d{1,5})?S)?)?$/);
    const shortLike = fc.stringMatching(/^ ?(\d{0,3}d)?(\d{0,3}h)?(\d{0,3}m)?(\d{0,3}s)?(\d{0,3}ms)? ?$/);
    // Fractional ISO seconds near zero (fast-check biases integers towards small values).
    const tinySeconds = fc
      .tuple(fc.nat({ max: 3 }), fc.integer({ min: 0, max: 999_999 }))
      .map(([whole, micro]) => `PT${whole}.${String(micro).padStart(6, '0')}S`);
    fc.assert(
      fc.property(fc.oneof(fc.string({ maxLength: 40 }), isoLike, shortLike, tinySeconds), (text) => {
        const ms = parseDuration(text);
        if (ms !== null) {
          expect(Number.isSafeInteger(ms), `${JSON.stringify(text)} -> ${ms}`).toBe(true);
          expect(ms, `${JSON.stringify(text)} -> ${ms}`).toBeGreaterThan(0);
        }
      }),
      { numRuns: 5000 },
    );
  });
});
