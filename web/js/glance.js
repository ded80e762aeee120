// The coordinator's "today at a glance" (coordinator.html): today's sessions, the cases at risk
// of going to the province or Beijing with no session booked, and the deadlines coming due.
//
// Derived in the browser from existing answers: the cases list (risk, tier, 四包四定 deadline,
// statutory clocks), today's sessions, and the court's own session log
// (/records/sessions: booked sessions from today on) for which cases already have a session.
import { t, tEnum, formatDate, formatTimeRange, shanghaiDay } from './i18n.js';
import { api } from './api.js';
import { h } from './ui.js';

/** Deadlines this many days ahead (or already passed) are "coming due". */
export const DUE_WITHIN_DAYS = 7;
/** How far ahead a booked session counts as "a session booked". */
const BOOKED_AHEAD_DAYS = 90;
const LIVE = 'scheduled,waiting,live,interrupted';

function addDays(day, n) {
  const d = new Date(`${day}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + n);
  return d.toISOString().slice(0, 10);
}

function daysUntil(day) {
  return Math.round((Date.parse(`${day}T00:00:00Z`) - Date.parse(`${shanghaiDay()}T00:00:00Z`)) / 86400000);
}

const showDay = (day) => formatDate(`${day}T00:00:00+08:00`);

/** At risk: flagged (苗头) or a tier-1 (一级) case. */
export function atRisk(c) {
  const flagged = c.escalation_risk && c.escalation_risk !== 'none' && c.escalation_risk !== 'low';
  return Boolean(flagged) || Number(c.tier) === 1;
}

/**
 * `root`: the glance section. `onPickCase(id)` opens a case for booking; `onError(err)` reports a
 * failed load. Feed it with `setCases` and `setSessions`; `refresh()` re-reads the booked sessions.
 */
export function createGlance(root, { onPickCase, onError }) {
  let cases = null;
  let sessions = null;
  let booked = null; // Set of case ids with a session booked from today on; null until known
  let bookedFailed = false;

  async function loadBooked() {
    const today = shanghaiDay();
    const ids = new Set();
    let cursor = null;
    try {
      for (let page = 0; page < 5; page += 1) {
        const q = new URLSearchParams({ from: today, to: addDays(today, BOOKED_AHEAD_DAYS), status: LIVE, limit: '200' });
        if (cursor) q.set('cursor', cursor);
        const answer = await api(`/records/sessions?${q}`);
        for (const r of answer.items) ids.add(r.case_id);
        cursor = answer.next_cursor;
        if (!cursor) break;
      }
      booked = ids;
      bookedFailed = false;
    } catch (err) {
      bookedFailed = true;
      onError(err);
    }
    render();
  }

  function card(testid, headingKey, count, body) {
    return h('section', { class: 'card', 'data-testid': testid, 'aria-labelledby': `${testid}-heading` },
      h('h3', { id: `${testid}-heading` },
        h('span', { class: 'glance-count', 'data-testid': `${testid}-count` }, count === null ? '…' : String(count)),
        h('span', {}, t(headingKey))),
      body);
  }

  function todayCard() {
    if (!sessions) return card('glance-today', 'glance.today.heading', null, h('p', { class: 'muted' }, t('common.loading')));
    const list = [...sessions].sort((a, b) => a.starts_at.localeCompare(b.starts_at));
    return card('glance-today', 'glance.today.heading', list.length, list.length
      ? h('ul', { class: 'glance-list' }, list.map((s) => h('li', { 'data-session-id': s.id },
        h('span', {}, formatTimeRange(s.starts_at, s.ends_at)), ' ',
        h('span', { class: 'case-number' }, s.case_number), ' · ',
        h('span', {}, s.host_court?.name || ''), ' ',
        h('span', { class: `badge status-${s.status}` }, tEnum('session.status', s.status)))))
      : h('p', { class: 'empty' }, t('glance.today.none')));
  }

  function riskCard() {
    if (!cases || (!booked && !bookedFailed)) {
      return card('glance-risk', 'glance.risk.heading', null, h('p', { class: 'muted' }, t('common.loading')));
    }
    if (bookedFailed) {
      return card('glance-risk', 'glance.risk.heading', null, h('p', { class: 'empty' }, t('glance.risk.unknown')));
    }
    const open = cases.filter((c) => atRisk(c) && !booked.has(c.id));
    return card('glance-risk', 'glance.risk.heading', open.length, [
      h('p', { class: 'hint' }, t('glance.risk.hint')),
      open.length
        ? h('ul', { class: 'glance-list' }, open.map((c) => h('li', { 'data-case-id': c.id, 'data-testid': 'glance-risk-item' },
          h('button', {
            type: 'button',
            class: 'secondary small',
            'aria-label': t('glance.risk.bookLabel', { case: c.case_number }),
            onclick: () => onPickCase(c.id),
          }, t('glance.risk.book')), ' ',
          h('span', { class: 'case-number' }, c.case_number), ' ',
          c.escalation_risk ? h('span', { class: 'badge risk' }, t('case.riskBadge')) : null, ' ',
          Number(c.tier) === 1 ? h('span', { class: 'badge' }, t('glance.tier1')) : null,
          h('div', { class: 'muted' }, c.subject || ''))))
        : h('p', { class: 'empty' }, t('glance.risk.none')),
    ]);
  }

  function dueItems() {
    const items = [];
    for (const c of cases || []) {
      const next = c.clocks?.next_due;
      if (next) items.push({ c, day: next, key: 'glance.due.statutory' });
      if (c.deadline) items.push({ c, day: String(c.deadline).slice(0, 10), key: 'glance.due.lead' });
    }
    return items
      .filter((i) => daysUntil(i.day) <= DUE_WITHIN_DAYS)
      .sort((a, b) => a.day.localeCompare(b.day));
  }

  function dueCard() {
    if (!cases) return card('glance-due', 'glance.due.heading', null, h('p', { class: 'muted' }, t('common.loading')));
    const items = dueItems();
    return card('glance-due', 'glance.due.heading', items.length, items.length
      ? h('ul', { class: 'glance-list' }, items.map(({ c, day, key }) => {
        const days = daysUntil(day);
        const when = days < 0 ? t('glance.due.overdue', { days: -days }) : days === 0 ? t('glance.due.today') : t('glance.due.in', { days });
        return h('li', { 'data-case-id': c.id, 'data-testid': 'glance-due-item' },
          h('span', { class: `badge ${days < 0 ? 'overdue' : 'due-soon'}` }, when), ' ',
          h('span', { class: 'case-number' }, c.case_number), ' · ',
          h('span', {}, t(key)), ' ', h('span', {}, showDay(day)));
      }))
      : h('p', { class: 'empty' }, t('glance.due.none', { days: DUE_WITHIN_DAYS })));
  }

  function render() {
    root.replaceChildren(
      h('h2', { id: 'glance-heading' }, t('glance.heading')),
      h('div', { class: 'glance-grid' }, todayCard(), riskCard(), dueCard()));
  }

  render();
  return {
    setCases(list) {
      cases = list;
      render();
    },
    setSessions(list) {
      sessions = list;
      render();
    },
    refresh: loadBooked,
    render,
  };
}
