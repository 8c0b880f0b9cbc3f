import { formatDuration } from '../domain/duration.js';

/** Where commands write: stdout for results, stderr for progress and errors (so `--json` output stays parsable). */
export interface Output {
  out(text: string): void;
  err(text: string): void;
}

export const stdio: Output = {
  out: (text) => void process.stdout.write(text.endsWith('\n') ? text : `${text}\n`),
  err: (text) => void process.stderr.write(text.endsWith('\n') ? text : `${text}\n`),
};

/** The raw API answer, for scripts. */
export function printJson(o: Output, value: unknown): void {
  o.out(JSON.stringify(value, null, 2));
}

/** Shortens one cell so a table stays readable; the full value is in `show` and `--json`. */
export function clip(value: string, max: number): string {
  const flat = value.replace(/\s+/g, ' ');
  return flat.length <= max ? flat : `${flat.slice(0, max - 1)}…`;
}

/** A plain aligned table with an upper-case header row. */
export function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [line(headers.map((h) => h.toUpperCase())), ...rows.map(line)].join('\n');
}

/** Label/value lines, labels aligned; null and empty values are left out. */
export function fields(pairs: Array<[string, string | null | undefined]>): string {
  const shown = pairs.filter((p): p is [string, string] => p[1] !== null && p[1] !== undefined && p[1] !== '');
  const width = Math.max(...shown.map(([k]) => k.length));
  return shown.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join('\n');
}

/** `2026-11-29 09:28:36Z`: ISO without milliseconds, readable, still unambiguous. */
export function when(iso: string | null | undefined): string {
  if (!iso) return '-';
  const t = Date.parse(iso);
  return Number.isNaN(t) ? iso : new Date(t).toISOString().replace('T', ' ').replace(/\.\d{3}Z$/, 'Z');
}

/** `in 3h59m` / `4m ago`, to the second, against `now`. */
export function relative(iso: string, now = Date.now()): string {
  const ms = Date.parse(iso) - now;
  if (Number.isNaN(ms)) return '';
  const span = formatDuration(Math.max(1000, Math.round(Math.abs(ms) / 1000) * 1000));
  return ms >= 0 ? `in ${span}` : `${span} ago`;
}

/** `when (relative)` for a future or past instant. */
export function whenRelative(iso: string | null | undefined, now = Date.now()): string {
  return iso ? `${when(iso)} (${relative(iso, now)})` : '-';
}

/** `HH:MM:SS` local time, for progress lines. */
export function clock(d = new Date()): string {
  return d.toTimeString().slice(0, 8);
}
