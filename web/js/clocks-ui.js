// The statutory clocks, the national calendar and extensions (负责人批准) on the pages where their
// users already work (docs/clocks.md, "Where the pages are"): the calendar panel of admin.html,
// the overdue list and the clock events of a case on coordinator.html, the overdue list of a
// court and its branch and the extension approvals on records.html.
import { t, formatDate, formatDateTime, shanghaiDay } from './i18n.js';
import { ApiError, staffSession } from './api.js';
import { h, filePicker, showError, showMessage, clearError, handleAuthError, announce } from './ui.js';

/** The court's clocks, by the name the server gives them. */
const CLOCK_NAMES = {
  acceptance: 'clock.name.acceptance',
  handling: 'clock.name.handling',
  review: 'clock.name.review',
  rereview: 'clock.name.rereview',
};

/** The events that stop (and start) clocks, in their order (store/clocks.rs `CaseEvent`). */
const EVENT_NAMES = {
  accepted: 'clock.event.accepted',
  answered: 'clock.event.answered',
  review_requested: 'clock.event.review_requested',
  review_decided: 'clock.event.review_decided',
  rereview_requested: 'clock.event.rereview_requested',
  rereview_decided: 'clock.event.rereview_decided',
};

/** 'YYYY-MM-DD' (a calendar day in Beijing) in the page's language. */
export const dayText = (value) => (value ? formatDate(`${value}T00:00:00+08:00`) : '');

/**
 * Asks before a consequential action: a modal dialog with what will happen, a confirm and a
 * cancel button (Escape cancels; the keyboard starts on cancel). Resolves true when confirmed.
 */
export function confirmAction({ heading, lines = [], confirmText, danger = false }) {
  return new Promise((resolve) => {
    const opener = document.activeElement;
    const ok = h('button', { type: 'button', class: danger ? 'danger' : 'primary', 'data-testid': 'confirm-yes' }, confirmText);
    const cancel = h('button', { type: 'button', class: 'secondary', 'data-testid': 'confirm-no' }, t('clocks.confirm.cancel'));
    const dialog = h('dialog', { class: 'reauth confirm-dialog', 'data-testid': 'confirm-dialog', 'aria-labelledby': 'confirm-heading' },
      h('div', { class: 'stack' },
        h('h2', { id: 'confirm-heading' }, heading),
        lines.filter(Boolean).map((line) => h('p', {}, line)),
        h('div', { class: 'button-row' }, ok, cancel)));
    document.body.append(dialog);
    const finish = (answer) => {
      dialog.close();
      dialog.remove();
      if (opener && opener.isConnected) opener.focus();
      resolve(answer);
    };
    ok.addEventListener('click', () => finish(true));
    cancel.addEventListener('click', () => finish(false));
    dialog.addEventListener('cancel', (e) => {
      e.preventDefault();
      finish(false);
    });
    dialog.showModal();
    cancel.focus();
  });
}

function fail(box, err, context) {
  if (handleAuthError(err)) return;
  showError(box, err, context);
}

// ---- the overdue clocks -------------------------------------------------------------------------

/**
 * The open clocks whose day has passed (GET /clocks/overdue), drawn into `host` (a section): a
 * coordinator's court, or a supervisor's chosen court with its branch. `courts()` gives the
 * courts a supervisor may pick (none: no choice is offered); `onPickCase(id)` opens a case
 * (the coordinator's page). Returns {reload, render}.
 */
export function mountOverdue(host, { call, branch = false, courts = () => [], onPickCase = null }) {
  const state = { rows: null, court: '' };
  const error = h('div', { class: 'alert', role: 'alert', hidden: true, 'data-testid': 'overdue-error' });
  const select = h('select', { id: 'overdue-court', 'data-testid': 'overdue-court', onchange: (e) => {
    state.court = e.target.value;
    reload();
  } });
  const refresh = h('button', { type: 'button', class: 'secondary', 'data-testid': 'overdue-refresh', onclick: () => reload() });
  const body = h('div', { 'data-testid': 'overdue-body', 'aria-live': 'polite' });
  const heading = h('h2', { id: 'overdue-heading' });
  const hint = h('p', { class: 'hint' });
  const courtLabel = h('label', { for: 'overdue-court' });
  host.setAttribute('aria-labelledby', 'overdue-heading');
  host.replaceChildren(...[
    h('div', { class: 'panel-head' }, heading, refresh),
    hint,
    branch ? h('div', { class: 'inline-form filter-form' }, courtLabel, select) : null,
    error,
    body].filter(Boolean));

  function fillCourts() {
    const list = courts();
    select.replaceChildren(...list.map((c) => h('option', { value: c.id }, c.name)));
    if (list.some((c) => String(c.id) === state.court)) select.value = state.court;
  }

  function render() {
    heading.textContent = t(branch ? 'clocks.overdue.headingBranch' : 'clocks.overdue.heading');
    hint.textContent = t('clocks.overdue.hint');
    courtLabel.textContent = t('clocks.overdue.court');
    refresh.textContent = t('common.refresh');
    if (branch) fillCourts();
    if (state.rows === null) {
      body.replaceChildren(h('p', { class: 'empty' }, t('common.loading')));
      return;
    }
    if (!state.rows.length) {
      body.replaceChildren(h('p', { class: 'empty', 'data-testid': 'overdue-none' }, t('clocks.overdue.none')));
      return;
    }
    body.replaceChildren(h('div', { class: 'table-wrap' }, h('table', { class: 'grid', 'data-testid': 'overdue-table' },
      h('caption', { class: 'visually-hidden' }, heading.textContent),
      h('thead', {}, h('tr', {},
        h('th', { scope: 'col' }, t('clocks.overdue.case')),
        branch ? h('th', { scope: 'col' }, t('clocks.overdue.courtCol')) : null,
        h('th', { scope: 'col' }, t('clocks.overdue.clock')),
        h('th', { scope: 'col' }, t('clocks.overdue.due')),
        h('th', { scope: 'col' }, t('clocks.overdue.late')))),
      h('tbody', {}, state.rows.map((r) => h('tr', {
        'data-testid': 'overdue-row', 'data-case-id': r.case_id, 'data-case-number': r.case_number, 'data-clock': r.clock,
        'data-provisional': String(Boolean(r.provisional)),
      },
      h('th', { scope: 'row' }, onPickCase
        ? h('button', { type: 'button', class: 'link-button', 'data-testid': 'overdue-open', onclick: () => onPickCase(r.case_id) }, r.case_number)
        : r.case_number),
      branch ? h('td', {}, r.court_name) : null,
      h('td', {}, CLOCK_NAMES[r.clock] ? t(CLOCK_NAMES[r.clock]) : r.clock),
      h('td', {}, dayText(r.due),
        r.provisional ? [' ', h('span', { class: 'badge due-soon', 'data-testid': 'overdue-provisional', title: t('clock.provisional') }, t('clocks.provisional.short'))] : null),
      h('td', {}, h('span', { class: 'badge overdue' }, t('case.clocks.overdue', { days: r.days_overdue })))))))));
  }

  async function reload() {
    clearError(error);
    try {
      const q = branch && state.court ? `?court_id=${encodeURIComponent(state.court)}` : '';
      state.rows = await call(`/clocks/overdue${q}`);
      render();
    } catch (err) {
      fail(error, err, 'overdue');
    }
  }

  render();
  return { reload, render };
}

// ---- the events of a case's clocks (the coordinator's case) -----------------------------------

/** The events that may be recorded next on case `c` (a CaseView), from its clocks. */
export function nextEvents(c) {
  const all = c.clocks?.all || [];
  const has = (name) => all.some((x) => x.name === name);
  const answered = has('review_request');
  if (!answered) return c.accepted_on ? ['answered'] : ['accepted', 'answered'];
  if (!has('review')) return ['review_requested'];
  if (!has('rereview_request')) return ['review_decided'];
  if (!has('rereview')) return ['rereview_requested'];
  return all.find((x) => x.name === 'rereview')?.stopped ? [] : ['rereview_decided'];
}

/**
 * The form that records the event that stops a clock (POST /cases/{id}/clock-events), shown
 * back to be confirmed before it is saved: an event is recorded once and cannot be undone.
 * `form` is the page's state of it ({open, event, on, court, confirming}); `rerender()` draws
 * the case again; `onRecorded(caseView)` after it is saved.
 */
export function clockEventBlock(c, { call, form, courtsAbove = [], rerender, onRecorded }) {
  const events = nextEvents(c);
  if (!events.length) return null;
  if (!form.open) {
    return h('button', {
      type: 'button', class: 'secondary', 'data-testid': 'clock-event-open',
      onclick: () => {
        Object.assign(form, { open: true, event: events[0], on: shanghaiDay(), court: '', confirming: false });
        rerender();
        document.getElementById('clock-event')?.focus();
      },
    }, t('clocks.event.open'));
  }
  if (!events.includes(form.event)) form.event = events[0];
  const error = h('div', { class: 'alert', role: 'alert', hidden: true, 'data-testid': 'clock-event-error' });
  const close = () => {
    Object.assign(form, { open: false, confirming: false });
    rerender();
    document.querySelector('[data-testid=clock-event-open]')?.focus();
  };
  if (form.confirming) {
    const courtName = courtsAbove.find((x) => String(x.id) === form.court)?.name;
    const yes = h('button', { type: 'button', class: 'primary', 'data-testid': 'clock-event-confirm' }, t('clocks.event.confirm'));
    const back = h('button', { type: 'button', class: 'secondary', 'data-testid': 'clock-event-back', onclick: () => {
      form.confirming = false;
      rerender();
      document.getElementById('clock-event')?.focus();
    } }, t('clocks.event.back'));
    const box = h('div', { class: 'card stack notice', 'data-testid': 'clock-event-confirming', role: 'group', 'aria-labelledby': 'clock-event-check' },
      h('p', { id: 'clock-event-check', class: 'alert-message' }, t('clocks.event.check', { day: dayText(form.on), event: t(EVENT_NAMES[form.event]) })),
      courtName ? h('p', {}, t('clocks.event.byCourt', { court: courtName })) : null,
      h('p', {}, t('clocks.event.once')),
      error,
      h('div', { class: 'button-row' }, yes, back));
    yes.addEventListener('click', async () => {
      clearError(error);
      yes.disabled = true;
      try {
        const body = { event: form.event, on: form.on };
        if (form.event === 'review_decided' && form.court) body.decided_by_court_id = Number(form.court);
        const recorded = await call(`/cases/${encodeURIComponent(c.id)}/clock-events`, { method: 'POST', body });
        const said = t('clocks.event.done', { day: dayText(form.on), event: t(EVENT_NAMES[form.event]) });
        Object.assign(form, { open: false, confirming: false });
        announce(said);
        await onRecorded(recorded, said);
      } catch (err) {
        fail(error, err, 'clockEvent');
        yes.disabled = false;
        yes.focus();
      }
    });
    setTimeout(() => yes.focus(), 0);
    return box;
  }
  const event = h('select', { id: 'clock-event', 'data-testid': 'clock-event', onchange: (e) => {
    form.event = e.target.value;
    rerender();
    document.getElementById('clock-event')?.focus();
  } }, events.map((ev) => h('option', { value: ev, selected: ev === form.event }, t(EVENT_NAMES[ev]))));
  const on = h('input', {
    id: 'clock-event-on', 'data-testid': 'clock-event-on', type: 'date', value: form.on, max: shanghaiDay(),
    oninput: (e) => { form.on = e.target.value; },
  });
  const court = form.event === 'review_decided' ? h('select', {
    id: 'clock-event-court', 'data-testid': 'clock-event-court', onchange: (e) => { form.court = e.target.value; },
  }, h('option', { value: '' }, t('clocks.event.courtUnknown')),
  courtsAbove.map((x) => h('option', { value: String(x.id), selected: String(x.id) === form.court }, x.name))) : null;
  const submit = h('button', { type: 'submit', class: 'primary', 'data-testid': 'clock-event-submit' }, t('clocks.event.submit'));
  const cancel = h('button', { type: 'button', class: 'secondary', onclick: close }, t('clocks.confirm.cancel'));
  const el = h('form', { class: 'card stack', 'data-testid': 'clock-event-form', novalidate: true },
    h('h4', {}, t('clocks.event.heading')),
    h('p', { class: 'hint', id: 'clock-event-hint' }, t('clocks.event.hint')),
    h('div', { class: 'field' }, h('label', { for: 'clock-event' }, t('clocks.event.which')), event),
    h('div', { class: 'field' }, h('label', { for: 'clock-event-on' }, t('clocks.event.on')), on),
    court ? h('div', { class: 'field' }, h('label', { for: 'clock-event-court' }, t('clocks.event.court')), court) : null,
    error,
    h('div', { class: 'button-row' }, submit, cancel));
  el.addEventListener('submit', (e) => {
    e.preventDefault();
    clearError(error);
    if (!/^\d{4}-\d{2}-\d{2}$/.test(form.on)) {
      showMessage(error, 'clocks.event.needDay');
      on.focus();
      return;
    }
    form.confirming = true;
    rerender();
  });
  return el;
}

// ---- extensions waiting for a person in charge (负责人批准) ----------------------------------

/**
 * A supervisor's pending extension requests (GET /extensions), each approved or refused with
 * the required note (审批意见), confirmed first. `onDecided()` after a decision (the overdue
 * list may change). Returns {reload, render}.
 */
export function mountExtensionApprovals(host, { call, onDecided = () => {} }) {
  const state = { rows: null, notes: {} };
  const heading = h('h2', { id: 'ext-heading' });
  const hint = h('p', { class: 'hint' });
  const notice = h('div', { class: 'notice', role: 'status', hidden: true, 'data-testid': 'ext-notice' });
  const error = h('div', { class: 'alert', role: 'alert', hidden: true, 'data-testid': 'ext-panel-error' });
  const refresh = h('button', { type: 'button', class: 'secondary', 'data-testid': 'ext-refresh', onclick: () => reload() });
  const list = h('ul', { class: 'plain-list stack', 'data-testid': 'ext-list' });
  host.setAttribute('aria-labelledby', 'ext-heading');
  host.replaceChildren(h('div', { class: 'panel-head' }, heading, refresh), hint, notice, error, list);

  function item(x) {
    const noteId = `ext-note-${x.id}`;
    const box = h('div', { class: 'alert', role: 'alert', hidden: true, 'data-testid': 'ext-error' });
    const note = h('textarea', {
      id: noteId, 'data-testid': 'ext-note', rows: '2', maxlength: '500',
      oninput: (e) => { state.notes[x.id] = e.target.value; },
    });
    note.value = state.notes[x.id] || '';
    const decide = async (approve, button) => {
      clearError(box);
      const text = note.value.trim();
      if (!text) {
        showMessage(box, 'clocks.ext.needNote', 'clocks.ext.needNote.next');
        note.focus();
        return;
      }
      const ok = await confirmAction({
        heading: t(approve ? 'clocks.ext.confirmApprove' : 'clocks.ext.confirmRefuse', { case: x.case_number, days: x.days }),
        lines: [
          approve && x.due_if_approved ? t('clocks.ext.moves', { from: dayText(x.handling_due), to: dayText(x.due_if_approved) }) : null,
          !approve ? t('clocks.ext.stays', { due: dayText(x.handling_due) }) : null,
          t('clocks.ext.noteShown', { note: text }),
          t('clocks.ext.final'),
        ],
        confirmText: t(approve ? 'clocks.ext.approveYes' : 'clocks.ext.refuseYes'),
        danger: !approve,
      });
      if (!ok) return;
      button.disabled = true;
      try {
        await call(`/extensions/${encodeURIComponent(x.id)}/decision`, { method: 'POST', body: { approve, note: text } });
        clearError(error);
        delete state.notes[x.id];
        state.rows = state.rows.filter((r) => r.id !== x.id);
        const key = approve ? 'clocks.ext.approved' : 'clocks.ext.refused';
        const params = { case: x.case_number, days: x.days };
        showMessage(notice, key, null, params);
        announce(t(key, params));
        render();
        heading.setAttribute('tabindex', '-1');
        heading.focus();
        onDecided();
      } catch (err) {
        button.disabled = false;
        if (err instanceof ApiError && err.code === 'extension_decided') {
          // Decided meanwhile by another person in charge: said above the list, which is redrawn
          // without it.
          clearError(notice);
          fail(error, err, 'decide');
          await reloadQuietly();
          heading.setAttribute('tabindex', '-1');
          heading.focus();
          return;
        }
        fail(box, err, 'decide');
      }
    };
    const approve = h('button', { type: 'button', class: 'primary', 'data-testid': 'ext-approve' }, t('clocks.ext.approve'));
    const refuse = h('button', { type: 'button', class: 'secondary', 'data-testid': 'ext-refuse' }, t('clocks.ext.refuse'));
    approve.addEventListener('click', () => decide(true, approve));
    refuse.addEventListener('click', () => decide(false, refuse));
    return h('li', { class: 'card stack', 'data-testid': 'ext-item', 'data-extension-id': x.id, 'data-case-number': x.case_number },
      h('h3', {}, x.case_number, ' ', h('span', { class: 'muted' }, x.court_name)),
      h('p', {}, t('clocks.ext.asked', {
        days: x.days, who: x.requested_by_name || t('clocks.ext.unknownRequester'), when: formatDateTime(x.requested_at),
      })),
      h('p', { 'data-testid': 'ext-reason' }, t('clocks.ext.reason', { reason: x.reason })),
      h('p', {}, x.due_if_approved
        ? t('clocks.ext.dueNow', { from: dayText(x.handling_due), to: dayText(x.due_if_approved) })
        : t('clocks.ext.notApplicable'),
      x.provisional ? [' ', h('span', { class: 'hint' }, t('clock.provisional'))] : null),
      h('div', { class: 'field' }, h('label', { for: noteId }, t('clocks.ext.note')), note),
      box,
      h('div', { class: 'button-row' }, approve, refuse));
  }

  function render() {
    heading.textContent = t('clocks.ext.heading');
    hint.textContent = t('clocks.ext.hint');
    refresh.textContent = t('common.refresh');
    if (state.rows === null) {
      list.replaceChildren(h('li', { class: 'empty' }, t('common.loading')));
      return;
    }
    list.replaceChildren(...(state.rows.length
      ? state.rows.map(item)
      : [h('li', { class: 'empty', 'data-testid': 'ext-none' }, t('clocks.ext.none'))]));
  }

  async function reloadQuietly() {
    try {
      state.rows = await call('/extensions');
    } catch {
      return;
    }
    render();
  }

  async function reload() {
    clearError(error);
    clearError(notice);
    try {
      state.rows = await call('/extensions');
      render();
    } catch (err) {
      fail(error, err, 'decide');
    }
  }

  render();
  return { reload, render };
}

// ---- the national calendar's years (admin.html) -----------------------------------------------

/**
 * The years of the national calendar (GET /calendar): which are loaded, the upload of a year's
 * file (PUT /calendar/{year}/file) with every bad line named, and the explicit leave to publish
 * slots on a year that is not loaded (PUT /calendar/{year}/allow-unloaded), confirmed first.
 * `canLoad`: the top court's admin (others only read). `onChanged(status)` after every change.
 */
export function mountCalendarAdmin(host, { call, canLoad, onChanged = () => {} }) {
  const state = { status: null, rowErrors: [] };
  const thisYear = Number(shanghaiDay().slice(0, 4));
  const heading = h('h2', { id: 'cal-heading' });
  const hint = h('p', { class: 'hint' });
  const notice = h('div', { class: 'notice', role: 'status', hidden: true, 'data-testid': 'cal-notice' });
  const error = h('div', { class: 'alert', role: 'alert', hidden: true, 'data-testid': 'cal-error' });
  const rowList = h('ul', { class: 'row-errors', 'data-testid': 'cal-row-errors', hidden: true });
  const years = h('div', { 'data-testid': 'cal-years' });
  const yearInput = h('input', {
    id: 'cal-year', 'data-testid': 'cal-year', type: 'number', min: '2000', max: '2100', step: '1', inputmode: 'numeric', class: 'days-input',
  });
  const file = h('input', { id: 'cal-file', 'data-testid': 'cal-file', type: 'file', accept: '.csv,text/csv', 'aria-describedby': 'cal-format' });
  const submit = h('button', { type: 'submit', class: 'primary', 'data-testid': 'cal-upload' });
  const labels = { year: h('label', { for: 'cal-year' }), file: h('label', { for: 'cal-file' }) };
  const format = h('p', { class: 'hint', id: 'cal-format' });
  const formHeading = h('h3', { id: 'cal-form-heading' });
  // The shipped example (config/calendar/2027.example.csv), to copy the State Council's days into.
  const example = h('button', {
    type: 'button', class: 'secondary small', 'data-testid': 'cal-example',
    onclick: async () => {
      clearError(error);
      try {
        const token = staffSession.get()?.token;
        const response = await fetch('/api/v1/calendar/files/example', { headers: token ? { Authorization: `Bearer ${token}` } : {}, cache: 'no-store' });
        if (!response.ok) throw new ApiError({ status: response.status, code: `http_${response.status}` });
        const url = URL.createObjectURL(await response.blob());
        const a = h('a', { href: url, download: '节假日日历示例.csv' });
        document.body.append(a);
        a.click();
        a.remove();
        setTimeout(() => URL.revokeObjectURL(url), 1000);
      } catch (err) {
        showError(error, err);
      }
    },
  });
  const readOnly = h('p', { class: 'hint', 'data-testid': 'cal-read-only' });
  const form = h('form', { class: 'card stack', novalidate: true, 'data-testid': 'cal-form', 'aria-labelledby': 'cal-form-heading' },
    formHeading,
    h('div', { class: 'field' }, labels.year, yearInput),
    h('div', { class: 'field' }, labels.file, filePicker(file), format),
    h('div', { class: 'button-row' }, example, submit));
  host.setAttribute('aria-labelledby', 'cal-heading');
  host.replaceChildren(h('div', { class: 'panel-head' }, heading), hint, notice, years, canLoad ? form : readOnly, error, rowList);

  const known = (y) => state.status?.years.find((x) => x.year === y);
  const loaded = (y) => Boolean(known(y)?.loaded);

  function render() {
    heading.textContent = t('calendar.admin.heading');
    hint.textContent = t('calendar.admin.hint');
    formHeading.textContent = t('calendar.admin.upload');
    labels.year.textContent = t('calendar.admin.year');
    labels.file.textContent = t('calendar.admin.file');
    format.textContent = t('calendar.admin.format');
    submit.textContent = t('calendar.admin.submit');
    example.textContent = t('calendar.admin.example');
    readOnly.textContent = t('calendar.admin.readOnly');
    rowList.replaceChildren(...state.rowErrors.map((e) => h('li', { 'data-testid': 'cal-row-error', 'data-row': e.row, 'data-code': e.code },
      t(`calendar.row.${e.code}`, { row: e.row }))));
    rowList.hidden = state.rowErrors.length === 0;
    if (!state.status) {
      years.replaceChildren(h('p', { class: 'empty' }, t('common.loading')));
      return;
    }
    const shown = new Set([thisYear, thisYear + 1, ...state.status.years.map((y) => y.year), ...state.status.warnings.map((w) => w.year)]);
    const rows = [...shown].sort((a, b) => a - b).map((y) => {
      const row = known(y);
      let words;
      if (row?.loaded) words = t('calendar.admin.loaded');
      else if (row?.allow_unloaded) words = t('calendar.admin.allowed');
      else words = t('calendar.admin.missing');
      const actions = [];
      if (canLoad && !row?.loaded) {
        actions.push(h('button', {
          type: 'button', class: 'secondary small', 'data-testid': 'cal-load-year',
          'aria-label': t('calendar.admin.loadYearLabel', { year: y }),
          onclick: () => {
            yearInput.value = String(y);
            file.focus();
          },
        }, t('calendar.admin.loadYear')));
        actions.push(row?.allow_unloaded
          ? h('button', { type: 'button', class: 'secondary small', 'data-testid': 'cal-withdraw', onclick: () => allow(y, false) },
            t('calendar.admin.withdraw'))
          : h('button', { type: 'button', class: 'secondary small', 'data-testid': 'cal-allow', onclick: () => allow(y, true) },
            t('calendar.admin.allow')));
      }
      return h('tr', {
        'data-testid': 'cal-year-row', 'data-year': y,
        'data-state': row?.loaded ? 'loaded' : row?.allow_unloaded ? 'allowed' : 'missing',
      },
      h('th', { scope: 'row' }, t('calendar.admin.yearValue', { year: y })),
      h('td', {}, words),
      canLoad ? h('td', {}, h('div', { class: 'button-row' }, actions)) : null);
    });
    years.replaceChildren(h('div', { class: 'table-wrap' }, h('table', { class: 'grid', 'data-testid': 'cal-year-table' },
      h('caption', { class: 'visually-hidden' }, t('calendar.admin.heading')),
      h('thead', {}, h('tr', {},
        h('th', { scope: 'col' }, t('calendar.admin.year')),
        h('th', { scope: 'col' }, t('calendar.admin.state')),
        canLoad ? h('th', { scope: 'col' }, t('calendar.admin.actions')) : null)),
      h('tbody', {}, rows))));
    if (!yearInput.value) {
      const missing = state.status.warnings.find((w) => !loaded(w.year));
      yearInput.value = String(missing ? missing.year : thisYear + 1);
    }
  }

  // What a change published: said in the notice (the key's words, then the slots added and
  // withdrawn, then the bookings to move, if any).
  function done(key, year, report) {
    const params = { year, added: report?.added ?? 0, withdrawn: report?.withdrawn ?? 0, count: report?.flagged_bookings?.length || 0 };
    showMessage(notice, key, params.count ? 'calendar.admin.publishedFlagged' : 'calendar.admin.published', params);
    announce(`${t(key, params)}${t(params.count ? 'calendar.admin.publishedFlagged' : 'calendar.admin.published', params)}`);
  }

  async function allow(year, yes) {
    clearError(notice);
    clearError(error);
    const ok = await confirmAction(yes ? {
      heading: t('calendar.admin.allowHeading', { year }),
      lines: [t('calendar.admin.allowWhy'), t('calendar.admin.allowUntil'), t('calendar.admin.audited')],
      confirmText: t('calendar.admin.allowYes'),
      danger: true,
    } : {
      heading: t('calendar.admin.withdrawHeading', { year }),
      lines: [t('calendar.admin.withdrawWhat'), t('calendar.admin.audited')],
      confirmText: t('calendar.admin.withdrawYes'),
    });
    if (!ok) return;
    try {
      const report = await call(`/calendar/${year}/allow-unloaded`, { method: 'PUT', body: { allow: yes } });
      await reload();
      done(yes ? 'calendar.admin.allowDone' : 'calendar.admin.withdrawDone', year, report);
      document.querySelector(`[data-testid=cal-year-row][data-year="${year}"] button`)?.focus();
    } catch (err) {
      fail(error, err, 'calendar');
    }
  }

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearError(notice);
    clearError(error);
    state.rowErrors = [];
    render();
    const year = Number(yearInput.value);
    if (!Number.isInteger(year) || year < 2000 || year > 2100) {
      showMessage(error, 'calendar.admin.badYear');
      yearInput.focus();
      return;
    }
    const chosen = file.files?.[0];
    if (!chosen) {
      showMessage(error, 'calendar.admin.noFile');
      file.focus();
      return;
    }
    if (loaded(year)) {
      const ok = await confirmAction({
        heading: t('calendar.admin.replaceHeading', { year }),
        lines: [t('calendar.admin.replaceWhat'), t('calendar.admin.audited')],
        confirmText: t('calendar.admin.replaceYes'),
        danger: true,
      });
      if (!ok) return;
    }
    submit.disabled = true;
    try {
      const report = await call(`/calendar/${year}/file`, { method: 'PUT', body: chosen });
      file.value = '';
      file.dispatchEvent(new Event('change'));
      await reload();
      done('calendar.admin.loadedDone', year, report);
    } catch (err) {
      fail(error, err, 'calendar');
      if (err instanceof ApiError && Array.isArray(err.body?.errors)) state.rowErrors = err.body.errors;
      render();
      file.focus();
    } finally {
      submit.disabled = false;
    }
  });

  async function reload() {
    try {
      state.status = await call('/calendar');
      render();
      onChanged(state.status);
    } catch (err) {
      fail(error, err, 'calendar');
    }
  }

  render();
  return { reload, render };
}
