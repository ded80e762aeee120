// The coordinator's scheduling panel (coordinator.html): a week calendar of the host courts'
// open slots; choosing one holds it for a few minutes (POST /holds); then a direct booking where
// the host court approves automatically (POST /bookings, Idempotency-Key per attempt), or an
// application with the eligibility facts where it reviews (POST /applications). Below: the
// court's applications with the host court's answers (accept a proposed slot, amend after a
// request for more material, withdraw), and its bookings (cancel with a reason, reschedule,
// the appointment notice). Every update sends the If-Match of a fresh GET.
import { t, tEnum, onLangChange, formatDay, formatTimeRange, formatTime, shanghaiDay } from './i18n.js';
import { api, apiWithEtag, newIdempotencyKey } from './api.js';
import { $, h, showError, showMessage, clearError, handleAuthError, announce, withReauth } from './ui.js';
import { renderWeek, mondayOf, addDays, beijingMidnight } from './slotcalendar.js';
import { contactsLines } from './directory.js';

const OPEN = ['pending', 'proposed', 'more_info'];

export function mountCoordinatorSchedule(root, { user, onBooked } = {}) {
  const state = {
    cases: [], rooms: [], courts: [], courtId: '', hostRoom: '', caseId: '', roomId: '',
    monday: mondayOf(), slots: [], settings: null, chosen: null, hold: null, attemptKey: null,
    apps: [], bookings: new Map(), rescheduling: null, result: null, focusSlot: null,
    // Further preferred slots of an application, after the held one, in order of preference.
    alsoPreferred: [],
    // What a coordinator has typed or been told in a booking's cancel form, by booking id: the
    // lists are drawn again whenever a notification or a load lands, and must not lose it.
    cancelDrafts: new Map(),
  };
  const err = h('div', { class: 'alert', role: 'alert', hidden: true, 'data-testid': 'sched-error' });
  const listErr = h('div', { class: 'alert', role: 'alert', hidden: true, 'data-testid': 'sched-list-error' });
  const sel = (id, testid, onchange) => h('select', { id, 'data-testid': testid, onchange });
  const caseSel = sel('sched-case', 'sched-case', (e) => { state.caseId = e.target.value; renderAction(); });
  const roomSel = sel('sched-room', 'sched-room', (e) => { state.roomId = e.target.value; renderAction(); });
  const courtSel = sel('sched-court', 'sched-court', (e) => { state.courtId = e.target.value; state.hostRoom = ''; loadWeek(); });
  const hostRoomSel = sel('sched-hostroom', 'sched-hostroom', (e) => { state.hostRoom = e.target.value; renderWeekView(); });
  const weekLabel = h('span', { class: 'week-label', 'data-testid': 'sched-week-label', 'aria-live': 'polite' });
  const nav = (testid, key, delta) => h('button', {
    type: 'button', class: 'secondary', 'data-testid': testid, 'data-key': key,
    onclick: () => { state.monday = delta === 0 ? mondayOf() : addDays(state.monday, delta); loadWeek(); },
  });
  const prev = nav('sched-prev', 'cal.week.prev', -7);
  const next = nav('sched-next', 'cal.week.next', 7);
  const thisWeek = nav('sched-this', 'cal.week.this', 0);
  const week = h('div', { class: 'week', 'data-testid': 'sched-week' });
  const action = h('div', { class: 'sched-action', 'data-testid': 'sched-action', 'aria-live': 'polite' });
  const apps = h('ul', { class: 'sched-apps', 'data-testid': 'app-list' });
  const bookings = h('ul', { class: 'sched-bookings', 'data-testid': 'booking-list' });
  const field = (id, key, control) => h('div', { class: 'field' }, h('label', { for: id, 'data-key': key }), control);

  root.replaceChildren(
    h('h2', { id: 'sched-heading', 'data-key': 'sched.heading' }),
    h('p', { class: 'hint', 'data-key': 'sched.intro' }),
    h('div', { class: 'sched-controls' },
      field('sched-case', 'sched.case', caseSel),
      field('sched-room', 'coord.room.label', roomSel),
      field('sched-court', 'sched.court', courtSel),
      field('sched-hostroom', 'sched.hostRoom', hostRoomSel)),
    h('div', { class: 'button-row week-nav' }, prev, weekLabel, next, thisWeek),
    week, err, action,
    h('div', { class: 'panel-head' }, h('h3', { 'data-key': 'sched.apps.heading' }),
      h('button', { type: 'button', class: 'secondary', 'data-testid': 'sched-refresh', 'data-key': 'common.refresh', onclick: () => { loadWeek(); loadLists(); } })),
    listErr, apps,
    h('h3', { 'data-key': 'sched.bookings.heading' }), bookings);

  function texts() {
    for (const el of root.querySelectorAll('[data-key]')) el.textContent = t(el.dataset.key);
  }

  function fail(box, e, context) {
    if (!handleAuthError(e)) showError(box, e, context);
  }

  // ---- choices ----
  function renderSelects() {
    const opts = (select, list, emptyKey, value, label) => {
      select.replaceChildren(h('option', { value: '' }, t(emptyKey)),
        ...list.map((x) => h('option', { value: String(x.id) }, label(x))));
      select.value = value;
    };
    opts(caseSel, state.cases, 'sched.case.choose', state.caseId, (c) => `${c.case_number} ${c.petitioner_name || ''}`);
    opts(roomSel, state.rooms, 'coord.room.choose', state.roomId, (r) => r.name);
    opts(courtSel, state.courts, 'sched.court.choose', state.courtId, (c) => c.name);
    const hostRooms = [...new Map(state.slots.map((s) => [String(s.host_room.id), s.host_room])).values()];
    opts(hostRoomSel, hostRooms, 'sched.hostRoom.all', state.hostRoom, (r) => r.name);
  }

  async function loadChoices() {
    try {
      const [cases, rooms, slots] = await Promise.all([api('/cases'), api('/local-rooms'), api('/slots')]);
      state.cases = cases;
      state.rooms = rooms;
      if (!state.roomId && rooms.length === 1) state.roomId = String(rooms[0].id);
      const courts = new Map();
      for (const s of slots) courts.set(String(s.court.id), s.court);
      const order = { supreme: 0, high: 1, intermediate: 2 };
      state.courts = [...courts.values()].sort((a, b) => (order[a.level] ?? 9) - (order[b.level] ?? 9));
      if (!state.courtId && state.courts.length) state.courtId = String(state.courts[0].id);
      renderSelects();
      await loadWeek();
    } catch (e) {
      fail(err, e);
    }
  }

  // Each load is numbered, and only the latest one's answer is drawn: a quick 下一周 after choosing
  // the court sent two loads, and when the first week's answer came back last, the next week was
  // drawn with the first week's slots, i.e. empty (browser::scheduling, under load).
  let weekLoads = 0;
  async function loadWeek() {
    const load = ++weekLoads;
    weekLabel.textContent = t('cal.week.label', { from: formatDay(`${state.monday}T12:00:00+08:00`), to: formatDay(`${addDays(state.monday, 6)}T12:00:00+08:00`) });
    if (!state.courtId) {
      renderSelects();
      renderWeekView();
      return;
    }
    try {
      const from = beijingMidnight(state.monday);
      const to = beijingMidnight(addDays(state.monday, 7));
      const [slots, settings] = await Promise.all([
        api(`/slots?host_court_id=${encodeURIComponent(state.courtId)}&from=${encodeURIComponent(from)}&to=${encodeURIComponent(to)}`),
        api(`/host-courts/${encodeURIComponent(state.courtId)}/settings`),
      ]);
      if (load !== weekLoads) return;
      state.slots = slots;
      state.settings = settings;
      renderSelects();
      renderWeekView();
      renderAction();
    } catch (e) {
      if (load === weekLoads) fail(err, e);
    }
  }

  function renderWeekView(focusNow = false) {
    const items = state.slots
      .filter((s) => !state.hostRoom || String(s.host_room.id) === state.hostRoom)
      .map((s) => ({
        id: s.id, starts_at: s.starts_at, ends_at: s.ends_at,
        text: formatTimeRange(s.starts_at, s.ends_at),
        sub: [s.host_room.name, s.theme ? tEnum('case.category', s.theme) : ''].filter(Boolean).join(' · '),
        cls: `${s.theme ? 'themed' : ''} ${state.chosen?.id === s.id ? 'chosen' : ''}`,
        pressed: state.chosen?.id === s.id,
        attrs: {
          'data-testid': 'cal-slot', 'data-slot-id': s.id, 'data-room': s.host_room.name, 'data-theme': s.theme || '',
          'data-court': s.court.name, 'data-court-level': s.court.level, 'data-ends-at': s.ends_at,
        },
        label: `${s.court.name} ${s.host_room.name} ${formatDay(s.starts_at)} ${formatTimeRange(s.starts_at, s.ends_at)}${s.theme ? ` ${t('sched.theme', { theme: tEnum('case.category', s.theme) })}` : ''}`,
        slot: s,
      }));
    renderWeek(week, {
      monday: state.monday, items, onChoose: (it) => choose(it.slot), focusId: state.chosen?.id ?? state.focusSlot,
      focusNow, caption: t('sched.heading'),
    });
  }

  // ---- hold, then book or apply ----
  async function choose(slot) {
    clearError(err);
    state.focusSlot = slot.id;
    if (state.hold && state.hold.slot_id !== slot.id) {
      api(`/holds/${encodeURIComponent(state.hold.slot_id)}`, { method: 'DELETE' }).catch(() => {});
      state.hold = null;
    }
    // The form of the slot chosen before goes at once: typed into while the new hold is on its
    // way, it would be drawn again empty when the hold answers.
    if (state.chosen && state.chosen.id !== slot.id && !state.result) {
      state.chosen = null;
      renderAction();
    }
    try {
      state.hold = await withReauth(user, () => api('/holds', { method: 'POST', body: { slot_id: slot.id } }));
      watchHold(state.hold);
      if (state.chosen?.id !== slot.id) state.alsoPreferred = state.alsoPreferred.filter((p) => p.id !== slot.id);
      state.chosen = slot;
      state.attemptKey = newIdempotencyKey();
      state.result = null;
      renderWeekView();
      renderAction();
      root.querySelector('[data-testid=hold-notice]')?.focus();
    } catch (e) {
      fail(err, e, 'book');
      if (['slot_taken', 'slot_held', 'slot_withdrawn', 'slot_past'].includes(e.code)) loadWeek();
    }
  }

  // When the hold runs out, say so: the slot may be taken by someone else from then on.
  let holdTimer = null;
  function watchHold(hold) {
    clearTimeout(holdTimer);
    holdTimer = setTimeout(() => {
      if (state.hold !== hold || state.result) return;
      state.hold = null;
      state.chosen = null;
      renderWeekView();
      renderAction();
      showMessage(err, 'sched.holdExpired', 'sched.holdExpired.next');
    }, Math.max(0, Date.parse(hold.expires_at) - Date.now()));
  }

  // The action panel is drawn again whenever the week is loaded (a notification, the booking
  // just made, the reschedule button): what the coordinator has typed for the same held slot
  // stays, or a reason typed a moment ago is silently lost (CI, 2026-12-05).
  let drawnFor = null;
  function renderAction() {
    const slot = state.chosen;
    const key = slot && state.hold && !state.result
      ? `${slot.id}|${state.hold.expires_at}|${state.rescheduling?.id ?? ''}|${Boolean(state.settings?.auto_approve)}` : null;
    const typed = key && key === drawnFor
      ? [...action.querySelectorAll('input[id], textarea[id]')].map((el) => [el.id, el.type === 'checkbox' ? el.checked : el.value])
      : [];
    const focused = action.contains(document.activeElement) ? document.activeElement.id : null;
    drawAction();
    drawnFor = key;
    for (const [id, value] of typed) {
      const el = action.querySelector(`#${CSS.escape(id)}`);
      if (!el) continue;
      if (el.type === 'checkbox') el.checked = value; else el.value = value;
    }
    if (focused) action.querySelector(`#${CSS.escape(focused)}`)?.focus();
  }

  function drawAction() {
    const slot = state.chosen;
    if (state.result) {
      renderResult();
      return;
    }
    if (!slot || !state.hold) {
      action.replaceChildren(state.rescheduling
        ? h('p', { class: 'notice', 'data-testid': 'resched-banner' }, t('sched.resched.pick', { number: state.rescheduling.case_number }))
        : h('p', { class: 'hint' }, t('sched.pickSlot')));
      return;
    }
    const minutes = Math.max(1, Math.round((Date.parse(state.hold.expires_at) - Date.now()) / 60000));
    const what = `${slot.court.name} ${slot.host_room.name} ${formatDay(slot.starts_at)} ${formatTimeRange(slot.starts_at, slot.ends_at)}`;
    const notice = h('p', { class: 'notice', 'data-testid': 'hold-notice', tabindex: '-1' },
      t('sched.held', { what, minutes, until: formatTime(state.hold.expires_at) }));
    if (state.rescheduling) {
      const reason = h('textarea', { id: 'resched-reason', 'data-testid': 'resched-reason', rows: '2', maxlength: '500' });
      const go = h('button', { type: 'button', class: 'primary', 'data-testid': 'resched-submit', onclick: () => reschedule(reason.value) }, t('sched.resched.submit'));
      action.replaceChildren(notice, h('p', {}, t('sched.resched.for', { number: state.rescheduling.case_number })),
        field('resched-reason', 'sched.reason', reason), h('div', { class: 'button-row' }, go, cancelButton()));
      texts();
      return;
    }
    if (state.settings?.auto_approve) {
      action.replaceChildren(notice, h('p', { class: 'hint' }, t('sched.auto')),
        h('div', { class: 'button-row' },
          h('button', { type: 'button', class: 'primary', 'data-testid': 'sched-book', onclick: book }, t('sched.book')),
          cancelButton()));
      return;
    }
    // The host court reviews: an application with the reason and the facts.
    const reason = h('textarea', { id: 'apply-reason', 'data-testid': 'apply-reason', rows: '3', maxlength: '2000' });
    const check = (id, key) => h('div', { class: 'check' },
      h('input', { type: 'checkbox', id, 'data-testid': id }), h('label', { for: id }, t(key)));
    const note = h('input', { type: 'text', id: 'apply-note', 'data-testid': 'apply-note', maxlength: '500' });
    const form = h('form', { class: 'stack', 'data-testid': 'apply-form', novalidate: true },
      notice, h('p', { class: 'hint' }, t('sched.review')),
      field('apply-reason', 'sched.reason', reason),
      preferredFieldset(slot),
      h('fieldset', {}, h('legend', {}, t('sched.facts')),
        // No box claims the high court's review: the rule reads it from the case's records
        // (docs/scheduling.md), so a tick would change nothing and mislead.
        h('p', { class: 'hint', 'data-testid': 'facts-from-records' }, t('sched.facts.fromRecords')),
        check('fact-joint', 'sched.facts.joint'),
        field('apply-note', 'sched.facts.note', note)),
      h('div', { class: 'button-row' },
        h('button', { type: 'submit', class: 'primary', 'data-testid': 'apply-submit' }, t('sched.apply')), cancelButton()));
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      apply({
        reason: reason.value.trim(),
        facts: { joint_with_high_court: $('#fact-joint', form).checked, note: note.value.trim() },
      });
    });
    action.replaceChildren(form);
    texts();
  }

  // An application names up to 10 preferred slots in order (the API's `preferred`): the held
  // one first, then others picked from the calendar's open slots (any week), each movable up or
  // down and removable, by keyboard as by mouse.
  const MAX_PREFERRED = 10;
  const slotWords = (x) => `${x.court.name} ${x.host_room.name} ${formatDay(x.starts_at)} ${formatTimeRange(x.starts_at, x.ends_at)}`;
  function preferredFieldset(held) {
    const box = h('fieldset', { class: 'preferred', 'data-testid': 'pref-fieldset' });
    const draw = (focusId) => {
      const picked = state.alsoPreferred;
      const list = h('ol', { class: 'pref-list', 'data-testid': 'pref-list' },
        h('li', { 'data-testid': 'pref-item', 'data-slot-id': held.id, 'data-from': held.starts_at }, slotWords(held), ' ', h('span', { class: 'badge' }, t('sched.prefs.held'))),
        ...picked.map((p, i) => {
          const move = (delta) => {
            const list2 = [...picked];
            [list2[i], list2[i + delta]] = [list2[i + delta], list2[i]];
            state.alsoPreferred = list2;
            draw(`pref-${delta < 0 ? 'up' : 'down'}-${p.id}`);
          };
          const button = (kind, key, onclick, disabled) => h('button', {
            type: 'button', class: 'secondary small', id: `pref-${kind}-${p.id}`, 'data-testid': `pref-${kind}`, 'data-slot-id': p.id,
            'aria-label': t(`sched.prefs.${kind}Label`, { slot: slotWords(p) }), disabled, onclick,
          }, t(key));
          return h('li', { 'data-testid': 'pref-item', 'data-slot-id': p.id, 'data-from': p.starts_at }, slotWords(p), ' ',
            button('up', 'sched.prefs.up', () => move(-1), i === 0),
            button('down', 'sched.prefs.down', () => move(1), i === picked.length - 1),
            button('remove', 'sched.prefs.remove', () => {
              state.alsoPreferred = picked.filter((x) => x.id !== p.id);
              draw('pref-add');
            }, false));
        }));
      const taken = new Set([held.id, ...picked.map((p) => p.id)]);
      const free = state.slots.filter((x) => String(x.court.id) === String(held.court.id) && !taken.has(x.id)
        && Date.parse(x.starts_at) > Date.now());
      const full = picked.length + 1 >= MAX_PREFERRED;
      const select = h('select', { id: 'pref-add', 'data-testid': 'pref-add', disabled: full || !free.length },
        h('option', { value: '' }, t(free.length ? 'sched.prefs.choose' : 'sched.prefs.noneThisWeek')),
        ...free.map((x) => h('option', { value: String(x.id) }, slotWords(x))));
      const add = () => {
        const slot = free.find((x) => String(x.id) === select.value);
        if (!slot || full) return;
        state.alsoPreferred = [...picked, slot];
        draw('pref-add');
        announce(t('sched.prefs.added', { slot: slotWords(slot), n: state.alsoPreferred.length + 1 }));
      };
      select.addEventListener('keydown', (e) => {
        if (e.key === 'Enter') {
          e.preventDefault();
          add();
        }
      });
      box.replaceChildren(...[h('legend', {}, t('sched.prefs.legend')),
        h('p', { class: 'hint' }, t('sched.prefs.hint')), list,
        full ? h('p', { class: 'hint', 'data-testid': 'pref-full' }, t('sched.prefs.full')) : null,
        h('div', { class: 'field' }, h('label', { for: 'pref-add' }, t('sched.prefs.addLabel')),
          h('div', { class: 'button-row' }, select,
            h('button', { type: 'button', class: 'secondary', id: 'pref-add-button', 'data-testid': 'pref-add-button', disabled: full || !free.length, onclick: add }, t('sched.prefs.add'))))].filter(Boolean));
      if (focusId) (box.querySelector(`#${CSS.escape(focusId)}:not([disabled])`) || box.querySelector('#pref-add:not([disabled])') || box.querySelector('legend'))?.focus();
    };
    draw();
    return box;
  }

  function cancelButton() {
    return h('button', {
      type: 'button', class: 'secondary', 'data-testid': 'sched-let-go',
      onclick: () => {
        if (state.hold) api(`/holds/${encodeURIComponent(state.hold.slot_id)}`, { method: 'DELETE' }).catch(() => {});
        state.hold = null;
        state.chosen = null;
        state.rescheduling = null;
        state.alsoPreferred = [];
        renderWeekView(true);
        renderAction();
      },
    }, t('sched.letGo'));
  }

  function needs() {
    if (!state.caseId) return ['sched.needCase', caseSel];
    if (!state.roomId) return ['coord.book.needRoom', roomSel];
    return null;
  }

  const byId = (list, id) => list.find((x) => String(x.id) === String(id))?.id ?? Number(id);

  async function book() {
    clearError(err);
    const missing = needs();
    if (missing) {
      showMessage(err, missing[0]);
      missing[1].focus();
      return;
    }
    const body = { slot_id: state.chosen.id, case_id: byId(state.cases, state.caseId), local_room_id: byId(state.rooms, state.roomId) };
    const key = state.attemptKey;
    try {
      const booking = await withReauth(user, () => api('/bookings', { method: 'POST', body, headers: { 'Idempotency-Key': key } }));
      done({ booking });
    } catch (e) {
      fail(err, e, 'book');
      if (['slot_taken', 'slot_withdrawn', 'slot_past'].includes(e.code)) loadWeek();
    }
  }

  async function apply({ reason, facts }) {
    clearError(err);
    const missing = needs() || (reason.length < 2 ? ['sched.needReason', $('#apply-reason', action)] : null);
    if (missing) {
      showMessage(err, missing[0]);
      missing[1].focus();
      return;
    }
    const slot = state.chosen;
    const body = {
      case_id: byId(state.cases, state.caseId), host_court_id: slot.court.id, local_room_id: byId(state.rooms, state.roomId),
      preferred: [slot, ...state.alsoPreferred].slice(0, MAX_PREFERRED).map((p) => ({ from: p.starts_at, to: p.ends_at })),
      reason, facts, slot_id: slot.id,
    };
    // A joint reception names the high court above this court as the second court (联合接访).
    const high = state.courts.find((c) => c.level === 'high' && c.id !== slot.court.id);
    if (facts.joint_with_high_court && high) body.joint_court_id = high.id;
    const key = state.attemptKey;
    try {
      const answer = await withReauth(user, () => api('/applications', { method: 'POST', body, headers: { 'Idempotency-Key': key } }));
      done({ application: answer.application, booking: answer.booking });
    } catch (e) {
      fail(err, e, 'apply');
    }
  }

  async function reschedule(reason) {
    clearError(err);
    if (reason.trim().length < 2) {
      showMessage(err, 'sched.needReason');
      $('#resched-reason', action)?.focus();
      return;
    }
    const b = state.rescheduling;
    try {
      const { etag } = await apiWithEtag(`/bookings/${encodeURIComponent(b.id)}`);
      const key = state.attemptKey;
      const booking = await withReauth(user, () => api(`/bookings/${encodeURIComponent(b.id)}/reschedule`, {
        method: 'POST', body: { slot_id: state.chosen.id, reason: reason.trim() }, headers: { 'If-Match': etag, 'Idempotency-Key': key },
      }));
      state.bookings.delete(b.id);
      done({ booking: booking.booking || booking });
    } catch (e) {
      fail(err, e, 'book');
    }
  }

  function done({ booking, application }) {
    state.result = { booking, application, slot: state.chosen };
    state.alsoPreferred = [];
    state.hold = null;
    state.chosen = null;
    state.rescheduling = null;
    if (booking?.id) state.bookings.set(booking.id, { ...booking });
    renderResult();
    action.querySelector('[data-testid=sched-result]')?.focus();
    announce(t(booking ? 'sched.result.booked' : 'sched.result.applied'));
    loadWeek();
    loadLists();
    if (booking && onBooked) onBooked(booking);
  }

  function noticeLink(bookingId) {
    // The same tab: the staff login lives in this tab's sessionStorage.
    return h('a', { href: `notice.html#booking=${encodeURIComponent(bookingId)}`, class: 'button-link', 'data-testid': 'notice-link', 'data-booking-id': bookingId }, t('sched.notice'));
  }

  // The booking made: the join code and the join link (to copy into a message), whom to call at
  // the host court (its directory, whole while the booking is live), and the notice to print.
  function renderResult() {
    const { booking, application, slot } = state.result;
    const when = booking ? `${formatDay(booking.starts_at)} ${formatTimeRange(booking.starts_at, booking.ends_at)}` : '';
    const link = booking?.join_path ? new URL(booking.join_path, location.origin).href : '';
    const joinLink = link ? h('a', { href: link, class: 'join-link', 'data-testid': 'sched-join-link', target: '_blank', rel: 'noopener' }, link) : null;
    const copyStatus = h('p', { class: 'hint', role: 'status', 'data-testid': 'sched-copy-status' });
    const copy = joinLink ? h('button', {
      type: 'button', class: 'secondary', 'data-testid': 'sched-copy-link',
      onclick: async () => {
        try {
          await navigator.clipboard.writeText(link);
          copyStatus.textContent = t('coord.result.copied');
        } catch {
          // No clipboard access (plain http on an intranet): select the text for Ctrl+C.
          const range = document.createRange();
          range.selectNodeContents(joinLink);
          const selection = getSelection();
          selection.removeAllRanges();
          selection.addRange(range);
          copyStatus.textContent = t('coord.result.copyManual');
        }
      },
    }, t('coord.result.copy')) : null;
    // The directory is fetched once per result and kept with it: the week and the lists are
    // loaded again right after a booking, and each redraw must show the persons at once, not
    // blank them until a second fetch answers.
    const result = state.result;
    const contacts = h('div', { 'data-testid': 'sched-result-contacts' });
    if (result.directory) {
      contacts.replaceChildren(contactsLines([result.directory]) || '');
    } else if (booking && slot?.court?.id && !result.directoryAsked) {
      result.directoryAsked = true;
      api(`/courts/${encodeURIComponent(slot.court.id)}/directory`)
        .then((d) => {
          result.directory = d;
          if (state.result !== result) return;
          action.querySelector('[data-testid=sched-result-contacts]')?.replaceChildren(contactsLines([d]) || '');
        })
        .catch(() => { result.directoryAsked = false; });
    }
    // An id, so that the focus stays on it when the action panel is drawn again (renderAction).
    action.replaceChildren(h('section', { id: 'sched-result', class: 'card result', 'data-testid': 'sched-result', tabindex: '-1', 'data-booking-id': booking?.id ?? '' },
      h('h3', {}, t(booking ? 'sched.result.booked' : 'sched.result.applied')),
      booking ? h('p', {}, t('sched.result.when', { when, where: slot ? `${slot.court.name} ${slot.host_room.name}` : '' })) : null,
      booking ? contacts : null,
      booking?.join_code ? [h('p', { class: 'label' }, t('coord.result.code')), h('p', { class: 'join-code', 'data-testid': 'sched-join-code' }, booking.join_code)] : null,
      joinLink ? [h('p', { class: 'label' }, t('coord.result.link')), h('div', { class: 'copy-row' }, joinLink, copy), copyStatus,
        h('p', { class: 'hint' }, t('coord.result.once'))] : null,
      application && !booking ? h('p', {}, t('sched.result.wait', { court: application.host_court_name })) : null,
      h('div', { class: 'button-row' },
        booking ? noticeLink(booking.id) : null,
        h('button', { type: 'button', class: 'secondary', 'data-testid': 'sched-result-again', onclick: () => { state.result = null; renderAction(); } }, t('sched.result.again')))));
  }

  // ---- the court's applications and bookings ----
  async function loadLists() {
    try {
      // The court's bookings from yesterday on, in the order they take place (GET /bookings),
      // and its applications.
      const since = shanghaiDay(new Date(Date.now() - 86400000));
      const [applications, page] = await Promise.all([api('/applications'), api(`/bookings?from=${since}&limit=200`)]);
      state.apps = applications;
      state.bookings = new Map(page.items.map((b) => [b.id, b]));
      clearError(listErr);
      renderLists();
    } catch (e) {
      fail(listErr, e);
    }
  }

  // The proposal in words: the court, the room, the day and the time (never an id).
  function proposalWords(a) {
    return `${a.host_court_name} ${a.proposed_room_name} ${formatDay(a.proposed_starts_at)} ${formatTimeRange(a.proposed_starts_at, a.proposed_ends_at)}`;
  }

  function renderLists() {
    // The field or button that had the focus gets it back once drawn again: the same id, or the
    // same test id in the same application or booking.
    const had = [apps, bookings].some((part) => part.contains(document.activeElement)) ? document.activeElement : null;
    const item = had?.closest('li[data-testid]');
    const again = had?.id ? `#${CSS.escape(had.id)}`
      : item && had.dataset.testid ? `li[data-testid=${item.dataset.testid}][data-${item.dataset.bookingId ? 'booking' : 'app'}-id="${item.dataset.bookingId || item.dataset.appId}"] [data-testid=${had.dataset.testid}]`
        : null;
    drawLists();
    if (again) (apps.querySelector(again) || bookings.querySelector(again))?.focus();
  }

  function drawLists() {
    apps.replaceChildren(...(state.apps.length ? state.apps.map((a) => h('li', {
      class: `card app-item status-${a.status}`, 'data-testid': 'app-item', 'data-app-id': a.id, 'data-status': a.status,
    },
    h('p', {}, h('strong', {}, a.case_number), ' → ', a.host_court_name, ' ',
      h('span', { class: 'badge', 'data-testid': 'app-status' }, tEnum('app.status', a.status))),
    a.preferred?.length ? h('div', { class: 'app-preferred' }, h('p', { class: 'label' }, t('sched.apps.preferred')),
      h('ol', { 'data-testid': 'app-preferred' }, a.preferred.map((p) => h('li', { 'data-from': p.from }, `${formatDay(p.from)} ${formatTimeRange(p.from, p.to)}`)))) : null,
    a.decision_note ? h('p', { 'data-testid': 'app-note' }, t('sched.apps.note', { note: a.decision_note })) : null,
    a.status === 'proposed' && a.proposed_starts_at ? h('p', { 'data-testid': 'app-proposal' }, t('sched.apps.proposed', { slot: proposalWords(a) })) : null,
    appActions(a))) : [h('li', { class: 'empty' }, t('sched.apps.none'))]));
    const since = Date.now() - 86400000;
    const live = [...state.bookings.values()].filter((b) => b.status && Date.parse(b.ends_at) > since).sort((a, b) => String(a.starts_at).localeCompare(String(b.starts_at)));
    bookings.replaceChildren(...(live.length ? live.map((b) => h('li', {
      class: `card booking-item${b.needs_move && b.status === 'booked' ? ' needs-move' : ''}`, 'data-testid': 'booking-item', 'data-booking-id': b.id, 'data-status': b.status,
    },
    h('p', {}, h('strong', {}, b.case_number || ''), ' ', `${formatDay(b.starts_at)} ${formatTimeRange(b.starts_at, b.ends_at)}`, ' ',
      h('span', { class: 'badge' }, tEnum('booking.status', b.status)),
      b.needs_move && b.status === 'booked' ? h('span', { class: 'badge risk' }, t('sched.needsMove')) : null),
    b.cancel_reason ? h('p', { class: 'hint' }, t('sched.cancelled', { reason: b.cancel_reason })) : null,
    b.status === 'booked' ? bookingActions(b) : null)) : [h('li', { class: 'empty' }, t('sched.bookings.none'))]));
  }

  function appActions(a) {
    if (!OPEN.includes(a.status)) return null;
    const box = h('div', { class: 'alert', role: 'alert', hidden: true });
    const act = (testid, key, fn, cls = 'secondary') => h('button', { type: 'button', class: cls, 'data-testid': testid, 'data-app-id': a.id, onclick: fn }, t(key));
    const answer = async (body) => {
      clearError(box);
      try {
        const { etag } = await apiWithEtag(`/applications/${encodeURIComponent(a.id)}`);
        const result = await withReauth(user, () => api(`/applications/${encodeURIComponent(a.id)}/answer`, { method: 'POST', body, headers: { 'If-Match': etag } }));
        if (result?.booking?.id) state.bookings.set(result.booking.id, result.booking);
        // The "application sent" box above is history now.
        if (state.result?.application?.id === a.id) {
          state.result = null;
          renderAction();
        }
        announce(t('sched.apps.answered'));
        await loadLists();
        if (result?.booking && onBooked) onBooked(result.booking);
      } catch (e) {
        fail(box, e, 'apply');
      }
    };
    const buttons = [];
    if (a.status === 'proposed') buttons.push(act('app-accept', 'sched.apps.accept', () => answer({ action: 'accept' }), 'primary'));
    if (a.status === 'more_info') {
      buttons.push(act('app-amend', 'sched.apps.amend', () => {
        const reason = h('textarea', { id: `amend-${a.id}`, rows: '3', 'data-testid': 'amend-reason' });
        reason.value = a.reason || '';
        const form = h('form', { class: 'stack', novalidate: true },
          h('div', { class: 'field' }, h('label', { for: `amend-${a.id}` }, t('sched.reason')), reason),
          h('button', { type: 'submit', class: 'primary', 'data-testid': 'amend-submit' }, t('sched.apps.amendSend')));
        form.addEventListener('submit', (e) => {
          e.preventDefault();
          answer({ action: 'amend', reason: reason.value.trim(), facts: a.facts || {}, preferred: a.preferred || [] });
        });
        box.before(form);
        reason.focus();
      }));
    }
    buttons.push(act('app-withdraw', 'sched.apps.withdraw', () => answer({ action: 'withdraw' })));
    return [h('div', { class: 'button-row' }, buttons), box];
  }

  function bookingActions(b) {
    const box = h('div', { class: 'alert', role: 'alert', hidden: true });
    const reason = h('input', { type: 'text', id: `cancel-reason-${b.id}`, 'data-testid': 'cancel-reason', maxlength: '500' });
    const draft = state.cancelDrafts.get(b.id) || { reason: '', say: null };
    state.cancelDrafts.set(b.id, draft);
    reason.value = draft.reason;
    reason.addEventListener('input', () => { draft.reason = reason.value; });
    if (draft.say) showMessage(box, draft.say);
    const cancel = async () => {
      clearError(box);
      draft.say = null;
      if (reason.value.trim().length < 2) {
        draft.say = 'sched.needReason';
        showMessage(box, draft.say);
        reason.focus();
        return;
      }
      try {
        const { etag } = await apiWithEtag(`/bookings/${encodeURIComponent(b.id)}`);
        await withReauth(user, () => api(`/bookings/${encodeURIComponent(b.id)}/cancel`, { method: 'POST', body: { reason: reason.value.trim() }, headers: { 'If-Match': etag } }));
        state.cancelDrafts.delete(b.id);
        announce(t('sched.cancelDone'));
        // The join code shown above belonged to this booking: it no longer works.
        if (state.result?.booking?.id === b.id) {
          state.result = null;
          renderAction();
        }
        await loadLists();
        loadWeek();
      } catch (e) {
        fail(box, e, 'book');
      }
    };
    return [
      h('div', { class: 'field' }, h('label', { for: `cancel-reason-${b.id}` }, t('sched.cancelReason')), reason),
      h('div', { class: 'button-row' },
        noticeLink(b.id),
        h('button', { type: 'button', class: 'secondary', 'data-testid': 'booking-cancel', onclick: cancel }, t('sched.cancel')),
        h('button', {
          type: 'button', class: 'secondary', 'data-testid': 'booking-reschedule',
          onclick: () => {
            state.rescheduling = b;
            state.courtId = String(b.host_court_id);
            state.result = null;
            renderAction();
            loadWeek().then(() => renderWeekView(true));
          },
        }, t('sched.reschedule'))),
      box];
  }

  /** The case chosen elsewhere on the page (the case list) becomes this panel's case. */
  // The case chosen in the case list; one opened since the page loaded is fetched first.
  function setCase(id) {
    state.caseId = String(id);
    caseSel.value = state.caseId;
    if (caseSel.value !== state.caseId) {
      api('/cases').then((cases) => {
        state.cases = cases;
        renderSelects();
        renderAction();
      }).catch((e) => fail(err, e));
    }
  }

  onLangChange(() => {
    texts();
    renderSelects();
    loadWeek();
    renderAction();
    renderLists();
  });
  texts();
  renderAction();
  loadChoices();
  loadLists();
  // A notification arriving must not wipe what the coordinator is doing: an open answer, cancel
  // or reschedule form in the lists, or the keyboard focus in the week calendar, keeps its part
  // of the page as it is until the next refresh.
  const busy = (part) => Boolean(part.querySelector('form')) || part.contains(document.activeElement);
  return {
    setCase,
    reload: () => {
      if (!busy(week)) loadWeek();
      if (!busy(apps) && !busy(bookings)) loadLists();
    },
  };
}
