// Rendering of session summaries and timelines, shared by the staff pages.
import { t, tEnum, formatDay, formatTimeRange, formatDateTime, formatTime } from './i18n.js';
import { h } from './ui.js';

function nameOf(value) {
  if (!value) return '';
  if (typeof value === 'string') return value;
  return value.name || value.display_name || value.id || '';
}

/** One session as a list item; `actions(session)` returns buttons to put on it. */
export function sessionItem(session, actions) {
  const status = h('span', { class: `badge status-${session.status}`, 'data-testid': 'session-status' },
    tEnum('session.status', session.status));
  const when = h('span', { class: 'session-when' },
    `${formatDay(session.starts_at)} ${formatTimeRange(session.starts_at, session.ends_at)}`);
  const lines = [
    h('p', { class: 'session-head' }, when, ' ', status),
    h('p', {}, h('span', { class: 'label' }, t('session.case')), ' ', h('strong', {}, session.case_number || '')),
    h('p', {}, h('span', { class: 'label' }, t('session.host')), ' ',
      [nameOf(session.host_court), nameOf(session.host_room)].filter(Boolean).join(' · ')),
    h('p', {}, h('span', { class: 'label' }, t('session.local')), ' ',
      [nameOf(session.local_court), nameOf(session.local_room)].filter(Boolean).join(' · ')),
  ];
  if (session.status === 'ended' && session.outcome) {
    lines.push(h('p', {}, h('span', { class: 'label' }, t('session.outcome')), ' ',
      tEnum('outcome', session.outcome), session.outcome_note ? ` — ${session.outcome_note}` : ''));
  }
  const buttons = actions ? actions(session).filter(Boolean) : [];
  return h('li', { class: 'session-item card', 'data-testid': 'session-item', 'data-session-id': session.id },
    h('div', { class: 'session-body' }, lines),
    buttons.length ? h('div', { class: 'session-actions' }, buttons) : null);
}

export function renderSessionList(list, sessions, actions, emptyKey = 'sessions.none') {
  const sorted = [...sessions].sort((a, b) => String(a.starts_at).localeCompare(String(b.starts_at)));
  if (!sorted.length) {
    list.replaceChildren(h('li', { class: 'empty' }, t(emptyKey)));
    return;
  }
  list.replaceChildren(...sorted.map((s) => sessionItem(s, actions)));
}

function eventText(event, who) {
  const data = event.data && typeof event.data === 'object' ? event.data : {};
  switch (event.kind) {
    case 'chat':
      return data.text || '';
    case 'admitted':
      return data.by ? t('timeline.admittedBy', { name: who(data.by) }) : '';
    case 'removed':
      return data.by ? t('timeline.removedBy', { name: who(data.by) }) : '';
    case 'mute_requested':
      return t(data.kind === 'video' ? 'timeline.muteRequested.video' : 'timeline.muteRequested.audio', { name: who(data.by) });
    case 'resumed':
      return t('timeline.resumed');
    case 'ended': {
      const outcome = data.outcome ? tEnum('outcome', data.outcome) : '';
      const note = data.note || data.outcome_note || '';
      return [outcome, note].filter(Boolean).join(' — ');
    }
    case 'joined':
    case 'left':
      return data.role && data.role !== 'petitioner' ? tEnum('role.participant', data.role) : '';
    default: {
      const pairs = Object.entries(data).filter(([k]) => k !== 'name').map(([k, v]) => `${k}: ${typeof v === 'object' ? JSON.stringify(v) : v}`);
      return pairs.join(', ');
    }
  }
}

/** Who an event's actor is, for people: the name the server recorded, the petitioner translated. */
function actorNames(events) {
  const names = new Map();
  for (const event of events) {
    const data = event.data && typeof event.data === 'object' ? event.data : {};
    const id = typeof event.actor === 'string' ? event.actor : event.actor?.id;
    if (id && data.name && !names.has(id)) names.set(id, data.name);
  }
  return (actor) => {
    const id = typeof actor === 'string' ? actor : actor?.id;
    if (id === 'petitioner') return tEnum('role.participant', 'petitioner');
    return names.get(id) || nameOf(actor);
  };
}

/** The timeline (events) of a session, with its summary on top. */
export function renderTimeline(container, session) {
  const events = [...(session.events || [])].sort((a, b) => String(a.at).localeCompare(String(b.at)) || (a.id - b.id));
  const who = actorNames(events);
  const summary = h('dl', { class: 'facts' },
    h('dt', {}, t('session.case')), h('dd', {}, session.case_number || ''),
    h('dt', {}, t('session.status')), h('dd', {}, tEnum('session.status', session.status)),
    h('dt', {}, t('session.scheduled')), h('dd', {}, `${formatDay(session.starts_at)} ${formatTimeRange(session.starts_at, session.ends_at)}`),
    h('dt', {}, t('session.actual')), h('dd', {},
      session.started_at ? `${formatDateTime(session.started_at)} – ${session.ended_at ? formatTime(session.ended_at) : ''}` : '—'),
    h('dt', {}, t('session.outcome')), h('dd', { 'data-testid': 'timeline-outcome' },
      session.outcome ? tEnum('outcome', session.outcome) : '—'),
    h('dt', {}, t('session.note')), h('dd', {}, session.outcome_note || '—'));
  const list = events.length
    ? h('ol', { class: 'timeline', 'data-testid': 'timeline' }, events.map((event) => h('li', {
      class: `timeline-item kind-${event.kind}`, 'data-kind': event.kind,
    },
    h('time', { datetime: event.at }, formatTime(event.at)), ' ',
    h('span', { class: 'badge' }, tEnum('event.kind', event.kind)), ' ',
    h('span', { class: 'timeline-actor' }, who(event.actor)), ' ',
    h('span', { class: 'timeline-text' }, eventText(event, who)))))
    : h('p', { class: 'empty', 'data-testid': 'timeline' }, t('timeline.none'));
  container.replaceChildren(summary, h('h3', {}, t('timeline.heading')), list);
}
