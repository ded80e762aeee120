// The host court's scheduling on officer.html: the review queue of applications (approve into a
// free slot, propose another slot with a note, ask for more material, reject with a reason), the
// week calendar of a reception room with its bookings (a booking flagged `needs_move` by a
// schedule change is highlighted and moved from here), the room's weekly template and its date
// overrides. Updates send the If-Match of a fresh GET; refusals are shown in words.
import { t, tEnum, onLangChange, formatDay, formatTimeRange } from './i18n.js';
import { api, apiWithEtag } from './api.js';
import { h, showError, showMessage, clearError, handleAuthError, announce, withReauth } from './ui.js';
import { renderWeek, mondayOf, addDays, beijingMidnight } from './slotcalendar.js';

export const CATEGORIES = ['criminal', 'civil', 'administrative', 'enforcement', 'compensation', 'other'];
const WEEKDAYS = [1, 2, 3, 4, 5];

export function mountOfficerSchedule(root, { user, canEdit }) {
  const state = {
    rooms: [], roomId: '', monday: mondayOf(), calendar: [], free: [], queue: [],
    picked: null, template: null, etag: null, overrides: [],
  };
  const field = (id, label, control) => h('div', { class: 'field' }, h('label', { for: id }, label), control);
  const fail = (box, e, context) => { if (!handleAuthError(e)) showError(box, e, context); };

  const queueBox = h('section', { class: 'panel', 'data-testid': 'review-queue', 'aria-labelledby': 'queue-heading' });
  const calBox = h('section', { class: 'panel', 'data-testid': 'room-calendar', 'aria-labelledby': 'roomcal-heading' });
  const tplBox = h('section', { class: 'panel', 'data-testid': 'template-editor', 'aria-labelledby': 'tpl-heading', hidden: !canEdit });
  const ovBox = h('section', { class: 'panel', 'data-testid': 'overrides', 'aria-labelledby': 'ov-heading', hidden: !canEdit });
  root.replaceChildren(queueBox, calBox, tplBox, ovBox);

  const slotWords = (s) => `${s.room} ${formatDay(s.starts_at)} ${formatTimeRange(s.starts_at, s.ends_at)}`;

  // ---- free slots of every room (for approving and proposing) ----
  async function loadFree() {
    const from = new Date().toISOString();
    const lists = await Promise.all(state.rooms.map(async (r) => (await api(`/host-rooms/${r.id}/calendar?from=${encodeURIComponent(from)}`))
      .map((s) => ({ ...s, room: r.name, room_id: r.id }))));
    state.free = lists.flat().filter((s) => !s.withdrawn && !s.booking_id && Date.parse(s.starts_at) > Date.now())
      .sort((a, b) => a.starts_at.localeCompare(b.starts_at));
  }

  // ---- the review queue ----
  const queueErr = h('div', { class: 'alert', role: 'alert', hidden: true });
  async function loadQueue() {
    try {
      state.queue = await api('/applications?status=pending');
      await loadFree();
      clearError(queueErr);
    } catch (e) {
      fail(queueErr, e);
    }
    renderQueue();
  }

  function renderQueue() {
    queueBox.replaceChildren(
      h('div', { class: 'panel-head' }, h('h2', { id: 'queue-heading' }, t('review.heading')),
        h('button', { type: 'button', class: 'secondary', 'data-testid': 'queue-refresh', onclick: loadQueue }, t('common.refresh'))),
      queueErr,
      state.queue.length
        ? h('ul', { class: 'review-list' }, state.queue.map(reviewItem))
        : h('p', { class: 'empty', 'data-testid': 'queue-empty' }, t('review.none')));
  }

  function reviewItem(a) {
    const facts = a.facts || {};
    const box = h('div', { class: 'alert', role: 'alert', hidden: true, 'data-testid': 'review-error' });
    // In the coordinator's order of preference.
    const preferred = (a.preferred || []).length
      ? h('ol', { class: 'pref-list', 'data-testid': 'review-preferred' }, a.preferred.map((p) => h('li', { 'data-from': p.from }, `${formatDay(p.from)} ${formatTimeRange(p.from, p.to)}`)))
      : null;
    const inPreferred = (s) => (a.preferred || []).some((p) => s.starts_at >= p.from && s.ends_at <= p.to);
    const slotSel = h('select', { id: `review-slot-${a.id}`, 'data-testid': 'review-slot' },
      h('option', { value: '' }, t('review.slot.choose')),
      state.free.map((s) => h('option', { value: String(s.slot_id), 'data-in-preferred': String(inPreferred(s)) },
        `${slotWords(s)}${inPreferred(s) ? ` ★ ${t('review.slot.preferred')}` : ''}`)));
    const first = state.free.find(inPreferred);
    if (first) slotSel.value = String(first.slot_id);
    const note = h('textarea', { id: `review-note-${a.id}`, 'data-testid': 'review-note', rows: '2', maxlength: '500' });
    const decide = async (body) => {
      clearError(box);
      try {
        const { etag } = await apiWithEtag(`/applications/${encodeURIComponent(a.id)}`);
        await withReauth(user, () => api(`/applications/${encodeURIComponent(a.id)}/review`, { method: 'POST', body, headers: { 'If-Match': etag } }));
        announce(t('review.done'));
        await loadQueue();
        loadCalendar();
      } catch (e) {
        fail(box, e, 'review');
      }
    };
    const needSlot = (fn) => () => {
      if (!slotSel.value) { showMessage(box, 'review.needSlot'); slotSel.focus(); return; }
      fn(Number(slotSel.value));
    };
    const needNote = (fn) => () => {
      if (note.value.trim().length < 2) { showMessage(box, 'review.needNote'); note.focus(); return; }
      fn(note.value.trim());
    };
    const b = (testid, key, fn, cls = 'secondary') => h('button', { type: 'button', class: cls, 'data-testid': testid, 'data-app-id': a.id, onclick: fn }, t(key));
    return h('li', { class: 'card review-item', 'data-testid': 'review-item', 'data-app-id': a.id, 'data-case-number': a.case_number },
      h('p', {}, h('strong', {}, a.case_number), ' · ', a.local_court_name),
      h('dl', { class: 'facts' },
        h('dt', {}, t('review.reason')), h('dd', {}, a.reason || '—'),
        h('dt', {}, t('review.preferred')), h('dd', {}, preferred || '—'),
        h('dt', {}, t('sched.facts')), h('dd', { 'data-testid': 'review-facts' }, [
          facts.joint_with_high_court ? t('sched.facts.joint') : null,
          facts.note || null].filter(Boolean).join('；') || t('review.noFacts'))),
      canEdit ? [
        field(`review-slot-${a.id}`, t('review.slot'), slotSel),
        field(`review-note-${a.id}`, t('review.note'), note),
        h('div', { class: 'button-row' },
          b('review-approve', 'review.approve', needSlot((slot) => decide({ action: 'approve', slot_id: slot })), 'primary'),
          b('review-propose', 'review.propose', needSlot((slot) => needNote((n) => decide({ action: 'propose', slot_id: slot, note: n }))())),
          b('review-more', 'review.more', needNote((n) => decide({ action: 'more_info', note: n }))),
          b('review-reject', 'review.reject', needNote((r) => decide({ action: 'reject', reason: r })), 'danger')),
        box] : null);
  }

  // ---- a room's week ----
  const calErr = h('div', { class: 'alert', role: 'alert', hidden: true, 'data-testid': 'roomcal-error' });
  const roomSel = h('select', {
    id: 'room-pick', 'data-testid': 'room-pick',
    onchange: (e) => { state.roomId = e.target.value; state.picked = null; loadRoom(); },
  });
  const week = h('div', { class: 'week', 'data-testid': 'room-week' });
  const detail = h('div', { 'data-testid': 'room-slot-detail', 'aria-live': 'polite' });
  const weekLabel = h('span', { class: 'week-label', 'data-testid': 'room-week-label' });
  const nav = (testid, key, delta) => h('button', {
    type: 'button', class: 'secondary', 'data-testid': testid,
    onclick: () => { state.monday = delta === 0 ? mondayOf() : addDays(state.monday, delta); loadCalendar(); },
  }, t(key));

  function renderCalShell() {
    roomSel.replaceChildren(...state.rooms.map((r) => h('option', { value: String(r.id) }, r.name)));
    roomSel.value = state.roomId;
    calBox.replaceChildren(
      h('h2', { id: 'roomcal-heading' }, t('roomcal.heading')),
      field('room-pick', t('roomcal.room'), roomSel),
      h('div', { class: 'button-row week-nav' }, nav('room-prev', 'cal.week.prev', -7), weekLabel, nav('room-next', 'cal.week.next', 7), nav('room-this', 'cal.week.this', 0)),
      calErr, week, detail);
  }

  async function loadCalendar() {
    weekLabel.textContent = t('cal.week.label', { from: formatDay(`${state.monday}T12:00:00+08:00`), to: formatDay(`${addDays(state.monday, 6)}T12:00:00+08:00`) });
    if (!state.roomId) return;
    try {
      state.calendar = await api(`/host-rooms/${state.roomId}/calendar?from=${encodeURIComponent(beijingMidnight(state.monday))}&to=${encodeURIComponent(beijingMidnight(addDays(state.monday, 7)))}`);
      clearError(calErr);
      drawCalendar();
    } catch (e) {
      fail(calErr, e);
    }
  }

  function drawCalendar() {
    renderWeek(week, {
      monday: state.monday,
      caption: t('roomcal.heading'),
      emptyKey: 'roomcal.none',
      focusId: state.picked?.slot_id,
      items: state.calendar.map((s) => {
        const status = s.booking_id ? (s.needs_move ? 'move' : 'booked') : s.withdrawn ? 'withdrawn' : 'free';
        return {
          id: s.slot_id, starts_at: s.starts_at, ends_at: s.ends_at,
          text: formatTimeRange(s.starts_at, s.ends_at),
          sub: s.booking_id ? `${s.case_number} · ${s.local_court_name}${s.needs_move ? ` · ${t('roomcal.needsMove')}` : ''}`
            : [t(`roomcal.status.${status}`), s.theme ? tEnum('case.category', s.theme) : ''].filter(Boolean).join(' · '),
          cls: `cal-${status}`,
          attrs: { 'data-testid': 'room-slot', 'data-status': status, 'data-booking-id': s.booking_id ?? '' },
          slot: s,
        };
      }),
      onChoose: (it) => { state.picked = it.slot; drawDetail(); },
    });
  }

  function drawDetail() {
    const s = state.picked;
    if (!s) { detail.replaceChildren(); return; }
    const box = h('div', { class: 'alert', role: 'alert', hidden: true });
    const parts = [h('p', {}, h('strong', {}, `${formatDay(s.starts_at)} ${formatTimeRange(s.starts_at, s.ends_at)}`), ' ',
      s.booking_id ? `${s.case_number} · ${s.local_court_name}` : t(s.withdrawn ? 'roomcal.status.withdrawn' : 'roomcal.status.free'))];
    if (s.booking_id && canEdit) {
      const target = h('select', { id: 'move-slot', 'data-testid': 'move-slot' }, h('option', { value: '' }, t('review.slot.choose')),
        state.free.filter((f) => f.room_id === Number(state.roomId)).map((f) => h('option', { value: String(f.slot_id) }, slotWords(f))));
      const reason = h('input', { type: 'text', id: 'move-reason', 'data-testid': 'move-reason', maxlength: '500' });
      const move = async () => {
        clearError(box);
        if (!target.value) { showMessage(box, 'review.needSlot'); target.focus(); return; }
        if (reason.value.trim().length < 2) { showMessage(box, 'sched.needReason'); reason.focus(); return; }
        try {
          const { etag } = await apiWithEtag(`/bookings/${s.booking_id}`);
          await withReauth(user, () => api(`/bookings/${s.booking_id}/reschedule`, {
            method: 'POST', body: { slot_id: Number(target.value), reason: reason.value.trim() }, headers: { 'If-Match': etag },
          }));
          announce(t('roomcal.moved'));
          state.picked = null;
          await loadFree();
          loadCalendar();
          detail.replaceChildren(h('p', { class: 'notice', 'data-testid': 'move-done' }, t('roomcal.moved')));
        } catch (e) {
          fail(box, e, 'book');
        }
      };
      parts.push(s.needs_move ? h('p', { class: 'notice' }, t('roomcal.needsMoveHint')) : null,
        field('move-slot', t('roomcal.moveTo'), target), field('move-reason', t('sched.reason'), reason),
        h('button', { type: 'button', class: s.needs_move ? 'primary' : 'secondary', 'data-testid': 'move-booking', onclick: move }, t('roomcal.move')), box);
    }
    detail.replaceChildren(h('div', { class: 'card' }, parts));
  }

  // ---- the weekly template ----
  const tplErr = h('div', { class: 'alert', role: 'alert', hidden: true, 'data-testid': 'tpl-error' });
  const tplStatus = h('p', { class: 'hint', 'data-testid': 'tpl-status', role: 'status' });

  async function loadTemplate() {
    try {
      const { body, etag } = await apiWithEtag(`/host-rooms/${state.roomId}/template`);
      state.etag = etag;
      const byDay = new Map((body.days || []).map((d) => [d.weekday, d]));
      state.template = WEEKDAYS.map((w) => ({
        weekday: w, theme: byDay.get(w)?.theme || '', windows: (byDay.get(w)?.windows || []).map((x) => ({ ...x })),
      }));
      clearError(tplErr);
      drawTemplate();
    } catch (e) {
      fail(tplErr, e, 'template');
    }
  }

  function drawTemplate() {
    if (!state.template) return;
    const num = (id, value, min, max, set, testid) => h('input', {
      type: 'number', id, min, max, step: '5', value: String(value), class: 'num-input', 'data-testid': testid,
      oninput: (e) => set(Number(e.target.value)),
    });
    const time = (id, value, set, testid) => h('input', { type: 'time', id, value, 'data-testid': testid, oninput: (e) => set(e.target.value) });
    tplBox.replaceChildren(
      h('h2', { id: 'tpl-heading' }, t('tpl.heading', { room: state.rooms.find((r) => String(r.id) === state.roomId)?.name || '' })),
      h('p', { class: 'hint' }, t('tpl.intro')),
      ...state.template.map((d) => h('fieldset', { class: 'tpl-day', 'data-testid': 'tpl-day', 'data-weekday': d.weekday },
        h('legend', {}, t(`tpl.weekday.${d.weekday}`)),
        field(`tpl-theme-${d.weekday}`, t('tpl.theme'), (() => {
          const sel = h('select', { id: `tpl-theme-${d.weekday}`, 'data-testid': 'tpl-theme', onchange: (e) => { d.theme = e.target.value; } },
            h('option', { value: '' }, t('tpl.theme.none')), CATEGORIES.map((c) => h('option', { value: c }, tEnum('case.category', c))));
          sel.value = d.theme;
          return sel;
        })()),
        d.windows.length ? null : h('p', { class: 'hint' }, t('tpl.closed')),
        d.windows.map((w, i) => {
          const id = `tpl-${d.weekday}-${i}`;
          return h('div', { class: 'tpl-window', 'data-testid': 'tpl-window' },
            field(`${id}-opens`, t('tpl.opens'), time(`${id}-opens`, w.opens, (v) => { w.opens = v; }, 'tpl-opens')),
            field(`${id}-closes`, t('tpl.closes'), time(`${id}-closes`, w.closes, (v) => { w.closes = v; }, 'tpl-closes')),
            field(`${id}-len`, t('tpl.slot'), num(`${id}-len`, w.slot_minutes, 30, 120, (v) => { w.slot_minutes = v; }, 'tpl-slot')),
            field(`${id}-buf`, t('tpl.buffer'), num(`${id}-buf`, w.buffer_minutes ?? 0, 0, 120, (v) => { w.buffer_minutes = v; }, 'tpl-buffer')),
            h('button', {
              type: 'button', class: 'secondary small', 'data-testid': 'tpl-remove',
              'aria-label': t('tpl.removeLabel', { day: t(`tpl.weekday.${d.weekday}`), n: i + 1 }),
              onclick: () => { d.windows.splice(i, 1); drawTemplate(); },
            }, t('tpl.remove')));
        }),
        h('button', {
          type: 'button', class: 'secondary small', 'data-testid': 'tpl-add',
          onclick: () => {
            d.windows.push({ opens: '09:00', closes: '12:00', slot_minutes: 60, buffer_minutes: 15 });
            drawTemplate();
            tplBox.querySelector(`#tpl-${d.weekday}-${d.windows.length - 1}-opens`)?.focus();
          },
        }, t('tpl.add')))),
      tplErr, tplStatus,
      h('button', { type: 'button', class: 'primary', 'data-testid': 'tpl-save', onclick: saveTemplate }, t('tpl.save')));
  }

  async function saveTemplate() {
    clearError(tplErr);
    const days = state.template.filter((d) => d.windows.length).map((d) => ({
      weekday: d.weekday, theme: d.theme || null, windows: d.windows.map((w) => ({ ...w })),
    }));
    try {
      const saved = await withReauth(user, () => apiWithEtag(`/host-rooms/${state.roomId}/template`, {
        method: 'PUT', body: { days }, headers: { 'If-Match': state.etag || '"v0"' },
      }));
      state.etag = saved.etag || state.etag;
      const p = saved.body.published || {};
      tplStatus.textContent = t('tpl.saved', { added: p.added ?? 0, withdrawn: p.withdrawn ?? 0, flagged: (p.flagged_bookings || []).length });
      announce(tplStatus.textContent);
      await loadTemplate();
      await loadFree();
      loadCalendar();
    } catch (e) {
      fail(tplErr, e, 'template');
      if (e.code === 'precondition_failed') loadTemplate();
    }
  }

  // ---- date overrides ----
  const ovErr = h('div', { class: 'alert', role: 'alert', hidden: true, 'data-testid': 'ov-error' });
  async function loadOverrides() {
    try {
      state.overrides = await api(`/host-rooms/${state.roomId}/overrides`);
      clearError(ovErr);
    } catch (e) {
      fail(ovErr, e, 'template');
    }
    drawOverrides();
  }

  function drawOverrides() {
    const day = h('input', { type: 'date', id: 'ov-day', 'data-testid': 'ov-day' });
    const kind = h('select', { id: 'ov-kind', 'data-testid': 'ov-kind' },
      h('option', { value: 'closed' }, t('ov.kind.closed')), h('option', { value: 'open' }, t('ov.kind.open')));
    const opens = h('input', { type: 'time', id: 'ov-opens', value: '09:00', 'data-testid': 'ov-opens' });
    const closes = h('input', { type: 'time', id: 'ov-closes', value: '12:00', 'data-testid': 'ov-closes' });
    const len = h('input', { type: 'number', id: 'ov-len', value: '60', min: '30', max: '120', step: '5', class: 'num-input' });
    const note = h('input', { type: 'text', id: 'ov-note', maxlength: '200', 'data-testid': 'ov-note' });
    const add = async () => {
      clearError(ovErr);
      if (!day.value) { showMessage(ovErr, 'ov.needDay'); day.focus(); return; }
      const body = { day: day.value, note: note.value.trim() };
      if (kind.value === 'open') body.window = { opens: opens.value, closes: closes.value, slot_minutes: Number(len.value), buffer_minutes: 0 };
      try {
        await withReauth(user, () => api(`/host-rooms/${state.roomId}/overrides`, { method: 'POST', body }));
        announce(t('ov.added'));
        await loadOverrides();
        await loadFree();
        loadCalendar();
      } catch (e) {
        fail(ovErr, e, 'template');
      }
    };
    const remove = async (o) => {
      try {
        await api(`/host-rooms/${state.roomId}/overrides/${o.id}`, { method: 'DELETE' });
        await loadOverrides();
        loadCalendar();
      } catch (e) {
        fail(ovErr, e, 'template');
      }
    };
    ovBox.replaceChildren(h('h2', { id: 'ov-heading' }, t('ov.heading')),
      state.overrides.length ? h('ul', { class: 'ov-list' }, state.overrides.map((o) => h('li', { 'data-testid': 'ov-item' },
        `${o.day} ${o.kind === 'closed' ? t('ov.kind.closed') : `${t('ov.kind.open')} ${o.opens}–${o.closes}`} ${o.note || ''} `,
        h('button', { type: 'button', class: 'secondary small', onclick: () => remove(o), 'aria-label': t('ov.removeLabel', { day: o.day }) }, t('tpl.remove')))))
        : h('p', { class: 'empty' }, t('ov.none')),
      h('div', { class: 'sched-controls' }, field('ov-day', t('ov.day'), day), field('ov-kind', t('ov.kind'), kind),
        field('ov-opens', t('tpl.opens'), opens), field('ov-closes', t('tpl.closes'), closes), field('ov-len', t('tpl.slot'), len),
        field('ov-note', t('ov.note'), note)),
      ovErr, h('button', { type: 'button', class: 'secondary', 'data-testid': 'ov-add', onclick: add }, t('ov.add')));
  }

  async function loadRoom() {
    await loadCalendar();
    if (canEdit) await Promise.all([loadTemplate(), loadOverrides()]);
  }

  async function start() {
    try {
      state.rooms = await api('/host-rooms');
    } catch (e) {
      fail(queueErr, e);
    }
    if (!state.rooms.length) {
      calBox.hidden = true;
      tplBox.hidden = true;
      ovBox.hidden = true;
    }
    state.roomId = state.roomId || String(state.rooms[0]?.id ?? '');
    renderCalShell();
    renderQueue();
    await loadQueue();
    if (state.roomId) await loadRoom();
  }

  onLangChange(() => {
    renderQueue();
    renderCalShell();
    loadCalendar();
    drawDetail();
    drawTemplate();
    if (canEdit) drawOverrides();
  });
  start();
  return { reload: () => { loadQueue(); loadCalendar(); } };
}
