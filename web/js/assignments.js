// Follow-up tasks (交办 → 办结报告, 督办; docs/follow-ups.md): the tasks that went to the
// signed-in court or a court below it, with a filter by state; the court a task went to files
// its completion report here, and the court that handed it down (or a court above) presses it.
// Mounts itself into #assignments-panel on the pages that have one (coordinator, officer).
import { t, tEnum, onLangChange, formatDate, shanghaiDay } from './i18n.js';
import { api, staffSession } from './api.js';
import { h, filePicker, showError, clearError, handleAuthError, announce } from './ui.js';

const STATES = ['', 'open', 'due', 'overdue', 'closed'];

function mount(panel) {
  const session = staffSession.get();
  if (!session || !session.user) return;
  const user = session.user;
  const ownCourt = user.court?.id;
  const canReport = user.role === 'coordinator' || user.role === 'officer';
  const state = { items: [], total: 0, status: 'open', loaded: false };

  const error = h('div', { class: 'alert', role: 'alert', hidden: true });
  const filter = h('select', { id: 'assignments-filter', 'data-testid': 'assignments-filter' });
  const refresh = h('button', { type: 'button', class: 'secondary', 'data-testid': 'assignments-refresh' });
  const list = h('ul', { class: 'assignment-list', 'data-testid': 'assignment-list' });
  const heading = h('h2', { id: 'assignments-heading' });
  const filterLabel = h('label', { for: 'assignments-filter' });
  panel.setAttribute('aria-labelledby', 'assignments-heading');
  panel.replaceChildren(
    h('div', { class: 'panel-head' }, heading, h('span', { class: 'inline-field' }, filterLabel, filter), refresh),
    error,
    list,
  );
  filter.addEventListener('change', () => { state.status = filter.value; load(); });
  refresh.addEventListener('click', () => load());

  async function load() {
    clearError(error);
    const query = state.status ? `?status=${encodeURIComponent(state.status)}&per_page=100` : '?per_page=100';
    try {
      const page = await api(`/assignments${query}`);
      state.items = page.items || [];
      state.total = page.total || 0;
      state.loaded = true;
      render();
    } catch (err) {
      if (!handleAuthError(err)) showError(error, err);
    }
  }

  function reportForm(task) {
    const id = `report-${task.id}`;
    const text = h('textarea', { id: `${id}-text`, rows: 3, required: true, maxlength: 4000, 'data-testid': 'report-text' });
    const day = h('input', { type: 'date', id: `${id}-day`, value: shanghaiDay(), min: task.assigned_on, max: shanghaiDay() });
    const box = h('div', { class: 'alert', role: 'alert', hidden: true });
    const submit = h('button', { type: 'submit', class: 'primary', 'data-testid': 'report-submit' }, t('assign.report.submit'));
    // The report's papers go into the case's file first (checked by content there, with their
    // SHA-256); the report then names them. Only a coordinator of the case's court adds to a
    // case's file, so only coordinators are offered the field.
    const papers = user.role === 'coordinator'
      ? h('input', {
        type: 'file', id: `${id}-papers`, multiple: true, 'data-testid': 'report-papers',
        accept: 'application/pdf,image/jpeg,image/png,image/gif,image/webp,.pdf,.jpg,.jpeg,.png,.gif,.webp',
        'aria-describedby': `${id}-papers-hint`,
      })
      : null;
    const form = h('form', { class: 'stack', novalidate: true },
      h('div', { class: 'field' }, h('label', { for: text.id }, t('assign.report.text')), text),
      h('div', { class: 'field' }, h('label', { for: day.id }, t('assign.report.day')), day),
      papers ? h('div', { class: 'field' },
        h('label', { for: papers.id }, t('assign.report.papers')), filePicker(papers),
        h('p', { class: 'hint', id: `${id}-papers-hint` }, t('assign.report.papersHint'))) : null,
      box, submit);
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      clearError(box);
      submit.disabled = true;
      try {
        const attachments = [];
        for (const file of papers?.files || []) {
          const added = await api(`/cases/${encodeURIComponent(task.case_id)}/attachments`, {
            method: 'POST',
            body: file,
            headers: { 'Content-Disposition': `attachment; filename*=UTF-8''${encodeURIComponent(file.name || '')}` },
          });
          attachments.push(added.id);
        }
        await api(`/assignments/${encodeURIComponent(task.id)}/report`, {
          method: 'POST', body: { report: text.value, reported_on: day.value || undefined, attachments },
        });
        announce(t('assign.report.done'));
        await load();
      } catch (err) {
        if (!handleAuthError(err)) showError(box, err);
      } finally {
        submit.disabled = false;
      }
    });
    return h('details', {}, h('summary', {}, t('assign.report.open')), form);
  }

  function superviseForm(task) {
    const note = h('textarea', { id: `supervise-${task.id}`, rows: 2, required: true, maxlength: 2000 });
    const box = h('div', { class: 'alert', role: 'alert', hidden: true });
    const submit = h('button', { type: 'submit', class: 'secondary' }, t('assign.supervise.submit'));
    const form = h('form', { class: 'stack', novalidate: true },
      h('div', { class: 'field' }, h('label', { for: note.id }, t('assign.supervise.note')), note), box, submit);
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      clearError(box);
      submit.disabled = true;
      try {
        await api(`/assignments/${encodeURIComponent(task.id)}/supervise`, { method: 'POST', body: { note: note.value } });
        announce(t('assign.supervise.done'));
        await load();
      } catch (err) {
        if (!handleAuthError(err)) showError(box, err);
      } finally {
        submit.disabled = false;
      }
    });
    return h('details', {}, h('summary', {}, t('assign.supervise.open')), form);
  }

  function item(task) {
    const open = task.state !== 'closed';
    const mine = task.court.id === ownCourt;
    return h('li', { class: `assignment assignment-${task.state}`, 'data-testid': 'assignment' },
      h('p', {},
        h('strong', {}, task.case_number), ' · ',
        t('assign.item.court', { court: task.court.name, by: task.assigning_court.name }), ' · ',
        h('span', { class: 'badge' }, tEnum('assign.state', task.state))),
      h('p', { class: 'hint' }, t('assign.item.due', { due: formatDate(`${task.due_on}T00:00:00+08:00`), days: task.working_days })),
      h('p', {}, task.instruction),
      task.report ? h('p', { class: 'hint' }, t('assign.item.reported', { day: formatDate(`${task.reported_on}T00:00:00+08:00`) }), ' ', task.report) : null,
      open && mine && canReport ? reportForm(task) : null,
      open && !mine ? superviseForm(task) : null);
  }

  function render() {
    heading.textContent = t('assign.heading');
    filterLabel.textContent = t('assign.filter');
    refresh.textContent = t('common.refresh');
    filter.replaceChildren(...STATES.map((s) => h('option', { value: s, selected: s === state.status }, s ? tEnum('assign.state', s) : t('assign.filter.all'))));
    if (!state.loaded) return;
    list.replaceChildren(...(state.items.length
      ? state.items.map(item)
      : [h('li', { class: 'empty' }, t('assign.none'))]));
  }

  onLangChange(render);
  render();
  load();
}

const panel = document.getElementById('assignments-panel');
if (panel) mount(panel);
