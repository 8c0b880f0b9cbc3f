/**
 * The things a person can do to a request, as small forms: approve (optional comment, optional end of access),
 * reject (reason required),
 * cancel, end access now, ask for more time. Each calls the API, says the outcome in words and refreshes the page.
 * `ctx` is the page's context (app.js): `{ me, refresh(), announce(text), invalidate(id), decided }`.
 */
import { post } from './api.js';
import { DURATION_MESSAGE, isDuration } from './forms.js';
import { h } from './dom.js';

/** A form with its inputs, an error slot and a submit button that is disabled while the call runs. */
function actionForm(ctx, { cls, id, fields, button, buttonClass = '', describedBy, action, requestId, submit }) {
  const error = h('p', { class: 'card-error', id: `${id}-error`, attrs: { role: 'alert' } });
  const inputs = {};
  const rows = fields.map((f) => {
    const inputId = `${id}-${f.name}`;
    const errId = `${inputId}-error`;
    const input = h(f.multiline ? 'textarea' : 'input', {
      id: inputId,
      attrs: {
        name: f.name,
        autocomplete: 'off',
        ...(f.type ? { type: f.type } : { maxlength: String(f.max ?? 2000) }),
        'aria-describedby': errId,
        ...(f.multiline ? { rows: '2' } : {}),
        ...(f.required ? { 'aria-required': 'true' } : {}),
      },
    });
    inputs[f.name] = input;
    const row = h('div', { data: { field: f.name } }, h('label', { attrs: { for: inputId }, text: f.label }), input, h('p', { class: 'field-error', id: errId }));
    // A field few people need stays folded: one tab stop (its summary) instead of the input's own.
    return f.disclosure ? h('details', { class: 'more-field' }, h('summary', { text: f.disclosure }), row) : row;
  });
  const btn = h('button', {
    class: buttonClass,
    text: button,
    attrs: { type: 'submit', ...(describedBy ? { 'aria-describedby': describedBy } : {}) },
    data: { action, id: requestId },
  });
  const form = h('form', { class: cls, attrs: { novalidate: '' } }, ...rows, error, btn);
  const fieldError = (name) => form.querySelector(`[data-field="${name}"] .field-error`);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    for (const slot of form.querySelectorAll('.field-error, .card-error')) slot.textContent = '';
    for (const i of Object.values(inputs)) i.removeAttribute('aria-invalid');
    const values = Object.fromEntries(Object.entries(inputs).map(([k, i]) => [k, i.value.trim()]));
    const problems = fields.flatMap((f) => f.check?.(values[f.name]) ?? []).filter(Boolean);
    if (problems.length) return show(problems);
    btn.disabled = true;
    form.setAttribute('aria-busy', 'true');
    try {
      await submit(values);
      ctx.invalidate(requestId);
      await ctx.refresh();
    } catch (err) {
      show(err.errors?.length ? err.errors : [], err.words ?? String(err));
    } finally {
      btn.disabled = false;
      form.removeAttribute('aria-busy');
    }
  });
  function show(errors, words = '') {
    let first = null;
    const rest = [];
    for (const e of errors) {
      const slot = fieldError(e.field);
      if (slot) {
        slot.closest('details')?.setAttribute('open', '');
        slot.textContent = `${e.message}.`;
        inputs[e.field]?.setAttribute('aria-invalid', 'true');
        first ??= inputs[e.field];
      } else rest.push(`${e.field}: ${e.message}`);
    }
    error.textContent = [words, ...rest].filter(Boolean).join(' ');
    (first ?? btn).focus();
  }
  return form;
}

const required = (what) => (v) => (v ? [] : [{ field: what.field, message: what.message }]);

/** Approve and reject forms for a pending request. `key` makes element ids unique where a request shows twice. */
export function decisionForms(req, ctx, key, titleId) {
  const id = `${key}-${req.id}`;
  // An approver may end the access earlier than asked: a time in their own time zone, sent in UTC. Not on an
  // extension's approval (an extension moves the end by what was asked).
  const until = {
    name: 'until',
    label: 'Access ends by (optional, your time)',
    type: 'datetime-local',
    disclosure: 'End the access earlier',
    check: (v) => (v && Number.isNaN(new Date(v).getTime()) ? [{ field: 'until', message: 'Give a date and time, or leave it empty' }] : []),
  };
  const approve = actionForm(ctx, {
    cls: 'approve',
    id: `${id}-approve`,
    fields: [{ name: 'comment', label: 'Comment (optional)' }, ...(req.status === 'pending' ? [until] : [])],
    button: 'Approve',
    describedBy: titleId,
    action: 'approve',
    requestId: req.id,
    submit: async (values) => {
      const body = {
        ...(values.comment ? { comment: values.comment } : {}),
        // datetime-local has no zone: the browser reads it as local time.
        ...(values.until ? { until: new Date(values.until).toISOString() } : {}),
      };
      const after = await post(`/v1/requests/${encodeURIComponent(req.id)}/approve`, body);
      ctx.decided.add(req.id);
      const ends = body.until ? ` Access ends by ${new Date(body.until).toLocaleString()}.` : '';
      ctx.announce(`You approved ${req.requester}'s request for ${req.resource}. It is now ${after.status}.${ends}`);
    },
  });
  const reject = actionForm(ctx, {
    cls: 'reject',
    id: `${id}-reject`,
    fields: [{ name: 'reason', label: 'Reason for rejecting', required: true, check: required({ field: 'reason', message: 'Give a reason to reject: the requester reads it' }) }],
    button: 'Reject',
    buttonClass: 'danger',
    describedBy: titleId,
    action: 'reject',
    requestId: req.id,
    submit: async ({ reason }) => {
      const after = await post(`/v1/requests/${encodeURIComponent(req.id)}/reject`, { reason });
      ctx.decided.add(req.id);
      ctx.announce(`You rejected ${req.requester}'s request for ${req.resource}. It is now ${after.status}.`);
    },
  });
  return h('div', { class: 'actions' }, approve, reject);
}

/** A tenant approver's or admin's verdict on an emergency (break-glass) request: justified or not, once. */
export function reviewForms(req, ctx, key, titleId) {
  const id = `${key}-${req.id}`;
  const form = (verdict, button, buttonClass) =>
    actionForm(ctx, {
      cls: `review review-${verdict}`,
      id: `${id}-review-${verdict}`,
      fields: [{ name: 'comment', label: verdict === 'justified' ? 'Review comment (optional)' : 'Why unjustified (optional)' }],
      button,
      buttonClass,
      describedBy: titleId,
      action: `review-${verdict}`,
      requestId: req.id,
      submit: async ({ comment }) => {
        await post(`/v1/requests/${encodeURIComponent(req.id)}/review`, comment ? { verdict, comment } : { verdict });
        ctx.announce(`You reviewed ${req.requester}'s emergency access to ${req.resource} as ${verdict}.`);
      },
    });
  return h('div', { class: 'actions' }, form('justified', 'Review: justified', ''), form('unjustified', 'Review: unjustified', 'danger'));
}

/** The requester withdraws a pending request. */
export function cancelForm(req, ctx, key, titleId) {
  return actionForm(ctx, {
    cls: 'cancel',
    id: `${key}-${req.id}-cancel`,
    fields: [],
    button: 'Cancel request',
    buttonClass: 'secondary',
    describedBy: titleId,
    action: 'cancel',
    requestId: req.id,
    submit: async () => {
      await post(`/v1/requests/${encodeURIComponent(req.id)}/cancel`, {});
      ctx.announce(`Your request for ${req.resource} is cancelled.`);
    },
  });
}

/** The requester asks for more time on active access; the same approvers decide. */
export function extendForm(req, ctx, key, titleId) {
  return actionForm(ctx, {
    cls: 'extend',
    id: `${key}-${req.id}-extend`,
    fields: [
      { name: 'duration', label: 'More time', max: 32, required: true, check: (v) => (!v ? [{ field: 'duration', message: 'is required' }] : isDuration(v) ? [] : [{ field: 'duration', message: DURATION_MESSAGE }]) },
      { name: 'reason', label: 'Why more time', required: true, check: required({ field: 'reason', message: 'is required' }) },
    ],
    button: 'Ask for more time',
    buttonClass: 'secondary',
    describedBy: titleId,
    action: 'extend',
    requestId: req.id,
    submit: async (values) => {
      await post(`/v1/requests/${encodeURIComponent(req.id)}/extend`, values);
      ctx.announce(`You asked for ${values.duration} more on ${req.resource}; the approvers decide.`);
    },
  });
}

/** Ends active access now (the requester, or an approver of the tenant). */
export function revokeForm(req, ctx, key, titleId) {
  return actionForm(ctx, {
    cls: 'revoke',
    id: `${key}-${req.id}-revoke`,
    fields: [{ name: 'reason', label: 'Why end it now (optional)' }],
    button: 'End access now',
    buttonClass: 'danger',
    describedBy: titleId,
    action: 'revoke',
    requestId: req.id,
    submit: async ({ reason }) => {
      await post(`/v1/requests/${encodeURIComponent(req.id)}/revoke`, reason ? { reason } : {});
      ctx.announce(`Access to ${req.resource} has ended.`);
    },
  });
}
