// 领导包案 (docs/ledger.md, "A leader in a session"): the booking court's coordinator names one of
// the court's leaders on a session from today's list. The leader then finds the session on their
// own page (officer.html) and joins; the host admits them like the petitioner.
import { t } from './i18n.js';
import { api } from './api.js';
import { h, showError, clearError, handleAuthError, announce } from './ui.js';

let seq = 0;

/** The control on one session of the coordinator's list; `onAdded()` reloads the list. */
export function leaderControl(session, { onAdded }) {
  if (['ended', 'no_show'].includes(session.status)) return null;
  const id = `leader-${session.id}-${++seq}`;
  const select = h('select', { id, 'data-testid': 'leader-select' });
  const error = h('div', { class: 'alert', role: 'alert', hidden: true });
  const submit = h('button', { type: 'submit', class: 'secondary', 'data-testid': 'leader-submit' }, t('leader.add'));
  const form = h('form', { class: 'stack', novalidate: true },
    h('div', { class: 'field' }, h('label', { for: id }, t('leader.choose')), select),
    error, submit);
  const box = h('details', { class: 'leader-control', 'data-testid': 'leader-control' },
    h('summary', {}, t('leader.open')), form);
  let loaded = false;
  box.addEventListener('toggle', async () => {
    if (!box.open || loaded) return;
    clearError(error);
    try {
      const view = await api(`/sessions/${encodeURIComponent(session.id)}/leaders`);
      const named = new Set((view.leaders || []).map((l) => l.user_id));
      const free = (view.candidates || []).filter((c) => !named.has(c.user_id));
      select.replaceChildren(...(free.length
        ? free.map((c) => h('option', { value: c.user_id }, c.name))
        : [h('option', { value: '' }, t('leader.none'))]));
      submit.disabled = !free.length;
      loaded = true;
      select.focus();
    } catch (err) {
      if (!handleAuthError(err)) showError(error, err);
    }
  });
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearError(error);
    if (!select.value) return;
    submit.disabled = true;
    try {
      await api(`/sessions/${encodeURIComponent(session.id)}/leaders`, {
        method: 'POST', body: { user_id: Number(select.value) },
      });
      announce(t('leader.added', { name: select.selectedOptions[0]?.textContent || '' }));
      onAdded();
    } catch (err) {
      if (!handleAuthError(err)) showError(error, err);
    } finally {
      submit.disabled = false;
    }
  });
  return box;
}
