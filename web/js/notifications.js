// In-app notifications (GET /api/v1/notifications): a button with the unread count in the page's
// header that opens the list; each unread one can be marked read. Checked every 30 s.
import { t, tEnum, onLangChange, formatDateTime, formatDay, formatTimeRange } from './i18n.js';
import { api } from './api.js';
import { h, showError, clearError, handleAuthError } from './ui.js';

// Tests shorten it (as they do COURTLINK_QUALITY_MS), so that a notification shows within seconds.
const EVERY_MS = window.COURTLINK_NOTIFICATIONS_MS || 30000;

/** Put the button (and its panel) into `host`; `onChange` runs when new notifications arrive. */
export function mountNotifications(host, { onChange } = {}) {
  const state = { items: [], unread: 0, open: false, last: null };
  const count = h('span', { class: 'badge notif-count', 'data-testid': 'notif-count' });
  const button = h('button', {
    type: 'button', class: 'secondary notif-button', 'data-testid': 'notif-button',
    'aria-expanded': 'false', 'aria-controls': 'notif-panel',
  });
  const error = h('div', { class: 'alert', role: 'alert', hidden: true });
  const list = h('ul', { class: 'notif-list', 'data-testid': 'notif-list' });
  const panel = h('section', {
    id: 'notif-panel', class: 'card notif-panel', 'data-testid': 'notif-panel', hidden: true, 'aria-labelledby': 'notif-heading',
  }, h('h2', { id: 'notif-heading' }), error, list);
  host.append(button);
  // Below the header, over the page: a dropdown that leaves the page's grid alone.
  (document.querySelector('.topbar') || document.body.firstElementChild).after(panel);

  function describe(n) {
    const d = n.data || {};
    const when = d.starts_at ? `${formatDay(d.starts_at)} ${formatTimeRange(d.starts_at, d.ends_at || d.starts_at)}` : '';
    return [d.case_number, d.local_court_name, d.host_court_name, when, d.reason || d.note].filter(Boolean).join(' · ');
  }

  function render() {
    button.replaceChildren(t('notif.button'), ' ', count);
    count.textContent = String(state.unread);
    count.hidden = !state.unread;
    button.setAttribute('aria-label', t('notif.buttonLabel', { count: state.unread }));
    button.setAttribute('aria-expanded', String(state.open));
    panel.hidden = !state.open;
    panel.querySelector('h2').textContent = t('notif.heading');
    if (!state.items.length) {
      list.replaceChildren(h('li', { class: 'empty' }, t('notif.none')));
      return;
    }
    list.replaceChildren(...state.items.map((n) => h('li', {
      class: `notif-item${n.read ? '' : ' unread'}`, 'data-testid': 'notif-item', 'data-event': n.event, 'data-read': String(n.read),
    },
    h('p', { class: 'notif-what' }, h('strong', {}, tEnum('notif.event', n.event)), ' ', h('span', { class: 'hint' }, formatDateTime(n.created_at))),
    h('p', { class: 'notif-detail' }, describe(n)),
    n.read ? null : h('button', {
      type: 'button', class: 'secondary small', 'data-testid': 'notif-read',
      onclick: () => markRead(n),
    }, t('notif.markRead')))));
  }

  async function load() {
    try {
      const answer = await api('/notifications?limit=50');
      const changed = state.last !== null && answer.unread > state.unread;
      state.items = answer.items || [];
      state.unread = answer.unread || 0;
      state.last = Date.now();
      clearError(error);
      render();
      if (changed && onChange) onChange();
    } catch (err) {
      if (!handleAuthError(err)) showError(error, err);
    }
  }

  async function markRead(n) {
    try {
      await api(`/notifications/${encodeURIComponent(n.id)}/read`, { method: 'POST' });
      n.read = true;
      state.unread = Math.max(0, state.unread - 1);
      render();
      list.querySelector('[data-testid=notif-read]')?.focus() || button.focus();
    } catch (err) {
      if (!handleAuthError(err)) showError(error, err);
    }
  }

  button.addEventListener('click', () => {
    state.open = !state.open;
    render();
    if (state.open) {
      load();
      panel.scrollIntoView({ block: 'nearest' });
    }
  });
  // Escape closes the list and gives the focus back to its button.
  panel.addEventListener('keydown', (e) => {
    if (e.key !== 'Escape') return;
    state.open = false;
    render();
    button.focus();
  });
  onLangChange(render);
  render();
  load();
  setInterval(load, EVERY_MS);
  return { reload: load };
}
