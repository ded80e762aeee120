// A session's outcome after the end: what it is now, what it was before each correction (struck
// through, labelled, with who, when and why), and the form to correct it (docs/outcomes.md,
// "Correcting a session's outcome"): the new outcome and the reason, a confirmation that says
// what will be recorded (确认更正 / 返回修改), then POST /sessions/{id}/outcome-corrections.
import { t, tEnum, clause, formatDateTime } from './i18n.js';
import { h, announce } from './ui.js';

function dataOf(event) {
  return event.data && typeof event.data === 'object' ? event.data : {};
}

/** The corrections of a session's outcome, oldest first: { from, to, reason, name, at }. */
export function outcomeCorrections(session) {
  return (session.events || [])
    .filter((e) => e.kind === 'outcome_corrected')
    .sort((a, b) => String(a.at).localeCompare(String(b.at)) || (a.id - b.id))
    .map((e) => ({ ...dataOf(e), at: e.at, id: e.id }));
}

/** Who recorded the outcome (the `ended` event's actor, `user-<id>`), if the session ended. */
export function outcomeRecordedBy(session) {
  const ended = (session.events || []).find((e) => e.kind === 'ended');
  return ended ? ended.actor : null;
}

/**
 * What the summary shows for the outcome: the current one, and, when it was corrected, each
 * earlier one struck through and labelled as the original, with the correction's reason.
 */
export function outcomeFacts(session) {
  if (!session.outcome) return '—';
  const fixes = outcomeCorrections(session);
  const current = h('strong', { 'data-testid': 'outcome-current', 'data-outcome': session.outcome }, tEnum('outcome', session.outcome));
  if (!fixes.length) return current;
  return [
    current, ' ',
    h('span', { class: 'badge corrected-badge', 'data-testid': 'outcome-corrected-badge' }, t('outcomeFix.corrected')),
    h('ul', { class: 'outcome-history', 'data-testid': 'outcome-history' }, fixes.map((fix) => h('li', {
      'data-testid': 'outcome-original', 'data-outcome': fix.from,
    },
    h('span', { class: 'label' }, t('outcomeFix.was')), ' ',
    h('del', {}, tEnum('outcome', fix.from)), ' ',
    h('span', { class: 'hint' }, t('outcomeFix.history', {
      to: tEnum('outcome', fix.to), name: fix.name || '', at: formatDateTime(fix.at), reason: clause(fix.reason),
    }))))),
  ];
}

/**
 * The 更正处理结果 button and its form, for one who may correct (the officer who recorded the
 * outcome, or a supervisor of the host court). `outcomes`: those that fit the case's class;
 * `submit({ outcome, reason }, box)` sends it (a promise; it shows its own errors in `box` and
 * resolves true when done). `level`: the form's heading level, that of the timeline's headings.
 */
export function outcomeCorrectionControl(session, { outcomes, submit, level = 3 }) {
  const wrap = h('div', { class: 'outcome-fix stack', 'data-testid': 'outcome-fix' });
  const open = h('button', { type: 'button', class: 'secondary', 'data-testid': 'outcome-fix-open' }, t('outcomeFix.open'));
  wrap.append(open);
  // 交办 hands a task down with a deadline: neither reached nor undone by a correction.
  const offered = outcomes.filter((o) => o !== session.outcome && o !== 'assign');
  if (session.outcome === 'assign' || !offered.length) {
    open.disabled = true;
    wrap.append(h('p', { class: 'hint', 'data-testid': 'outcome-fix-unavailable' }, t('outcomeFix.assign')));
    return wrap;
  }

  const select = h('select', { id: 'outcome-fix-select', 'data-testid': 'outcome-fix-select', required: true },
    h('option', { value: '' }, t('officer.end.choose')),
    ...offered.map((o) => h('option', { value: o }, tEnum('outcome', o))));
  const reason = h('textarea', {
    id: 'outcome-fix-reason', 'data-testid': 'outcome-fix-reason', rows: '3', maxlength: '500', required: true,
    'aria-describedby': 'outcome-fix-reason-hint',
  });
  const error = h('div', { class: 'alert', role: 'alert', 'data-testid': 'outcome-fix-error', hidden: true });
  const next = h('button', { type: 'submit', class: 'primary', 'data-testid': 'outcome-fix-next' }, t('outcomeFix.next'));
  const cancel = h('button', { type: 'button', class: 'secondary', 'data-testid': 'outcome-fix-cancel' }, t('outcomeFix.cancel'));
  const confirmText = h('p', { id: 'outcome-fix-confirm-text', 'data-testid': 'outcome-fix-confirm-text' });
  const yes = h('button', { type: 'button', class: 'danger', 'data-testid': 'outcome-fix-confirm' }, t('outcomeFix.confirmYes'));
  const back = h('button', { type: 'button', class: 'secondary', 'data-testid': 'outcome-fix-back' }, t('officer.end.confirmNo'));
  const confirm = h('div', {
    class: 'end-confirm', role: 'group', 'aria-labelledby': 'outcome-fix-confirm-text', 'data-testid': 'outcome-fix-confirm-step', hidden: true,
  }, confirmText, h('div', { class: 'button-row' }, yes, back));
  const fields = h('div', { class: 'stack' },
    h('p', { class: 'hint' }, t('outcomeFix.current', { outcome: tEnum('outcome', session.outcome) })),
    h('label', { for: 'outcome-fix-select' }, t('outcomeFix.to')), select,
    h('label', { for: 'outcome-fix-reason' }, t('outcomeFix.reason')),
    h('p', { class: 'hint', id: 'outcome-fix-reason-hint' }, t('outcomeFix.reasonHint')), reason);
  const buttons = h('div', { class: 'button-row' }, next, cancel);
  const form = h('form', { class: 'correction-form stack', novalidate: true, 'data-testid': 'outcome-fix-form', hidden: true },
    h(`h${level}`, {}, t('outcomeFix.heading')), fields, error, buttons, confirm);
  wrap.append(form);

  const say = (key, focus) => {
    error.replaceChildren(h('p', { class: 'alert-message' }, t(key)));
    error.hidden = false;
    focus.focus();
  };
  // Back to the fields: what was typed stays.
  const edit = () => {
    confirm.hidden = true;
    buttons.hidden = false;
    select.disabled = false;
    reason.disabled = false;
  };
  const close = () => {
    edit();
    form.hidden = true;
    open.hidden = false;
    open.focus();
  };
  open.addEventListener('click', () => {
    open.hidden = true;
    form.hidden = false;
    select.focus();
  });
  cancel.addEventListener('click', close);
  form.addEventListener('keydown', (e) => {
    if (e.key === 'Escape') close();
  });
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    error.hidden = true;
    if (!select.value) return say('outcomeFix.needOutcome', select);
    if (!reason.value.trim()) return say('outcomeFix.needReason', reason);
    confirmText.textContent = t('outcomeFix.confirm', {
      from: tEnum('outcome', session.outcome), to: tEnum('outcome', select.value), reason: clause(reason.value),
    });
    buttons.hidden = true;
    select.disabled = true;
    reason.disabled = true;
    confirm.hidden = false;
    yes.focus();
  });
  back.addEventListener('click', () => {
    edit();
    select.focus();
  });
  yes.addEventListener('click', async () => {
    error.hidden = true;
    yes.disabled = true;
    yes.textContent = t('outcomeFix.working');
    try {
      if (await submit({ outcome: select.value, reason: reason.value.trim() }, error)) {
        announce(t('outcomeFix.done'));
      } else {
        edit();
        reason.focus();
      }
    } finally {
      yes.disabled = false;
      yes.textContent = t('outcomeFix.confirmYes');
    }
  });
  return wrap;
}
