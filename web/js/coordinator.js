// coordinator.html: the local court's 信访专干 — cases, ledger, today's sessions; booking is the
// calendar's (js/schedule-coord.js), the one booking panel.
import { t, tEnum, onLangChange, formatDate, formatDateTime, shanghaiDay } from './i18n.js';
import { api } from './api.js';
import { $, h, startPage, requireStaff, staffHeader, showError, showMessage, clearError, handleAuthError, announce, withReauth } from './ui.js';
import { renderSessionList } from './sessions.js';
import { leaderControl } from './leaders.js';
import { createGlance } from './glance.js';
import { mountCoordinatorSchedule } from './schedule-coord.js';
import { mountNotifications } from './notifications.js';
import { openCaseForm, contactForm, classForm, importForm } from './ledger-coord.js';
import { attachmentsBlock } from './casefile.js';
import { mountOverdue, clockEventBlock } from './clocks-ui.js';

const auth = requireStaff(['coordinator']);
if (auth) main(auth);

function main({ user }) {
  startPage();
  const rerenderHeader = staffHeader(user);

  const state = {
    cases: [],
    caseId: null,
    caseDetail: null,
    sessions: [],
    extension: { open: false, days: '', reason: '' },
    // The ledger's forms (js/ledger-coord.js): opening a case, a contact or correction, the class.
    opening: false,
    contact: null,
    classing: false,
    outcomes: [],
    courtsAbove: [],
    // Extension requests sent from this page, by case id: pending until a person in charge decides.
    pendingExtension: {},
    // The form that records a clock's event on the case (js/clocks-ui.js).
    clockEvent: { open: false },
    // Each case's extension requests and their decisions (GET /cases/{id}/extensions), by case id.
    extensions: {},
  };

  const pageError = $('#page-error');
  // The court's overdue clocks (js/clocks-ui.js): a case on it opens with the keyboard.
  const overdue = mountOverdue($('#overdue-panel'), {
    call: (path, options) => withReauth(user, () => api(path, options)),
    onPickCase: (id) => {
      pickCase(id);
      $('#case-panel').scrollIntoView({ block: 'start' });
      document.querySelector(`.case-item[data-case-id="${id}"]`)?.focus();
    },
  });
  // The calendar booking and applications (js/schedule-coord.js) and the in-app notifications.
  const schedule = mountCoordinatorSchedule($('#schedule-panel'), { user, onBooked: () => loadSessions() });
  mountNotifications($('#notif-host'), { onChange: () => schedule.reload() });

  function fail(box, err) {
    if (handleAuthError(err)) return;
    showError(box, err);
  }

  // Today at a glance: fed with the cases and today's sessions as they load (js/glance.js).
  const glance = createGlance($('#glance-panel'), {
    onPickCase: (id) => {
      pickCase(id);
      $('#schedule-panel').scrollIntoView({ block: 'start' });
      document.querySelector(`.case-item[data-case-id="${id}"]`)?.focus();
    },
    onError: (err) => fail(pageError, err),
  });

  // ---- cases ----
  // ---- opening a case (立案/登记) ----
  const newCaseBox = $('#new-case');
  $('#new-case-open').addEventListener('click', () => {
    state.opening = true;
    renderNewCase();
  });
  // In a dialog of its own, as the import is: the case list's column squeezed the form's
  // fields to a dozen characters (a case number, an identity number cut off as they were typed).
  function renderNewCase() {
    const shown = newCaseBox.querySelector('dialog');
    if (!state.opening) {
      if (shown?.open) shown.close();
      newCaseBox.replaceChildren();
      return;
    }
    const close = () => {
      state.opening = false;
      renderNewCase();
      $('#new-case-open').focus();
    };
    const dialog = h('dialog', { class: 'import-dialog case-dialog', 'data-testid': 'new-case-dialog', 'aria-label': t('ledger.open.heading') });
    // Escape closes it as 取消 does.
    dialog.addEventListener('cancel', (e) => {
      e.preventDefault();
      close();
    });
    newCaseBox.replaceChildren(dialog);
    dialog.append(openCaseForm({
      user,
      isOwnCase: (id) => state.cases.some((c) => c.id === id),
      onOpened: async (detail) => {
        state.opening = false;
        renderNewCase();
        await loadCases();
        await pickCase(detail.id);
        document.querySelector(`.case-item[data-case-id="${detail.id}"]`)?.focus();
      },
      onPick: (id) => {
        close();
        pickCase(id);
        document.querySelector(`.case-item[data-case-id="${id}"]`)?.focus();
      },
      onCancel: close,
    }));
    dialog.showModal();
  }

  // ---- importing a ledger (导入台账, js/ledger-coord.js) ----
  // In a dialog of the page's width: the preview is a table of rows, fates and reasons, which the
  // case list's column squeezed to a character or two a line.
  const importBox = $('#import-box');
  $('#import-open').addEventListener('click', () => {
    const dialog = h('dialog', { class: 'import-dialog', 'aria-label': t('import.button') });
    const close = () => {
      if (dialog.open) dialog.close();
      dialog.remove();
      $('#import-open').focus();
    };
    // Escape closes it as 取消 does.
    dialog.addEventListener('cancel', (e) => {
      e.preventDefault();
      close();
    });
    dialog.append(importForm({
      user,
      onImported: async () => {
        close();
        await loadCases();
      },
      onCancel: close,
    }));
    importBox.replaceChildren(dialog);
    dialog.showModal();
  });

  async function loadCases() {
    try {
      state.cases = await api('/cases');
      renderCases();
      glance.setCases(state.cases);
    } catch (err) {
      fail(pageError, err);
    }
  }

  function renderCases() {
    const list = $('#case-list');
    if (!state.cases.length) {
      list.replaceChildren(h('li', { class: 'empty' }, t('coord.cases.none')));
      return;
    }
    list.replaceChildren(...state.cases.map((c) => h('li', {},
      h('button', {
        type: 'button',
        class: 'case-item',
        'data-testid': 'case-item',
        'data-case-id': c.id,
        'data-case-number': c.case_number,
        'aria-pressed': String(c.id === state.caseId),
        onclick: () => pickCase(c.id),
      },
      h('span', { class: 'case-number' }, c.case_number),
      h('span', { class: 'case-subject' }, c.subject || ''),
      h('span', { class: 'case-meta' }, [c.petitioner_name, tEnum('case.status', c.status)].filter(Boolean).join(' · ')),
      riskBadge(c)))));
  }

  function riskBadge(c) {
    const risk = c.escalation_risk;
    if (!risk || risk === 'none' || risk === 'low') return null;
    return h('span', { class: 'badge risk' }, t('case.riskBadge'));
  }

  async function pickCase(id) {
    // The list is drawn afresh: keep the keyboard's place on the case just chosen.
    const hadFocus = document.activeElement?.classList.contains('case-item');
    if (state.caseId !== id) {
      state.extension = { open: false, days: '', reason: '' };
      state.clockEvent = { open: false };
      state.contact = null;
      state.classing = false;
      state.outcomes = [];
    }
    state.caseId = id;
    state.caseDetail = state.cases.find((c) => c.id === id) || null;
    schedule.setCase(id);
    renderCases();
    if (hadFocus) $(`.case-item[data-case-id="${id}"]`)?.focus();
    renderCase();
    try {
      const [detail, outcomes, extensions] = await Promise.all([
        api(`/cases/${encodeURIComponent(id)}`),
        api(`/cases/${encodeURIComponent(id)}/outcomes`),
        api(`/cases/${encodeURIComponent(id)}/extensions`),
      ]);
      state.caseDetail = detail;
      // The server's record replaces what this page remembered asking for.
      state.extensions[id] = extensions;
      delete state.pendingExtension[id];
      if (state.caseId === id) {
        state.outcomes = outcomes;
        renderCase();
      }
    } catch (err) {
      fail(pageError, err);
    }
  }

  // 'YYYY-MM-DD' (a calendar day in Beijing) in the page's language.
  const day = (value) => (value ? formatDate(`${value}T00:00:00+08:00`) : '');

  // Whole days from today (Beijing) to `value` (negative when past).
  function daysUntil(value) {
    if (!value) return null;
    return Math.round((Date.parse(`${value}T00:00:00Z`) - Date.parse(`${shanghaiDay()}T00:00:00Z`)) / 86400000);
  }

  function renderCase() {
    const c = state.caseDetail;
    $('#case-empty').hidden = Boolean(c);
    const detail = $('#case-detail');
    detail.hidden = !c;
    $('#ledger-heading').hidden = !c;
    if (!c) {
      $('#ledger').replaceChildren();
      return;
    }
    const row = (key, value, props = {}) => [h('dt', {}, t(key)), h('dd', props, value === '' || value == null ? '—' : value)];
    let risk = c.escalation_risk;
    if (typeof risk === 'boolean') risk = t(risk ? 'common.yes' : 'common.no');
    else risk = tEnum('case.risk', risk);
    const idButton = h('button', {
      type: 'button', class: 'secondary small', 'data-testid': 'identity-read', onclick: () => readIdentity(c),
    }, t('case.identity.show'));
    detail.replaceChildren(
      h('p', { class: 'case-title' }, h('strong', {}, c.case_number), ' ', c.subject || ''),
      // Said before the coordinator looks for a slot: the server refuses to book it (case_closed).
      ...(c.status === 'concluded'
        ? [h('p', { class: 'notice', role: 'status', 'data-testid': 'case-concluded' }, t('case.concludedHint'))]
        : []),
      h('dl', { class: 'facts' },
        row('case.petitioner', c.petitioner_name, { 'data-testid': 'case-petitioner' }),
        [h('dt', {}, t('case.idNumber')), h('dd', { class: 'id-row' },
          h('span', { class: 'masked' }, c.petitioner_id_masked || '—'), ' ', idButton)],
        row('case.phone', c.petitioner_phone_masked, { 'data-testid': 'case-phone', class: 'masked' }),
        row('case.status', tEnum('case.status', c.status)),
        row('case.tier', tEnum('case.tier', c.tier)),
        row('case.risk', risk)),
      h('div', { class: 'ledger-facts' }, ledgerFacts(c)),
      h('h3', { class: 'facts-heading' }, t('case.fourHeading')),
      h('dl', { class: 'facts', 'data-testid': 'case-four' },
        row('case.lead', c.lead),
        row('case.deadline', c.deadline ? formatDate(c.deadline) : ''),
        row('case.measures', c.measures),
        row('case.goal', c.goal)),
      clocksBlock(c),
      attachmentsBlock(c, { user, canUpload: true, onAdded: () => pickCase(c.id) }));
    const ledger = c.ledger;
    const box = $('#ledger');
    if (!Array.isArray(ledger)) {
      box.replaceChildren(h('p', { class: 'empty' }, t('common.loading')));
      return;
    }
    if (!ledger.length) {
      box.replaceChildren(h('p', { class: 'empty' }, t('coord.ledger.none')));
      return;
    }
    const entries = [...ledger].sort((a, b) => String(b.at).localeCompare(String(a.at)) || (b.id - a.id));
    box.replaceChildren(h('table', { class: 'ledger', 'data-testid': 'ledger-table' },
      h('thead', {}, h('tr', {},
        h('th', { scope: 'col' }, t('ledger.at')),
        h('th', { scope: 'col' }, t('ledger.channel')),
        h('th', { scope: 'col' }, t('ledger.countedAs')),
        h('th', { scope: 'col' }, t('ledger.note')))),
      h('tbody', {}, entries.map((e) => h('tr', {
        'data-testid': 'ledger-entry', 'data-entry-id': e.id, 'data-channel': e.channel, 'data-counted-as': e.counted_as,
        'data-session-id': e.session_id ?? '', 'data-outcome': e.outcome || null,
        class: e.corrected_by ? 'corrected' : null,
      },
      h('td', {}, formatDateTime(e.at)),
      h('td', {}, tEnum('ledger.channel', e.channel),
        e.court_initiated ? h('span', { class: 'badge' }, t('ledger.courtInitiated')) : null),
      h('td', {}, h('span', { class: `badge counted-${e.counted_as}` }, tEnum('ledger.counted', e.counted_as))),
      h('td', {}, ledgerNote(e), receiver(e), corrections(e), correctable(e)
        ? h('button', {
          type: 'button', class: 'secondary small', 'data-testid': 'ledger-correct',
          onclick: () => {
            state.contact = { correcting: e };
            renderCase();
          },
        }, t('ledger.correct'))
        : null))))),
    contactBlock(c));
  }

  // ---- the ledger's own facts and forms (js/ledger-coord.js) ----
  function ledgerFacts(c) {
    const row = (key, value, props = {}) => [h('dt', {}, t(key)), h('dd', props, value === '' || value == null ? '—' : value)];
    const original = [c.original_case_number, c.original_court, c.original_case_kind].filter(Boolean).join(' · ');
    const count = c.collective
      ? t('ledger.collective', { count: c.petitioner_count, representative: c.representative || '' })
      : String(c.petitioner_count ?? 1);
    const classButton = h('button', {
      type: 'button', class: 'secondary small', 'data-testid': 'class-open',
      onclick: () => {
        state.classing = true;
        renderCase();
      },
    }, t('ledger.class.open'));
    return [
      h('h3', { class: 'facts-heading' }, t('ledger.factsHeading')),
      h('dl', { class: 'facts', 'data-testid': 'case-ledger-facts' },
        [h('dt', {}, t('ledger.class')), h('dd', { 'data-testid': 'case-class', 'data-class': c.case_class },
          tEnum('case.class', c.case_class), ' ', state.classing ? null : classButton)],
        row('ledger.petitioners', count),
        row('ledger.original', original),
        row('ledger.intake', c.intake_channel ? tEnum('ledger.channel', c.intake_channel) : ''),
        row('ledger.matter', c.matter)),
      state.classing ? classForm(c, {
        user,
        onChanged: (detail) => {
          state.classing = false;
          state.caseDetail = detail;
          pickCase(c.id);
          $('[data-testid=class-open]')?.focus();
        },
        onCancel: () => {
          state.classing = false;
          renderCase();
          $('[data-testid=class-open]')?.focus();
        },
      }) : null,
      (c.class_changes || []).length
        ? h('ul', { class: 'hint', 'data-testid': 'class-changes' }, c.class_changes.map((x) => h('li', {},
          t('ledger.class.changed', { at: formatDateTime(x.at), from: tEnum('case.class', x.from), to: tEnum('case.class', x.to), reason: x.reason }))))
        : null,
    ];
  }

  const correctable = (e) => !e.session_id && !e.channel.startsWith('video_');

  function receiver(e) {
    const body = e.receiving_organ && e.receiving_organ !== 'court'
      ? tEnum('ledger.organ', e.receiving_organ)
      : (e.receiving_court?.name || '');
    const who = [e.received_by, body].filter(Boolean).join(' · ');
    return who ? h('p', { class: 'hint', 'data-testid': 'ledger-receiver' }, t('ledger.receivedByLine', { who })) : null;
  }

  function corrections(e) {
    return [
      e.corrects ? h('p', { class: 'hint', 'data-testid': 'ledger-correction' }, t('ledger.corrects', { reason: e.correction_reason || '' })) : null,
      e.corrected_by ? h('p', { class: 'hint', 'data-testid': 'ledger-corrected' }, t('ledger.correctedBy')) : null,
    ];
  }

  function contactBlock(c) {
    if (!state.contact) {
      return h('button', {
        type: 'button', class: 'secondary', 'data-testid': 'contact-open',
        onclick: () => {
          state.contact = { correcting: null };
          renderCase();
        },
      }, t('ledger.contact.open'));
    }
    return contactForm(c, {
      user,
      outcomes: state.outcomes,
      courtsAbove: state.courtsAbove,
      correcting: state.contact.correcting,
      onLogged: (detail) => {
        state.contact = null;
        state.caseDetail = detail;
        renderCase();
        $('[data-testid=contact-open]')?.focus();
      },
      onCancel: () => {
        state.contact = null;
        renderCase();
        $('[data-testid=contact-open]')?.focus();
      },
    });
  }

  // ---- the statutory clocks (信访工作条例) and the one extension ----
  function clocksBlock(c) {
    const k = c.clocks || {};
    const left = daysUntil(k.next_due);
    let nextWords = '—';
    if (k.next_due) {
      const which = k.next_due === k.handling_due && c.accepted_on ? 'case.clocks.handling' : 'case.clocks.acceptance';
      nextWords = [
        h('span', {}, t('case.clocks.nextWhich', { date: day(k.next_due), which: t(which) })), ' ',
        k.overdue
          ? h('span', { class: 'badge overdue', 'data-testid': 'case-overdue' }, t('case.clocks.overdue', { days: Math.abs(left ?? 0) }))
          : h('span', { class: `badge ${left !== null && left <= 7 ? 'due-soon' : 'due-ok'}` }, t('case.clocks.left', { days: left ?? 0 })),
      ];
    }
    const extended = Number(c.extension_days) > 0;
    const parts = [
      h('h3', { class: 'facts-heading' }, t('case.clocks.heading')),
      h('dl', { class: `facts clocks${k.overdue ? ' is-overdue' : ''}`, 'data-testid': 'case-clocks', 'data-overdue': String(Boolean(k.overdue)) },
        h('dt', {}, t('case.clocks.received')), h('dd', {}, day(c.received_on) || '—'),
        h('dt', {}, t('case.clocks.acceptanceDue')), h('dd', {}, day(k.acceptance_due) || '—'),
        h('dt', {}, t('case.clocks.accepted')), h('dd', {}, day(c.accepted_on) || t('case.clocks.notAccepted')),
        h('dt', {}, t('case.clocks.handlingDue')), h('dd', { 'data-testid': 'case-handling-due' },
          day(k.handling_due) || '—',
          extended ? h('span', { class: 'hint' }, ` ${t('case.clocks.withExtension', { days: c.extension_days })}`) : null),
        h('dt', {}, t('case.clocks.next')), h('dd', { 'data-testid': 'case-next-due', class: k.overdue ? 'overdue-text' : null }, nextWords,
          k.provisional ? h('span', { class: 'hint', 'data-testid': 'case-provisional' }, ` ${t('clock.provisional')}`) : null),
        extended ? [h('dt', {}, t('case.extension.reasonShown')), h('dd', { 'data-testid': 'case-extension' },
          t('case.extension.done', { days: c.extension_days, reason: c.extension_reason || '' }))] : null),
    ];
    const answered = (k.all || []).some((x) => x.name === 'handling' && x.stopped);
    // The latest request and its decision: who approved or refused it, when and why.
    const latest = (state.extensions[c.id] || [])[0];
    const pending = state.pendingExtension[c.id] || (latest?.status === 'pending' ? latest : null);
    if (latest && latest.status !== 'pending') {
      parts.push(h('p', { class: 'hint', 'data-testid': 'case-extension-decision', 'data-status': latest.status },
        t(latest.status === 'approved' ? 'clocks.ext.decidedApproved' : 'clocks.ext.decidedRefused', {
          days: latest.days, who: latest.decided_by_name || '—', when: formatDateTime(latest.decided_at), note: latest.decision_note || '',
        })));
    }
    if (pending) {
      parts.push(h('p', { class: 'notice', 'data-testid': 'case-extension-pending' },
        t('case.extension.pending', { days: pending.days, reason: pending.reason })));
    } else if (c.accepted_on && !extended && !answered) parts.push(extensionForm(c));
    else if (!c.accepted_on) parts.push(h('p', { class: 'hint' }, t('case.extension.notAccepted')));
    parts.push(clockEventBlock(c, {
      call: (path, options) => withReauth(user, () => api(path, options)),
      form: state.clockEvent,
      courtsAbove: state.courtsAbove,
      rerender: renderCase,
      onRecorded: async (recorded, said) => {
        // The answer is the case with its clocks; the ledger and the list come afresh.
        await Promise.all([loadCases(), overdue.reload()]);
        await pickCase(recorded.id);
        const open = $('[data-testid=clock-event-open]') || $('[data-testid=case-clocks]');
        if (open && open.tagName !== 'BUTTON') open.setAttribute('tabindex', '-1');
        open?.focus();
        announce(said);
      },
    }));
    return h('div', { class: 'clocks-block' }, parts);
  }

  function extensionForm(c) {
    const ext = state.extension;
    if (!ext.open) {
      return h('button', {
        type: 'button', class: 'secondary', 'data-testid': 'extension-open',
        onclick: () => {
          state.extension.open = true;
          renderCase();
          $('#extension-days')?.focus();
        },
      }, t('case.extension.open'));
    }
    const error = h('div', { id: 'extension-error', 'data-testid': 'extension-error', class: 'alert', role: 'alert', hidden: true });
    const days = h('input', {
      id: 'extension-days', 'data-testid': 'extension-days', type: 'number', min: '1', max: '30', step: '1',
      inputmode: 'numeric', value: ext.days, class: 'days-input', 'aria-describedby': 'extension-hint',
      oninput: (e) => { state.extension.days = e.target.value; },
    });
    const reason = h('textarea', {
      id: 'extension-reason', 'data-testid': 'extension-reason', rows: '3', maxlength: '500',
      oninput: (e) => { state.extension.reason = e.target.value; },
    });
    reason.value = ext.reason;
    const submit = h('button', { type: 'submit', class: 'primary', 'data-testid': 'extension-submit' }, t('case.extension.submit'));
    const cancel = h('button', {
      type: 'button', class: 'secondary',
      onclick: () => {
        state.extension = { open: false, days: '', reason: '' };
        renderCase();
        $('[data-testid=extension-open]')?.focus();
      },
    }, t('case.extension.cancel'));
    const form = h('form', { class: 'card stack extension-form', 'data-testid': 'extension-form', novalidate: true },
      h('h4', {}, t('case.extension.heading')),
      h('p', { class: 'hint', id: 'extension-hint' }, t('case.extension.hint')),
      h('div', { class: 'field' }, h('label', { for: 'extension-days' }, t('case.extension.days')), days),
      h('div', { class: 'field' }, h('label', { for: 'extension-reason' }, t('case.extension.reason')), reason),
      error,
      h('div', { class: 'button-row' }, submit, cancel));
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      clearError(error);
      const n = Number(days.value);
      if (!Number.isInteger(n) || n < 1 || n > 30) {
        showMessage(error, 'case.extension.daysRange');
        days.focus();
        return;
      }
      const why = reason.value.trim();
      if (!why) {
        showMessage(error, 'case.extension.needReason');
        reason.focus();
        return;
      }
      submit.disabled = true;
      submit.textContent = t('case.extension.working');
      try {
        // A request: nothing moves until a person in charge approves it (docs/clocks.md).
        const asked = await withReauth(user, () => api(`/cases/${encodeURIComponent(c.id)}/extension`, {
          method: 'POST', body: { days: n, reason: why },
        }));
        state.extension = { open: false, days: '', reason: '' };
        state.pendingExtension[c.id] = asked;
        renderCase();
        announce(t('case.extension.pending', { days: asked.days, reason: asked.reason }));
        $('[data-testid=case-extension-pending]')?.setAttribute('tabindex', '-1');
        $('[data-testid=case-extension-pending]')?.focus();
      } catch (err) {
        if (!handleAuthError(err)) showError(error, err, 'extension');
        submit.disabled = false;
        submit.textContent = t('case.extension.submit');
      }
    });
    return form;
  }

  // ---- the unmasked identity number: a separate, audited read ----
  function readIdentity(c) {
    const opener = document.activeElement;
    const error = h('div', { class: 'alert', role: 'alert', hidden: true });
    const number = h('p', { class: 'id-number', 'data-testid': 'identity-number', hidden: true });
    const go = h('button', { type: 'button', class: 'primary', 'data-testid': 'identity-confirm' }, t('case.identity.confirm'));
    const close = h('button', { type: 'button', class: 'secondary', 'data-testid': 'identity-close' }, t('case.identity.cancel'));
    const warning = h('p', { class: 'notice', 'data-testid': 'identity-warning' }, t('case.identity.warning'));
    const dialog = h('dialog', { class: 'reauth identity-dialog', 'data-testid': 'identity-dialog', 'aria-labelledby': 'identity-heading' },
      h('div', { class: 'stack' },
        h('h2', { id: 'identity-heading' }, t('case.identity.heading')),
        h('p', {}, t('case.identity.who', { name: c.petitioner_name || '', number: c.case_number })),
        warning, number, error,
        h('div', { class: 'button-row' }, go, close)));
    document.body.append(dialog);
    const finish = () => {
      // The number leaves the page with the dialog.
      number.textContent = '';
      dialog.close();
      dialog.remove();
      if (opener?.isConnected) opener.focus();
      else $('[data-testid=identity-read]')?.focus();
    };
    close.addEventListener('click', finish);
    dialog.addEventListener('cancel', (e) => {
      e.preventDefault();
      finish();
    });
    go.addEventListener('click', async () => {
      clearError(error);
      go.disabled = true;
      try {
        const answer = await withReauth(user, () => api(`/cases/${encodeURIComponent(c.id)}/identity-reads`, { method: 'POST' }));
        number.textContent = answer.petitioner_id_number;
        number.hidden = false;
        go.hidden = true;
        warning.textContent = t('case.identity.recorded');
        close.textContent = t('case.identity.close');
        close.focus();
      } catch (err) {
        if (!handleAuthError(err)) showError(error, err);
        go.disabled = false;
      }
    });
    dialog.showModal();
    go.focus();
  }

  // A video reception that has ended: its outcome in words and the officer's note (the entry's
  // own note is the server's record, "<court> <room> — <outcome code>").
  function ledgerNote(e) {
    if (!e.outcome) return e.note || '';
    return [
      h('strong', { class: 'ledger-outcome', 'data-testid': 'ledger-outcome' }, tEnum('outcome', e.outcome)),
      e.session_id ? (e.outcome_note ? ` — ${e.outcome_note}` : '') : ` — ${e.note || ''}`,
    ];
  }

  // The courts above with reception rooms (GET /slots): the ones a 到省访 / 进京访 may have gone
  // to. Booking itself is the calendar's (js/schedule-coord.js).
  async function loadSlots() {
    try {
      const slots = await api('/slots');
      const above = new Map(slots.filter((s) => s.court).map((s) => [s.court.id, s.court]));
      state.courtsAbove = [...above.values()];
    } catch (err) {
      fail(pageError, err);
    }
  }

  // ---- today's sessions ----
  async function loadSessions() {
    try {
      state.sessions = await api(`/sessions?day=${shanghaiDay()}`);
      renderSessions();
      glance.setSessions(state.sessions);
      glance.refresh();
    } catch (err) {
      fail(pageError, err);
    }
  }

  function renderSessions() {
    renderSessionList($('#session-list'), state.sessions, (s) => [leaderControl(s, { onAdded: loadSessions })], 'coord.sessions.none');
  }

  $('#sessions-refresh').addEventListener('click', () => {
    loadSessions();
    loadSlots();
    if (state.caseId) pickCase(state.caseId);
  });

  onLangChange(() => {
    rerenderHeader();
    renderCases();
    renderCase();
    renderSessions();
    glance.render();
    overdue.render();
  });

  renderCase();
  loadCases();
  overdue.reload();
  loadSlots();
  loadSessions();
}
