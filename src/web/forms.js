/**
 * Form checks with the API's own constraints: required fields, lengths and patterns come from the JSON Schemas in
 * `/openapi.json` (generated from the zod schemas the API validates with), durations from the same grammar as
 * src/domain/duration.ts. The API stays the judge: its field errors are shown next to the fields as well.
 */
import { get } from './api.js';

let schemasPromise;
/** The request-body schemas of the OpenAPI document, fetched once (null when it cannot be read). */
export function bodySchemas() {
  schemasPromise ??= get('/openapi.json', { auth: false })
    .then((doc) => doc?.components?.schemas ?? null)
    .catch(() => null);
  return schemasPromise;
}

// The grammar of src/domain/duration.ts: 45s, 30m, 4h, 1d, 1h30m, 250ms, or ISO-8601 (PT4H, P1DT2H).
const SHORT = /^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m(?!s))?(?:(\d+)s)?(?:(\d+)ms)?$/;
const ISO = /^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$/;
export const DURATION_MESSAGE = 'must be a duration like 45s, 30m, 4h or PT4H';

/** Whether `text` is a positive duration as the API reads it (its limits, e.g. the tenant's maximum, aside). */
export function isDuration(text) {
  const s = text.trim();
  if (!s || s.length > 32) return false;
  const short = SHORT.exec(s);
  if (short && short.slice(1).some((g) => g !== undefined)) return short.slice(1).some((g) => g !== undefined && Number(g) > 0);
  const up = s.toUpperCase();
  const iso = ISO.exec(up);
  return Boolean(iso && iso.slice(1).some((g) => g !== undefined && Number(g) > 0) && !up.endsWith('T'));
}

/**
 * Checks `values` (already trimmed; '' = not given) against an object schema. Returns `[{field, message}]`.
 * @param {Record<string, any> | null} schema
 * @param {Record<string, string>} values
 * @param {string[]} durationFields
 */
export function check(schema, values, durationFields = []) {
  const errors = [];
  const required = new Set(schema?.required ?? []);
  for (const [field, value] of Object.entries(values)) {
    const prop = schema?.properties?.[field] ?? {};
    if (value === '') {
      if (required.has(field)) errors.push({ field, message: 'is required' });
      continue;
    }
    if (typeof prop.maxLength === 'number' && value.length > prop.maxLength) {
      errors.push({ field, message: `must be at most ${prop.maxLength} characters` });
    } else if (typeof prop.pattern === 'string' && !safeRegExp(prop.pattern)?.test(value)) {
      errors.push({ field, message: 'does not have the form shown below the field' });
    } else if (durationFields.includes(field) && !isDuration(value)) {
      errors.push({ field, message: DURATION_MESSAGE });
    }
  }
  return errors;
}

function safeRegExp(pattern) {
  try {
    return new RegExp(pattern, 'u');
  } catch {
    return null;
  }
}

/**
 * Shows field errors next to their fields (`data-field` wrappers with a `.field-error` inside) and marks the inputs
 * `aria-invalid`; errors naming no field of the form go to `formError` with the API's detail. Focuses the first
 * invalid field, so keyboard and screen-reader users land on it.
 * @param {HTMLFormElement} form
 * @param {Array<{ field: string, message: string }>} errors
 * @param {HTMLElement} formError
 * @param {string} [detail]
 */
export function showErrors(form, errors, formError, detail = '') {
  clearErrors(form, formError);
  const leftover = [];
  let first = null;
  for (const e of errors) {
    const name = String(e.field).split('.')[0];
    const wrap = form.querySelector(`[data-field="${CSS.escape(name)}"]`);
    const slot = wrap?.querySelector('.field-error');
    const input = wrap?.querySelector('input, textarea, select');
    if (!wrap || !slot) {
      leftover.push(`${e.field}: ${e.message}`);
      continue;
    }
    // The label's own words, without hints in nested elements ("Ticket", not "Ticket (optional ...)").
    const label = wrap.querySelector('label')?.firstChild?.textContent?.trim() || name;
    slot.textContent = [slot.textContent, sentence(label, name, e.message)].filter(Boolean).join(' ');
    input?.setAttribute('aria-invalid', 'true');
    first ??= input;
  }
  const words = [leftover.length ? leftover.join('; ') : '', errors.length === 0 ? detail : ''].filter(Boolean).join(' ');
  formError.textContent = words || (errors.length ? 'Please correct the fields marked above.' : '');
  if (first) first.focus();
}

/** "Duration must be …." — or the message alone when it already names the field ("tenant x has not …"). */
function sentence(label, field, message) {
  const m = String(message).trim().replace(/\.$/, '');
  const named = [label, field].some((w) => m.toLowerCase().startsWith(`${w.toLowerCase()} `));
  return named ? `${m[0]?.toUpperCase() ?? ''}${m.slice(1)}.` : `${label} ${m}.`;
}

export function clearErrors(form, formError) {
  for (const slot of form.querySelectorAll('.field-error')) slot.textContent = '';
  for (const input of form.querySelectorAll('[aria-invalid]')) input.removeAttribute('aria-invalid');
  if (formError) formError.textContent = '';
}
