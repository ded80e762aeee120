// coordinator.html: the local court's 信访专干 — cases, ledger, booking, today's sessions.
import { t, tEnum, onLangChange, formatDay, formatTimeRange, formatDate, formatDateTime, shanghaiDay } from './i18n.js';
import { api } from './api.js';
import { $, h, startPage, requireStaff, staffHeader, showError, showMessage, clearError, handleAuthError, announce, withReauth } from './ui.js';
import { renderSessionList } from './sessions.js';

const auth = requireStaff(['coordinator']);
if (auth) main(auth);

function main({ user }) {
  startPage();
  const rerenderHeader = staffHeader(user);

  const state = {
    cases: [],
    caseId: null,
    caseDetail: null,
    slots: [],
    slotId: null,
    slotDay: null,
    slotCourt: '',
    rooms: [],
    roomId: '',
    sessions: [],
    booking: null,
  };

  const pageError = $('#page-error');
  const bookError = $('#book-error');
  const bookButton = $('#book-button');

  function fail(box, err) {
    if (handleAuthError(err)) return;
    showError(box, err);
  }

  // ---- cases ----
  async function loadCases() {
    try {
      state.cases = await api('/cases');
      renderCases();
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
    state.caseId = id;
    state.caseDetail = state.cases.find((c) => c.id === id) || null;
    renderCases();
    if (hadFocus) $(`.case-item[data-case-id="${id}"]`)?.focus();
    renderCase();
    renderBookCase();
    try {
      state.caseDetail = await api(`/cases/${encodeURIComponent(id)}`);
      if (state.caseId === id) renderCase();
    } catch (err) {
      fail(pageError, err);
    }
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
    const row = (key, value) => [h('dt', {}, t(key)), h('dd', {}, value === '' || value == null ? '—' : value)];
    let risk = c.escalation_risk;
    if (typeof risk === 'boolean') risk = t(risk ? 'common.yes' : 'common.no');
    else risk = tEnum('case.risk', risk);
    detail.replaceChildren(
      h('p', { class: 'case-title' }, h('strong', {}, c.case_number), ' ', c.subject || ''),
      h('dl', { class: 'facts' },
        row('case.petitioner', [c.petitioner_name, c.petitioner_id_masked].filter(Boolean).join(' · ')),
        row('case.status', tEnum('case.status', c.status)),
        row('case.tier', tEnum('case.tier', c.tier)),
        row('case.lead', c.lead),
        row('case.deadline', c.deadline ? formatDate(c.deadline) : ''),
        row('case.risk', risk)));
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
    const entries = [...ledger].sort((a, b) => String(b.at).localeCompare(String(a.at)));
    box.replaceChildren(h('table', { class: 'ledger', 'data-testid': 'ledger-table' },
      h('thead', {}, h('tr', {},
        h('th', { scope: 'col' }, t('ledger.at')),
        h('th', { scope: 'col' }, t('ledger.channel')),
        h('th', { scope: 'col' }, t('ledger.countedAs')),
        h('th', { scope: 'col' }, t('ledger.note')))),
      h('tbody', {}, entries.map((e) => h('tr', {
        'data-testid': 'ledger-entry', 'data-channel': e.channel, 'data-counted-as': e.counted_as,
        'data-session-id': e.session_id ?? '', 'data-outcome': e.outcome || null,
      },
      h('td', {}, formatDateTime(e.at)),
      h('td', {}, tEnum('ledger.channel', e.channel)),
      h('td', {}, h('span', { class: `badge counted-${e.counted_as}` }, tEnum('ledger.counted', e.counted_as))),
      h('td', {}, ledgerNote(e)))))));
  }

  // A video reception that has ended: its outcome in words and the officer's note (the entry's
  // own note is the server's record, "<court> <room> — <outcome code>").
  function ledgerNote(e) {
    if (!e.outcome) return e.note || '';
    return [
      h('strong', { class: 'ledger-outcome', 'data-testid': 'ledger-outcome' }, tEnum('outcome', e.outcome)),
      e.outcome_note ? ` — ${e.outcome_note}` : '',
    ];
  }

  // ---- booking ----
  function renderBookCase() {
    const c = state.cases.find((x) => x.id === state.caseId);
    $('#book-case').textContent = c
      ? t('coord.book.for', { number: c.case_number, name: c.petitioner_name || '' })
      : t('coord.book.pickCase');
    renderBookButton();
  }

  function renderBookButton() {
    bookButton.disabled = false;
    bookButton.setAttribute('aria-disabled', String(!(state.caseId && state.slotId && state.roomId)));
  }

  async function loadSlots() {
    try {
      state.slots = await api('/slots');
      if (!state.slots.some((s) => s.id === state.slotId)) state.slotId = null;
      renderSlots();
    } catch (err) {
      fail(pageError, err);
    }
  }

  function renderSlots() {
    const box = $('#slot-groups');
    const days = $('#slot-days');
    if (!state.slots.length) {
      days.replaceChildren();
      $('#slot-courts').replaceChildren();
      box.replaceChildren(h('p', { class: 'empty' }, t('coord.slots.none')));
      renderBookButton();
      return;
    }
    // Rooms of one time in the host court's own order (by id: 第一 before 第二, which a
    // pinyin sort of the names would put the other way round).
    const sorted = [...state.slots].sort((a, b) => String(a.starts_at).localeCompare(String(b.starts_at))
      || (Number(a.host_room?.id) || 0) - (Number(b.host_room?.id) || 0));
    // Days (Asia/Shanghai) that have open slots; one day is shown at a time.
    const dayList = [...new Set(sorted.map((slot) => shanghaiDay(slot.starts_at)))];
    if (!dayList.includes(state.slotDay)) state.slotDay = dayList[0];
    days.replaceChildren(...dayList.map((day) => {
      const first = sorted.find((slot) => shanghaiDay(slot.starts_at) === day);
      return h('button', {
        type: 'button', class: 'day-chip', 'data-testid': 'slot-day', 'data-day': day,
        'aria-pressed': String(day === state.slotDay),
        onclick: () => {
          state.slotDay = day;
          renderSlots();
          $(`.day-chip[data-day="${day}"]`)?.focus();
        },
      }, formatDay(first.starts_at));
    }));

    const levelOrder = { supreme: 0, high: 1, intermediate: 2, basic: 3 };
    const byLevel = (a, b) => (levelOrder[a.court?.level] ?? 9) - (levelOrder[b.court?.level] ?? 9);
    const allGroups = new Map();
    for (const slot of sorted) {
      if (shanghaiDay(slot.starts_at) !== state.slotDay) continue;
      const key = String(slot.court?.id ?? slot.court?.name);
      if (!allGroups.has(key)) allGroups.set(key, { key, court: slot.court, slots: [] });
      allGroups.get(key).slots.push(slot);
    }
    const courtsOfDay = [...allGroups.values()].sort(byLevel);
    if (state.slotCourt && !allGroups.has(state.slotCourt)) state.slotCourt = '';
    const courtChip = (key, label) => h('button', {
      type: 'button', class: 'day-chip court-chip', 'data-testid': 'slot-court', 'data-court': key,
      'aria-pressed': String(key === state.slotCourt),
      onclick: () => {
        state.slotCourt = key;
        renderSlots();
        $(`.court-chip[data-court="${key}"]`)?.focus();
      },
    }, label);
    $('#slot-courts').replaceChildren(...(courtsOfDay.length > 1
      ? [courtChip('', t('coord.slots.allCourts')), ...courtsOfDay.map((g) => courtChip(g.key, g.court?.name || ''))]
      : []));
    const ordered = courtsOfDay.filter((g) => !state.slotCourt || g.key === state.slotCourt);
    box.replaceChildren(...ordered.map((group) => h('div', { class: 'slot-group', 'data-court-id': group.court?.id },
      h('h3', { class: 'slot-court' }, group.court?.name || '',
        group.court?.level && group.court.level !== 'supreme' ? h('span', { class: 'badge' }, tEnum('court.level', group.court.level)) : null,
        h('span', { class: 'slot-count' }, t('coord.slots.count', { count: group.slots.length }))),
      h('div', { class: 'slot-grid' }, group.slots.map((slot) => h('button', {
        type: 'button',
        class: 'slot',
        'data-testid': 'slot-button',
        'data-slot-id': slot.id,
        'data-court-id': slot.court?.id,
        'data-court-level': slot.court?.level,
        'data-starts-at': slot.starts_at,
        'data-ends-at': slot.ends_at,
        'aria-pressed': String(slot.id === state.slotId),
        'aria-label': `${group.court?.name || ''} ${formatDay(slot.starts_at)} ${formatTimeRange(slot.starts_at, slot.ends_at)} ${slot.host_room?.name || ''}`,
        onclick: () => {
          state.slotId = slot.id;
          renderSlots();
          clearError(bookError);
          $(`.slot[data-slot-id="${slot.id}"]`)?.focus();
        },
      },
      h('span', { class: 'slot-time' }, formatTimeRange(slot.starts_at, slot.ends_at)),
      h('span', { class: 'slot-room' }, slot.host_room?.name || '')))))));
    const chosen = state.slots.find((slot) => slot.id === state.slotId);
    $('#slot-chosen').textContent = chosen
      ? t('coord.slots.chosen', {
        court: chosen.court?.name || '', when: `${formatDay(chosen.starts_at)} ${formatTimeRange(chosen.starts_at, chosen.ends_at)}`,
        room: chosen.host_room?.name || '',
      })
      : t('coord.slots.noneChosen');
    renderBookButton();
  }

  async function loadRooms() {
    try {
      state.rooms = await api('/local-rooms');
      if (!state.rooms.some((r) => String(r.id) === state.roomId)) {
        state.roomId = state.rooms.length === 1 ? String(state.rooms[0].id) : '';
      }
      renderRooms();
    } catch (err) {
      fail(pageError, err);
    }
  }

  function renderRooms() {
    const select = $('#room-select');
    select.replaceChildren(
      h('option', { value: '' }, t(state.rooms.length ? 'coord.room.choose' : 'coord.room.none')),
      ...state.rooms.map((r) => h('option', { value: String(r.id) }, r.name)));
    select.value = state.roomId;
    renderBookButton();
  }

  $('#room-select').addEventListener('change', (e) => {
    state.roomId = e.target.value;
    clearError(bookError);
    renderBookButton();
  });

  function idValue(options, id) {
    // Keep ids as the server gave them (numbers stay numbers).
    const found = options.find((o) => String(o.id) === String(id));
    return found ? found.id : id;
  }

  $('#book-form').addEventListener('submit', async (event) => {
    event.preventDefault();
    clearError(bookError);
    const missing = !state.caseId ? 'coord.book.needCase' : !state.slotId ? 'coord.book.needSlot' : !state.roomId ? 'coord.book.needRoom' : null;
    if (missing) {
      showMessage(bookError, missing);
      if (missing === 'coord.book.needRoom') $('#room-select').focus();
      else if (missing === 'coord.book.needSlot') $('.slot')?.focus();
      else $('.case-item')?.focus();
      return;
    }
    bookButton.disabled = true;
    bookButton.textContent = t('coord.book.working');
    try {
      const body = { slot_id: state.slotId, case_id: state.caseId, local_room_id: idValue(state.rooms, state.roomId) };
      const booking = await withReauth(user, () => api('/bookings', { method: 'POST', body }));
      const slot = state.slots.find((s) => s.id === state.slotId);
      state.booking = { ...booking, slot, caseNumber: state.cases.find((c) => c.id === state.caseId)?.case_number };
      state.slotId = null;
      renderResult();
      const result = $('#booking-result');
      result.focus();
      announce(t('coord.result.heading'));
      await Promise.all([loadSlots(), loadSessions()]);
    } catch (err) {
      if (!handleAuthError(err)) showError(bookError, err, 'book');
      if (err.code === 'slot_taken' || err.code === 'slot_past') loadSlots();
    } finally {
      bookButton.disabled = false;
      bookButton.textContent = t('coord.book.submit');
    }
  });

  function renderResult() {
    const b = state.booking;
    const result = $('#booking-result');
    result.hidden = !b;
    if (!b) return;
    $('#join-code').textContent = b.join_code;
    const link = new URL(b.join_path, location.origin).href;
    const a = $('#join-link');
    a.href = link;
    a.textContent = link;
    const where = b.slot ? [b.slot.court?.name, b.slot.host_room?.name].filter(Boolean).join(' · ') : '';
    $('#result-when').textContent = t('coord.result.when', {
      number: b.caseNumber || '',
      when: `${formatDay(b.starts_at)} ${formatTimeRange(b.starts_at, b.ends_at)}`,
      where,
    });
    $('#copy-status').textContent = '';
  }

  $('#copy-link').addEventListener('click', async () => {
    const link = $('#join-link').href;
    const status = $('#copy-status');
    try {
      await navigator.clipboard.writeText(link);
      status.textContent = t('coord.result.copied');
    } catch {
      // No clipboard access (plain http on an intranet): select the text for Ctrl+C.
      const range = document.createRange();
      range.selectNodeContents($('#join-link'));
      const selection = getSelection();
      selection.removeAllRanges();
      selection.addRange(range);
      status.textContent = t('coord.result.copyManual');
    }
  });

  $('#print-notice').addEventListener('click', () => window.print());

  $('#new-code').addEventListener('click', async () => {
    if (!state.booking) return;
    clearError(bookError);
    try {
      const answer = await api(`/bookings/${encodeURIComponent(state.booking.id)}/join-code`, { method: 'POST' });
      state.booking = { ...state.booking, join_code: answer.join_code, join_path: answer.join_path };
      renderResult();
      $('#copy-status').textContent = t('coord.result.newCodeDone');
    } catch (err) {
      fail(bookError, err);
    }
  });

  // ---- today's sessions ----
  async function loadSessions() {
    try {
      state.sessions = await api(`/sessions?day=${shanghaiDay()}`);
      renderSessions();
    } catch (err) {
      fail(pageError, err);
    }
  }

  function renderSessions() {
    renderSessionList($('#session-list'), state.sessions, null, 'coord.sessions.none');
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
    renderBookCase();
    renderSlots();
    renderRooms();
    renderResult();
    renderSessions();
  });

  renderCase();
  renderBookCase();
  loadCases();
  loadSlots();
  loadRooms();
  loadSessions();
}
