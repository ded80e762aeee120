// Rendering of session summaries and timelines, shared by the staff pages.
import { t, tEnum, formatDay, formatTimeRange, formatDateTime, formatTime, formatDate } from './i18n.js';
import { h } from './ui.js';
import { contactsLines } from './directory.js';
import { outcomeFacts } from './outcomefix.js';

/** The session statuses (docs/api.md); `cancelled` is a booking's, shown in logs. */
export const SESSION_STATUSES = ['scheduled', 'waiting', 'live', 'interrupted', 'ended', 'no_show'];

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
    h('p', { class: 'session-head' }, when, ' ', status,
      session.petitioner_left
        ? h('span', { class: 'badge status-interrupted', 'data-testid': 'petitioner-left' }, t('session.petitionerLeft'))
        : null),
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
  if (session.leaders?.length) {
    lines.push(h('p', { 'data-testid': 'session-leaders' }, h('span', { class: 'label' }, t('session.leaders')), ' ',
      session.leaders.map((l) => l.name).join('、')));
  }
  // The courts' contact and technical-support persons (docs/ledger.md, "Directories").
  const contacts = contactsLines(session.contacts);
  if (contacts) lines.push(contacts);
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

function dataOf(event) {
  return event.data && typeof event.data === 'object' ? event.data : {};
}

/** "42 ms · 丢包 1.0% · 850 kbps" */
export function qualityText(q) {
  return t('quality.line', {
    rtt: Math.round(Number(q.rtt_ms) || 0),
    loss: ((Number(q.packet_loss) || 0) * 100).toFixed(1),
    kbps: Math.round(Number(q.bitrate_kbps) || 0),
  });
}

function eventText(event, who) {
  const data = dataOf(event);
  switch (event.kind) {
    case 'chat':
    case 'note':
      return data.text || '';
    case 'admitted':
      return data.by ? t('timeline.admittedBy', { name: who(data.by) }) : '';
    case 'removed':
      return data.by ? t('timeline.removedBy', { name: who(data.by) }) : '';
    case 'mute_requested':
      return t(data.kind === 'video' ? 'timeline.muteRequested.video' : 'timeline.muteRequested.audio', { name: who(data.by) });
    case 'resumed':
      return t('timeline.resumed');
    case 'interrupted':
      return t('timeline.interrupted');
    case 'no_show':
      return t('timeline.noShow');
    case 'quality':
      return qualityText(data);
    case 'media_lost':
      return t('timeline.mediaLost', { name: who(data.peer) });
    case 'media_restored':
      return t('timeline.mediaRestored', { name: who(data.peer), seconds: Math.round(Number(data.seconds) || 0) });
    // The recorder lost a participant's stream, and got it back (issue 20, docs/recording.md).
    case 'recording_gap_started':
      return t(data.why === 'no_media' ? 'timeline.recordingGap.noMedia' : 'timeline.recordingGap.lost', { name: who(data.participant) });
    case 'recording_gap_ended':
      return t('timeline.recordingGap.ended', { name: who(data.participant), seconds: Math.round(Number(data.seconds) || 0) });
    // A track in a codec the recording cannot hold (H.264, G.711, …) was skipped; the rest went on.
    // Or a part whose offer sent sound holds none: none reached the recorder in time.
    case 'recording_track_skipped':
      if (data.why === 'no_sound') return t('timeline.recordingTrackSkipped.noSound', { name: who(data.participant) });
      return t(data.kind === 'audio' ? 'timeline.recordingTrackSkipped.audio' : 'timeline.recordingTrackSkipped.video', {
        name: who(data.participant), codecs: (Array.isArray(data.codecs) ? data.codecs : []).join('/'),
      });
    case 'status_changed': {
      const words = t('timeline.statusChanged', {
        from: tEnum('session.status', data.from), to: tEnum('session.status', data.to),
      });
      return Number(data.gap_seconds) > 0 ? `${words}${t('timeline.gap', { seconds: data.gap_seconds })}` : words;
    }
    case 'transcript_decided':
      return tEnum('transcript.decision', data.decision);
    case 'rated':
      return tEnum('satisfaction', data.satisfaction);
    case 'leader_added':
      return data.name || '';
    case 'identity_confirmed':
      return t(`officer.identity.how.${data.how}`);
    case 'correction':
      // Shown alone only when its entry is not on this list; the entry's number means nothing to a reader.
      return t('timeline.correctionOf', { text: data.text || '' });
    case 'outcome_corrected':
      return t('timeline.outcomeCorrected', { from: tEnum('outcome', data.from), to: tEnum('outcome', data.to), reason: data.reason || '' });
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
    const data = dataOf(event);
    const id = typeof event.actor === 'string' ? event.actor : event.actor?.id;
    if (id && data.name && !names.has(id)) names.set(id, data.name);
  }
  return (actor) => {
    const id = typeof actor === 'string' ? actor : actor?.id;
    if (id === 'petitioner') return tEnum('role.participant', 'petitioner');
    if (id === 'system') return t('timeline.system');
    if (id === 'recorder') return t('timeline.recorder');
    return names.get(id) || nameOf(actor);
  };
}

/** The transcript (笔录) of a session and what the petitioner did with it. */
function transcriptBlock(transcript, level = 3) {
  const tr = transcript || {};
  const text = typeof tr.text === 'string' ? tr.text : '';
  let decision;
  if (tr.decision) {
    decision = h('p', { class: `transcript-decision decision-${tr.decision}`, 'data-testid': 'transcript-decision', 'data-decision': tr.decision },
      t(`transcript.staff.${tr.decision === 'confirmed' ? 'confirmed' : 'refused'}`, { at: formatDateTime(tr.decided_at) }));
  } else {
    decision = h('p', { class: 'transcript-decision', 'data-testid': 'transcript-decision' }, t('transcript.staff.undecided'));
  }
  return h('section', { class: 'transcript-record', 'aria-labelledby': 'transcript-record-heading' },
    h(`h${level}`, { id: 'transcript-record-heading' }, t('transcript.heading')),
    text
      ? h('div', { class: 'transcript-text', 'data-testid': 'transcript-record', tabindex: '0' }, text)
      : h('p', { class: 'empty', 'data-testid': 'transcript-record' }, t('transcript.none')),
    decision,
    tr.sha256 ? h('p', { class: 'hint' }, t('transcript.sha256'), ' ',
      h('code', { class: 'sha256', 'data-testid': 'transcript-sha256' }, tr.sha256)) : null);
}

/** Per participant: how many quality reports, the mean round-trip time, the worst loss, the mean bitrate. */
function qualityBlock(events, who, level = 3) {
  const by = new Map();
  for (const event of events) {
    if (event.kind !== 'quality') continue;
    const d = dataOf(event);
    const id = typeof event.actor === 'string' ? event.actor : event.actor?.id;
    if (!by.has(id)) by.set(id, { actor: event.actor, n: 0, rtt: 0, loss: 0, kbps: 0 });
    const q = by.get(id);
    q.n += 1;
    q.rtt += Number(d.rtt_ms) || 0;
    q.loss = Math.max(q.loss, Number(d.packet_loss) || 0);
    q.kbps += Number(d.bitrate_kbps) || 0;
  }
  if (!by.size) return null;
  return h('section', { class: 'quality-record', 'aria-labelledby': 'quality-heading' },
    h(`h${level}`, { id: 'quality-heading' }, t('quality.heading')),
    h('table', { class: 'ledger quality-table', 'data-testid': 'quality-summary' },
      h('thead', {}, h('tr', {},
        h('th', { scope: 'col' }, t('quality.who')),
        h('th', { scope: 'col' }, t('quality.reports')),
        h('th', { scope: 'col' }, t('quality.rtt')),
        h('th', { scope: 'col' }, t('quality.loss')),
        h('th', { scope: 'col' }, t('quality.bitrate')))),
      h('tbody', {}, [...by.values()].map((q) => h('tr', { 'data-actor': typeof q.actor === 'string' ? q.actor : '' },
        h('th', { scope: 'row' }, who(q.actor)),
        h('td', {}, String(q.n)),
        h('td', {}, `${Math.round(q.rtt / q.n)} ms`),
        h('td', {}, `${(q.loss * 100).toFixed(1)}%`),
        h('td', {}, `${Math.round(q.kbps / q.n)} kbps`))))));
}

/**
 * The timeline (events) of a session, with its summary on top, its transcript and connection
 * quality. Corrections are shown under the event they correct. With `onCorrect(eventId, text)`
 * (a promise; the host officer after the end) each event has a button to add a correction.
 * `level`: its headings' level, one below the heading it sits under (3 by default).
 * `outcomeControl`: an element put under the summary (the outcome's correction, js/outcomefix.js).
 */
export function renderTimeline(container, session, { onCorrect, level = 3, outcomeControl = null } = {}) {
  const all = [...(session.events || [])].sort((a, b) => String(a.at).localeCompare(String(b.at)) || (a.id - b.id));
  const who = actorNames(all);
  const byId = new Map(all.map((e) => [e.id, e]));
  const corrections = new Map();
  for (const e of all) {
    const target = Number(dataOf(e).corrects);
    if (e.kind === 'correction' && byId.has(target)) {
      if (!corrections.has(target)) corrections.set(target, []);
      corrections.get(target).push(e);
    }
  }
  const shown = all.filter((e) => e.kind !== 'quality' && !(e.kind === 'correction' && byId.has(Number(dataOf(e).corrects))));
  const followUp = [session.follow_up_deadline ? formatDate(`${session.follow_up_deadline}T00:00:00+08:00`) : '', session.follow_up_person || '']
    .filter(Boolean).join(' · ');
  const summary = h('dl', { class: 'facts' },
    h('dt', {}, t('session.case')), h('dd', {}, session.case_number || ''),
    h('dt', {}, t('session.status')), h('dd', { 'data-testid': 'timeline-status' },
      h('span', { class: `badge status-${session.status}` }, tEnum('session.status', session.status)),
      session.petitioner_left ? [' ', h('span', { class: 'badge status-interrupted' }, t('session.petitionerLeft'))] : null),
    session.connected_seconds != null ? [
      h('dt', {}, t('timeline.connected')),
      h('dd', { 'data-testid': 'timeline-connected' }, t('timeline.connectedValue', {
        minutes: Math.floor(session.connected_seconds / 60), seconds: session.connected_seconds % 60,
      })),
    ] : null,
    h('dt', {}, t('session.scheduled')), h('dd', {}, `${formatDay(session.starts_at)} ${formatTimeRange(session.starts_at, session.ends_at)}`),
    h('dt', {}, t('session.actual')), h('dd', {},
      session.started_at ? `${formatDateTime(session.started_at)} – ${session.ended_at ? formatTime(session.ended_at) : ''}` : '—'),
    Number(session.interrupted_seconds) > 0
      ? [h('dt', {}, t('session.interrupted')), h('dd', {}, t('session.seconds', { seconds: session.interrupted_seconds }))]
      : null,
    h('dt', {}, t('session.outcome')), h('dd', { 'data-testid': 'timeline-outcome' }, outcomeFacts(session)),
    h('dt', {}, t('session.note')), h('dd', {}, session.outcome_note || '—'),
    h('dt', {}, t('session.followUp')), h('dd', { 'data-testid': 'timeline-follow-up' }, followUp || '—'),
    h('dt', {}, t('session.satisfaction')), h('dd', { 'data-testid': 'timeline-satisfaction' },
      session.satisfaction ? tEnum('satisfaction', session.satisfaction) : t('session.notRated')));

  function correctionForm(event, item, button) {
    const id = `correction-${event.id}`;
    const error = h('div', { class: 'alert', role: 'alert', hidden: true });
    const input = h('textarea', { id, 'data-testid': 'correction-input', rows: '3', maxlength: '2000' });
    const submit = h('button', { type: 'submit', class: 'primary', 'data-testid': 'correction-submit' }, t('correction.submit'));
    const cancel = h('button', { type: 'button', class: 'secondary' }, t('correction.cancel'));
    const form = h('form', { class: 'correction-form stack', novalidate: true, 'data-testid': 'correction-form' },
      h('label', { for: id }, t('correction.label', { kind: tEnum('event.kind', event.kind), time: formatTime(event.at) })),
      input, error, h('div', { class: 'button-row' }, submit, cancel));
    const close = () => {
      form.remove();
      button.hidden = false;
      button.focus();
    };
    cancel.addEventListener('click', close);
    form.addEventListener('keydown', (e) => {
      if (e.key === 'Escape') close();
    });
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      error.hidden = true;
      const text = input.value.trim();
      if (!text) {
        error.replaceChildren(h('p', { class: 'alert-message' }, t('correction.empty')));
        error.hidden = false;
        input.focus();
        return;
      }
      submit.disabled = true;
      submit.textContent = t('correction.working');
      try {
        await onCorrect(event.id, text, error);
      } finally {
        submit.disabled = false;
        submit.textContent = t('correction.submit');
      }
    });
    button.hidden = true;
    item.append(form);
    input.focus();
  }

  const list = shown.length
    ? h('ol', { class: 'timeline', 'data-testid': 'timeline' }, shown.map((event) => {
      const fixes = corrections.get(event.id) || [];
      const item = h('li', {
        class: `timeline-item kind-${event.kind}`, 'data-kind': event.kind, 'data-event-id': event.id,
      },
      h('time', { datetime: event.at }, formatTime(event.at)), ' ',
      h('span', { class: 'badge' }, tEnum('event.kind', event.kind)), ' ',
      h('span', { class: 'timeline-actor' }, who(event.actor)), ' ',
      h('span', { class: 'timeline-text' }, eventText(event, who)));
      if (onCorrect && event.kind !== 'correction') {
        const button = h('button', {
          type: 'button', class: 'secondary small', 'data-testid': 'correct-button', 'data-event-id': event.id,
          'aria-label': t('correction.buttonLabel', { kind: tEnum('event.kind', event.kind), time: formatTime(event.at) }),
        }, t('correction.button'));
        button.addEventListener('click', () => correctionForm(event, item, button));
        item.append(' ', button);
      }
      if (fixes.length) {
        item.append(h('ul', { class: 'corrections', 'data-testid': 'corrections' }, fixes.map((fix) => h('li', {
          class: 'correction', 'data-testid': 'correction', 'data-event-id': fix.id,
        },
        h('span', { class: 'badge correction-badge' }, tEnum('event.kind', 'correction')), ' ',
        h('span', { class: 'correction-text' }, dataOf(fix).text || ''), ' ',
        h('span', { class: 'correction-meta' }, `— ${who(fix.actor)} ${formatDateTime(fix.at)}`)))));
      }
      return item;
    }))
    : h('p', { class: 'empty', 'data-testid': 'timeline' }, t('timeline.none'));
  container.replaceChildren(...[summary, outcomeControl,
    session.transcript ? transcriptBlock(session.transcript, level) : null,
    qualityBlock(all, who, level),
    h(`h${level}`, {}, t('timeline.heading')),
    onCorrect ? h('p', { class: 'hint' }, t('correction.hint')) : null,
    list].filter(Boolean));
}
