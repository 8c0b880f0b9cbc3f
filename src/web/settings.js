/**
 * Tenant admin: read the tenant's settings (GET, keeping the ETag) and change them (PUT with If-Match), so a change
 * someone else made meanwhile is not overwritten silently (412, said in words).
 */
import { ApiError, call } from './api.js';
import { bodySchemas, check, clearErrors, showErrors } from './forms.js';
import { h } from './dom.js';

const $ = (id) => /** @type {HTMLInputElement} */ (document.getElementById(id));

/**
 * Wires the settings section for the tenants this person administers.
 * @param {string[]} tenants
 * @param {{ announce: (text: string) => void }} ctx
 */
export function setupSettings(tenants, ctx) {
  const form = /** @type {HTMLFormElement} */ (document.getElementById('settings-form'));
  const select = /** @type {HTMLSelectElement} */ (document.getElementById('settings-tenant'));
  const formError = $('settings-error');
  const version = $('settings-version');
  let etag = null;

  select.replaceChildren(...tenants.map((t) => h('option', { attrs: { value: t }, text: t })));

  async function load() {
    clearErrors(form, formError);
    version.textContent = 'Loading…';
    try {
      const { body, headers } = await call('GET', `/v1/tenants/${encodeURIComponent(select.value)}/settings`);
      etag = headers.get('etag');
      fill(body);
    } catch (err) {
      version.textContent = '';
      formError.textContent = err instanceof ApiError ? err.words : String(err);
    }
  }

  function fill(s) {
    $('st-customerApproval').checked = Boolean(s.customerApproval);
    $('st-internalApproval').checked = Boolean(s.internalApproval);
    $('st-requireTicket').checked = Boolean(s.requireTicket);
    $('st-approvers').value = (s.approvers ?? []).join('\n');
    $('st-quorum').value = String(s.quorum ?? 1);
    $('st-requestTtl').value = s.requestTtl ?? '';
    $('st-maxAccess').value = s.maxAccess ?? '';
    // Shown, not edited here: the form's PUT leaves `resources` out, which keeps them as they are.
    const picks = Object.entries(s.resources ?? {});
    $('st-resources').replaceChildren(
      ...(picks.length
        ? picks.map(([resource, pick]) => h('li', { text: `${resource} → ${pick?.target ?? '?'}` }))
        : [h('li', { text: 'None: every resource uses the built-in grants.' })]),
    );
    // Shown, not edited here either: left out of the PUT, they stay as they are.
    $('st-escalation').replaceChildren(
      h('li', { text: s.escalation ? `Escalation after ${s.escalation.after} without a decision, to ${s.escalation.to.join(', ')}` : 'Escalation: none.' }),
      h('li', { text: s.reminders ? `Reminders: ${s.reminders.count}, every ${s.reminders.every} from the start of each stage` : 'Reminders: one, an hour before the request expires.' }),
      h('li', { text: `Request records kept ${s.recordRetention ?? '400d'} after a request closes, then pruned (audited).` }),
    );
    version.textContent = `Version ${s.version}, last changed by ${s.updatedBy} at ${new Date(s.updatedAt).toLocaleString()}.`;
  }

  form.onsubmit = async (ev) => {
    ev.preventDefault();
    const text = { requestTtl: $('st-requestTtl').value.trim(), maxAccess: $('st-maxAccess').value.trim() };
    const schema = (await bodySchemas())?.SettingsBody ?? null;
    const local = check(schema, text, ['requestTtl', 'maxAccess']);
    const quorum = Number($('st-quorum').value);
    if (!Number.isInteger(quorum)) local.push({ field: 'quorum', message: 'must be a whole number' });
    if (local.length) return showErrors(form, local, formError);
    const body = {
      customerApproval: $('st-customerApproval').checked,
      internalApproval: $('st-internalApproval').checked,
      requireTicket: $('st-requireTicket').checked,
      approvers: $('st-approvers').value.split(/[\s,]+/).map((x) => x.trim()).filter(Boolean),
      quorum,
      ...text,
    };
    const button = form.querySelector('button[type="submit"]');
    button.disabled = true;
    try {
      const { body: saved, headers } = await call('PUT', `/v1/tenants/${encodeURIComponent(select.value)}/settings`, {
        body,
        headers: etag ? { 'if-match': etag } : {},
      });
      etag = headers.get('etag');
      clearErrors(form, formError);
      fill(saved);
      ctx.announce(`Settings of ${select.value} saved (version ${saved.version}).`);
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
      const words = err.status === 412 ? `${err.detail}. Someone changed these settings after you loaded them: choose Reload to see their change, then make yours again.` : err.words;
      showErrors(form, err.errors, formError, words);
    } finally {
      button.disabled = false;
    }
  };
  select.onchange = load;
  $('settings-reload').onclick = load;
  return { load };
}
