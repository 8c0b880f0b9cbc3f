/**
 * The engineer's request form: checked with the API's constraints before sending, the API's field errors shown next
 * to the fields after. A retry of the same contents (after a network error, a double click) reuses its
 * Idempotency-Key, so it files one request, not two.
 */
import { ApiError, call } from './api.js';
import { bodySchemas, check, clearErrors, showErrors } from './forms.js';

const $ = (id) => /** @type {HTMLElement} */ (document.getElementById(id));
const FIELDS = ['tenant', 'resource', 'reason', 'ticket', 'duration'];

/**
 * Wires `#new-request-form`; `onFiled(request)` runs after the API accepted a request.
 * @param {{ announce: (text: string) => void }} ctx
 * @param {(request: any) => Promise<void>} onFiled
 */
export function setupRequestForm(ctx, onFiled) {
  const form = /** @type {HTMLFormElement} */ ($('new-request-form'));
  const formError = $('new-request-error');
  let idempotency = { body: '', key: '' };

  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    $('new-request-done').textContent = '';
    const data = new FormData(form);
    const values = Object.fromEntries(FIELDS.map((f) => [f, String(data.get(f) ?? '').trim()]));
    const local = check((await bodySchemas())?.CreateRequestBody ?? null, values, ['duration']);
    if (local.length) return showErrors(form, local, formError);
    const body = { ...values };
    if (!body.ticket) delete body.ticket;
    const text = JSON.stringify(body);
    if (idempotency.body !== text) idempotency = { body: text, key: crypto.randomUUID() };
    const button = /** @type {HTMLButtonElement} */ (form.querySelector('button[type="submit"]'));
    button.disabled = true;
    try {
      const { body: created } = await call('POST', '/v1/requests', { body, headers: { 'idempotency-key': idempotency.key } });
      idempotency = { body: '', key: '' };
      clearErrors(form, formError);
      for (const f of FIELDS.slice(1)) /** @type {HTMLInputElement} */ (form.elements.namedItem(f)).value = '';
      $('new-request-done').textContent = `Request ${created.id} filed: waiting for the approvers of ${created.tenant}.`;
      ctx.announce(`Your request for ${created.resource} is filed and waiting for approval.`);
      await onFiled(created);
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
      showErrors(form, err.errors, formError, err.words);
    } finally {
      button.disabled = false;
    }
  });
}
