/**
 * Building the page without HTML strings: every text, above all what the API returns (reasons, comments, names),
 * becomes a Text node or `textContent`, never markup. Nothing in the portal parses a string as HTML.
 */

/**
 * `h('li', { class: 'card', data: { key: id }, on: { click } }, 'text', child)`: an element whose string children
 * are text nodes. `attrs` are set with setAttribute (values are strings, never parsed as HTML).
 * @param {string} tag
 * @param {{ class?: string, id?: string, text?: string, attrs?: Record<string, string>, data?: Record<string, string>,
 *   on?: Record<string, EventListener>, hidden?: boolean }} [props]
 * @param {...(Node | string | null | undefined | false)} children
 */
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  if (props.class) el.className = props.class;
  if (props.id) el.id = props.id;
  if (props.text !== undefined) el.textContent = props.text;
  if (props.hidden) el.hidden = true;
  for (const [k, v] of Object.entries(props.attrs ?? {})) el.setAttribute(k, v);
  for (const [k, v] of Object.entries(props.data ?? {})) el.dataset[k] = v;
  for (const [k, fn] of Object.entries(props.on ?? {})) el.addEventListener(k, fn);
  append(el, ...children);
  return el;
}

/** Appends children; strings become Text nodes. */
export function append(el, ...children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    el.append(typeof c === 'string' ? document.createTextNode(c) : c);
  }
  return el;
}

/** `<dl>` of label / value pairs; a value may be a node or text. Empty values are left out. */
export function facts(pairs) {
  const dl = h('dl', { class: 'facts' });
  for (const [label, value] of pairs) {
    if (value === null || value === undefined || value === '') continue;
    dl.append(h('dt', { text: label }), h('dd', {}, value));
  }
  return dl;
}

/** A date as people read it here, in their time zone; the machine form stays in `datetime`. */
export function timeEl(iso) {
  const d = new Date(iso);
  return h('time', { attrs: { datetime: iso }, text: Number.isNaN(d.getTime()) ? iso : d.toLocaleString() });
}

/** `2h 5m 3s`; under a minute only seconds. */
export function formatRemaining(ms) {
  if (ms <= 0) return '0s';
  const total = Math.floor(ms / 1000);
  const d = Math.floor(total / 86400);
  const hh = Math.floor((total % 86400) / 3600);
  const mm = Math.floor((total % 3600) / 60);
  const ss = total % 60;
  const parts = [];
  if (d) parts.push(`${d}d`);
  if (d || hh) parts.push(`${hh}h`);
  if (d || hh || mm) parts.push(`${mm}m`);
  parts.push(`${ss}s`);
  return parts.join(' ');
}

/**
 * A live countdown to `iso`: the page's one-second ticker (`tickCountdowns`) rewrites it. `role="timer"` keeps
 * screen readers from announcing every second.
 */
export function countdown(iso, { before = 'in', after = 'passed' } = {}) {
  const el = h('span', { class: 'countdown', attrs: { role: 'timer' }, data: { deadline: iso, before, after } });
  renderCountdown(el, Date.now());
  return el;
}

function renderCountdown(el, now) {
  const left = Date.parse(el.dataset.deadline ?? '') - now;
  el.textContent = Number.isNaN(left) ? '' : left > 0 ? `${el.dataset.before} ${formatRemaining(left)}` : (el.dataset.after ?? '');
}

/** Updates every countdown on the page. */
export function tickCountdowns(root = document) {
  const now = Date.now();
  for (const el of root.querySelectorAll('[data-deadline]')) renderCountdown(/** @type {HTMLElement} */ (el), now);
}

/** A status as a coloured badge with its word (the colour is never the only signal). */
export function badge(status) {
  return h('span', { class: `badge badge-${status}`, text: status, data: { status } });
}

/**
 * Keeps `list`'s children in step with `items` by key without rebuilding what did not change, so a half-typed
 * comment or the keyboard focus survives the poll. `render(item)` builds a child; `signature(item)` says when an
 * existing child must be rebuilt. Returns the keys that were added.
 * @template T
 * @param {HTMLElement} list
 * @param {T[]} items
 * @param {{ key: (item: T) => string, signature: (item: T) => string, render: (item: T) => HTMLElement,
 *   onRemoveFocused?: () => void }} how
 */
export function syncList(list, items, how) {
  const existing = new Map();
  for (const child of [...list.children]) existing.set(/** @type {HTMLElement} */ (child).dataset.key, child);
  const wanted = new Set(items.map(how.key));
  let lostFocus = false;
  for (const [key, child] of existing) {
    if (!wanted.has(key)) {
      if (child.contains(document.activeElement)) lostFocus = true;
      child.remove();
      existing.delete(key);
    }
  }
  const added = [];
  let cursor = list.firstElementChild;
  for (const item of items) {
    const key = how.key(item);
    const sig = how.signature(item);
    let child = existing.get(key);
    if (child && child.dataset.signature !== sig) {
      if (child.contains(document.activeElement)) lostFocus = true;
      const fresh = how.render(item);
      child.replaceWith(fresh);
      if (cursor === child) cursor = fresh;
      child = fresh;
    } else if (!child) {
      child = how.render(item);
      added.push(key);
    }
    child.dataset.key = key;
    child.dataset.signature = sig;
    // Move only what is out of place: moving a node that holds the focus would drop it.
    if (child !== cursor) list.insertBefore(child, cursor);
    cursor = child.nextElementSibling;
  }
  if (lostFocus && how.onRemoveFocused) how.onRemoveFocused();
  return added;
}
