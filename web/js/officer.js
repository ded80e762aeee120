// officer.html: the higher court's 接访法官 (and supervisors, read-only) — the day's sessions,
// the call with its transcript (笔录) and notes, ending with an outcome and a follow-up, and the
// timeline afterwards, where the host adds corrections.
import { t, tEnum, clause, onLangChange, shanghaiDay, formatDay, formatDate, formatTimeRange, formatTime } from './i18n.js';
import { api, staffSession } from './api.js';
import { $, h, startPage, requireStaff, staffHeader, showError, showMessage, clearError, handleAuthError, announce, withReauth } from './ui.js';
import { renderSessionList, renderTimeline } from './sessions.js';
import { Call, openLocalMedia, stopStream } from './call.js';
import { mountRemoteVideos, mountChat, mountMediaToggle, mountWaitingRoom, mountQuality, mountRecordingBadge } from './callview.js';
import { mountOfficerSchedule } from './schedule-officer.js';
import { mountNotifications } from './notifications.js';
import { mountWaitingAlert } from './waitalert.js';
import { showCaseFile } from './casefile.js';
import { outcomeCorrectionControl, outcomeRecordedBy } from './outcomefix.js';

export const OUTCOMES = ['explained_law', 'into_procedure', 'review_filed', 'not_within_scope', 'no_longer_accepted', 'concluded', 'judicial_aid', 'assign', 'supervise', 'reception_stopped', 'withdrawn'];
// The transcript is saved this long after typing stops (and at once with the save button or
// Ctrl+S). A test may change it with `window.COURTLINK_AUTOSAVE_MS`.
const AUTOSAVE_MS = 3000;
const TRANSCRIPT_MAX = 50000;

const auth = requireStaff(['officer', 'supervisor']);
if (auth) main(auth);

function main({ user, token }) {
  startPage();
  const rerenderHeader = staffHeader(user);
  const canHost = user.role === 'officer';

  const state = {
    day: shanghaiDay(),
    sessions: [],
    current: null, // the session being called
    call: null,
    localStream: null,
    timeline: null,
    callStatus: 'connecting',
    role: null, // ours in the call: host, co_host, observer
    notes: [], // this session's notes (events)
    leaveAnyway: false,
    // The outcomes that fit the case's class (GET /cases/{id}/outcomes); all until known.
    outcomes: OUTCOMES,
  };
  // The transcript being written: the text last saved (trimmed, as the server keeps it), the
  // save in flight, and what the status line says.
  const transcript = {
    sessionId: null, saved: '', savedAt: null, timer: null, saving: null, status: 'empty',
  };
  const autosaveMs = Number(window.COURTLINK_AUTOSAVE_MS) > 0 ? Number(window.COURTLINK_AUTOSAVE_MS) : AUTOSAVE_MS;

  const pageError = $('#page-error');
  // The review queue, the rooms' calendar, template and overrides (js/schedule-officer.js), and
  // the in-app notifications in the header.
  const schedule = mountOfficerSchedule($('#schedule-host'), { user, canEdit: canHost });
  mountNotifications($('#notif-host'), { onChange: () => schedule.reload() });
  const dayPicker = $('#day-picker');
  dayPicker.value = state.day;

  function fail(box, err, context) {
    if (handleAuthError(err)) return;
    showError(box, err, context);
  }

  function show(view) {
    $('#list-view').hidden = view !== 'list';
    $('#call-view').hidden = view !== 'call';
    $('#timeline-view').hidden = view !== 'timeline';
    $('#casefile-view').hidden = view !== 'casefile';
  }

  // ---- the case file (案卷), before and during the session ----
  async function showCaseFileView(s) {
    show('casefile');
    $('#casefile-view').focus();
    await showCaseFile($('#casefile-box'), s.case_id);
  }
  $('#casefile-back').addEventListener('click', () => {
    show('list');
    loadSessions();
  });

  function renderRole() {
    $('#role-label').textContent = tEnum('role.staff', user.role);
  }

  // ---- the day's sessions ----
  async function loadSessions() {
    clearError(pageError);
    try {
      state.sessions = await api(`/sessions?day=${encodeURIComponent(state.day)}`);
      renderSessions();
    } catch (err) {
      fail(pageError, err);
    }
  }

  const leads = (s) => (s.leaders || []).some((l) => l.user_id === user.id);

  function renderSessions() {
    renderSessionList($('#session-list'), state.sessions, (s) => [
      canHost && s.status !== 'ended'
        ? h('button', {
          type: 'button', class: 'primary', 'data-testid': 'session-join', 'data-session-id': s.id,
          onclick: () => joinSession(s),
        }, t('officer.list.join'))
        : null,
      // A leader of the booking court named on the session (领导包案) takes part with camera and
      // microphone, and waits to be admitted like the petitioner.
      !canHost && s.status !== 'ended' && leads(s)
        ? h('button', {
          type: 'button', class: 'primary', 'data-testid': 'session-lead', 'data-session-id': s.id,
          onclick: () => joinSession(s, { lead: true }),
        }, t('officer.list.lead'))
        : null,
      // Supervisors listen in (observer: no camera, no microphone).
      !canHost && s.status !== 'ended' && !leads(s)
        ? h('button', {
          type: 'button', class: 'primary', 'data-testid': 'session-observe', 'data-session-id': s.id,
          onclick: () => joinSession(s, { observe: true }),
        }, t('officer.list.observe'))
        : null,
      h('button', {
        type: 'button', class: 'secondary', 'data-testid': 'session-casefile', 'data-session-id': s.id,
        onclick: () => showCaseFileView(s),
      }, t('casefile.open')),
      h('button', {
        type: 'button', class: 'secondary', 'data-testid': 'session-view', 'data-session-id': s.id,
        onclick: () => showTimeline(s.id),
      }, t('officer.list.view')),
    ], 'officer.list.none');
  }

  $('#day-form').addEventListener('submit', (e) => {
    e.preventDefault();
    if (dayPicker.value) state.day = dayPicker.value;
    loadSessions();
  });
  dayPicker.addEventListener('change', () => {
    if (dayPicker.value) {
      state.day = dayPicker.value;
      loadSessions();
    }
  });
  $('#day-today').addEventListener('click', () => {
    state.day = shanghaiDay();
    dayPicker.value = state.day;
    loadSessions();
  });

  // ---- the call ----
  function renderOutcomes() {
    const select = $('#outcome-select');
    const value = select.value;
    select.replaceChildren(
      h('option', { value: '' }, t('officer.end.choose')),
      ...state.outcomes.map((o) => h('option', { value: o }, tEnum('outcome', o))));
    select.value = state.outcomes.includes(value) ? value : '';
  }

  // Only the outcomes that fit the case's class are offered (诉访分离; docs/outcomes.md).
  async function loadOutcomes(session) {
    state.outcomes = OUTCOMES;
    if (!session.case_id) return;
    try {
      const fit = await api(`/cases/${encodeURIComponent(session.case_id)}/outcomes`);
      if (state.current?.id === session.id && Array.isArray(fit) && fit.length) {
        state.outcomes = fit;
        renderOutcomes();
      }
    } catch {
      // The server refuses an outcome that does not fit (422 outcome_not_for_class) anyway.
    }
  }

  function renderCallHeading() {
    const s = state.current;
    if (!s) return;
    $('#call-heading').textContent = t('officer.call.heading', {
      number: s.case_number || '',
      when: `${formatDay(s.starts_at)} ${formatTimeRange(s.starts_at, s.ends_at)}`,
    });
    // The badge says what the officer can rely on: the connection to the server may be open
    // while no picture or sound arrives from someone (issue 18 item 6: a frozen picture under a
    // green 已连接). Then it says 线路中断, as the tile does.
    const lost = state.callStatus === 'open' && state.call
      && [...state.call.peers.values()].some((peer) => peer.mediaLostAt);
    const shown = lost ? 'medialost' : state.callStatus;
    $('#call-status').textContent = t(`call.socket.${shown}`);
    $('#call-status').dataset.state = shown;
  }

  // ---- the transcript (笔录): saved with PUT while the session is on ----
  const transcriptInput = $('#transcript-input');

  function renderTranscriptState() {
    const el = $('#transcript-state');
    const key = `officer.transcript.state.${transcript.status}`;
    el.textContent = t(key, { time: transcript.savedAt ? formatTime(transcript.savedAt) : '' });
    el.dataset.state = transcript.status;
    $('#transcript-count').textContent = t('officer.transcript.count', {
      count: transcriptInput.value.length, max: TRANSCRIPT_MAX,
    });
  }

  function transcriptDirty() {
    return transcriptInput.value.trim() !== transcript.saved;
  }

  function settleStatus() {
    if (transcriptDirty()) transcript.status = 'unsaved';
    else transcript.status = transcript.saved ? 'saved' : 'empty';
  }

  function resetTranscript(sessionId, text = '') {
    clearTimeout(transcript.timer);
    transcript.sessionId = sessionId;
    transcript.saved = text.trim();
    transcript.savedAt = null;
    transcript.saving = null;
    transcriptInput.value = text;
    transcriptInput.readOnly = false;
    $('#transcript-save').disabled = false;
    clearError($('#transcript-error'));
    settleStatus();
    renderTranscriptState();
  }

  /**
   * Save the transcript now if it changed. Resolves true when what is in the box is saved (or
   * there was nothing to save), false when it could not be.
   */
  async function saveTranscript({ explicit = false } = {}) {
    clearTimeout(transcript.timer);
    if (transcript.saving) await transcript.saving;
    const sessionId = transcript.sessionId;
    if (!sessionId || transcriptInput.readOnly) return !transcriptDirty();
    const text = transcriptInput.value.trim();
    if (text === transcript.saved) {
      settleStatus();
      renderTranscriptState();
      if (explicit) clearError($('#transcript-error'));
      return true;
    }
    if (!text) {
      // The server keeps no empty transcript: what was saved stays.
      if (explicit) showMessage($('#transcript-error'), 'officer.transcript.cannotEmpty');
      transcript.status = 'unsaved';
      renderTranscriptState();
      return !explicit;
    }
    transcript.status = 'saving';
    renderTranscriptState();
    transcript.saving = (async () => {
      try {
        await withReauth(user, () => api(`/sessions/${encodeURIComponent(sessionId)}/transcript`, {
          method: 'PUT', body: { text },
        }));
        if (transcript.sessionId !== sessionId) return true;
        transcript.saved = text;
        transcript.savedAt = new Date();
        clearError($('#transcript-error'));
        settleStatus();
        // Typed on while it was saving: save that too, a little later.
        if (transcript.status === 'unsaved') transcript.timer = setTimeout(() => saveTranscript(), autosaveMs);
        return true;
      } catch (err) {
        if (transcript.sessionId !== sessionId) return false;
        transcript.status = 'failed';
        if (err.code === 'session_ended') {
          // Over: the text is frozen. Keep it on screen to copy from.
          transcriptInput.readOnly = true;
          $('#transcript-save').disabled = true;
        }
        if (!handleAuthError(err)) showError($('#transcript-error'), err, 'transcript');
        return false;
      } finally {
        renderTranscriptState();
      }
    })();
    const ok = await transcript.saving;
    transcript.saving = null;
    return ok;
  }

  transcriptInput.addEventListener('input', () => {
    settleStatus();
    renderTranscriptState();
    clearTimeout(transcript.timer);
    if (transcript.status === 'unsaved') transcript.timer = setTimeout(() => saveTranscript(), autosaveMs);
  });
  transcriptInput.addEventListener('keydown', (e) => {
    // Ctrl+S (⌘S) saves, as in any editor.
    if ((e.ctrlKey || e.metaKey) && !e.altKey && e.key.toLowerCase() === 's') {
      e.preventDefault();
      saveTranscript({ explicit: true });
    }
  });
  $('#transcript-save').addEventListener('click', () => saveTranscript({ explicit: true }));

  // ---- the host's notes on the timeline ----
  function renderNotes() {
    const list = $('#notes-list');
    list.replaceChildren(...state.notes.map((n) => h('li', { class: 'note-line', 'data-event-id': n.id },
      h('time', { datetime: n.at }, formatTime(n.at)), ' ', h('span', { class: 'note-text' }, n.data?.text || ''))));
    list.hidden = state.notes.length === 0;
  }

  $('#note-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    const box = $('#note-error');
    clearError(box);
    const input = $('#note-input');
    const text = input.value.trim();
    if (!text) {
      showMessage(box, 'officer.notes.empty');
      input.focus();
      return;
    }
    const session = state.current;
    const button = $('#note-add');
    button.disabled = true;
    try {
      const event = await withReauth(user, () => api(`/sessions/${encodeURIComponent(session.id)}/notes`, {
        method: 'POST', body: { text },
      }));
      if (state.current !== session) return;
      state.notes.push(event);
      renderNotes();
      input.value = '';
      announce(t('officer.notes.added'));
    } catch (err) {
      fail(box, err, 'note');
    } finally {
      button.disabled = false;
      input.focus();
    }
  });

  // The transcript and notes written so far (after a rejoin, a reload). The transcript comes
  // from GET …/transcript, which a joint reception's co-host may read too; the notes from the
  // timeline, which only the host court reads.
  async function loadRecord(session) {
    const id = encodeURIComponent(session.id);
    const [text, detail] = await Promise.allSettled([api(`/sessions/${id}/transcript`), api(`/sessions/${id}`)]);
    if (state.current !== session) return;
    if (text.status === 'fulfilled') {
      // Only if nothing was typed meanwhile.
      if (!transcriptInput.value && transcript.sessionId === session.id) resetTranscript(session.id, text.value?.text || '');
    } else if (!handleAuthError(text.reason)) {
      showError($('#transcript-error'), text.reason, 'transcript');
    }
    if (detail.status === 'fulfilled') {
      const events = detail.value?.events || [];
      state.notes = events.filter((ev) => ev.kind === 'note');
      renderNotes();
      renderIdentity(events.find((ev) => ev.kind === 'identity_confirmed') || null);
    }
  }

  // Who confirmed the petitioner's identity (身份核验): the local court's staff in the room, or
  // this officer seeing the identity card on camera. The first confirmation stands.
  function renderIdentity(event) {
    const confirmed = Boolean(event);
    $('#identity-state').textContent = confirmed
      ? t('officer.identity.done', { name: event.data?.name || '', how: t(`officer.identity.how.${event.data?.how}`) })
      : t('officer.identity.none');
    $('#identity-confirm').hidden = confirmed;
  }

  $('#identity-confirm').addEventListener('click', async () => {
    const box = $('#identity-error');
    clearError(box);
    const session = state.current;
    if (!session) return;
    const button = $('#identity-confirm');
    button.disabled = true;
    try {
      const event = await withReauth(user, () => api(`/sessions/${encodeURIComponent(session.id)}/identity`, {
        method: 'POST', body: { how: 'on_camera' },
      }));
      if (state.current !== session) return;
      renderIdentity(event);
      announce(t('officer.identity.saved'));
    } catch (err) {
      fail(box, err, 'identity');
    } finally {
      button.disabled = false;
    }
  });

  function showRecordPanels(role) {
    // Officers of the host court, and of a joint reception's second court, write the record.
    const writes = canHost && (role === 'host' || role === 'co_host' || role === null);
    $('#transcript-panel').hidden = !writes;
    $('#notes-panel').hidden = !writes;
    $('#identity-panel').hidden = !writes;
  }

  async function joinSession(session, { observe = false, lead = false } = {}) {
    clearError(pageError);
    clearError($('#call-error'));
    clearError($('#call-notice'));
    clearError($('#end-error'));
    clearError($('#note-error'));
    // Until the server says who we are, only an officer (not an observer) sees the end form.
    $('#end-form').hidden = observe || lead;
    $('#local-video').closest('figure').hidden = observe;
    state.current = session;
    state.callStatus = 'connecting';
    state.role = observe ? 'observer' : null;
    state.notes = [];
    state.leaveAnyway = false;
    renderNotes();
    showRecordPanels(state.role);
    resetTranscript(session.id);
    if (!observe && !lead) loadRecord(session);
    $('#chat-log').replaceChildren();
    $('#end-note').value = '';
    $('#follow-up-deadline').value = '';
    $('#follow-up-deadline').min = shanghaiDay();
    $('#follow-up-person').value = '';
    $('#note-input').value = '';
    renderOutcomes();
    $('#outcome-select').value = '';
    if (!observe && !lead) loadOutcomes(session);
    showCaseFile($('#call-casefile-box'), session.case_id);
    show('call');
    renderCallHeading();

    const { stream, problem } = observe ? { stream: null, problem: null } : await openLocalMedia();
    state.localStream = stream;
    $('#local-video').srcObject = stream;
    if (problem) {
      showMessage($('#call-error'), `media.${problem}`, `media.${problem}.next`);
    }

    const call = new Call({ sessionId: session.id, token: () => staffSession.get()?.token ?? token, localStream: stream });
    state.call = call;
    window.courtlinkCall = call; // for status checks and browser tests
    resetToggles(call);
    $('#mic-toggle').hidden = observe;
    $('#cam-toggle').hidden = observe;
    mountWaitingRoom($('#waiting-room'), $('#waiting-list'), call);
    mountQuality($('#call-quality'), call);
    mountRecordingBadge($('#recording-badge'), call);
    call.addEventListener('welcome', (e) => {
      // Only the host court's officer ends the session (a co-host or observer does not).
      $('#end-form').hidden = e.detail.you.role !== 'host';
      state.role = e.detail.you.role;
      showRecordPanels(state.role);
    });
    // A leader waits to be let in, as the petitioner does: say so until the host admits them.
    call.addEventListener('state', (e) => {
      if (!lead || state.call !== call) return;
      if (e.detail.state === 'waiting') showMessage($('#call-notice'), 'leader.waiting');
      else clearError($('#call-notice'));
    });
    call.addEventListener('waitingroom', (e) => {
      if (state.call === call && e.detail.waiting.length) announce(t('call.someoneWaiting'));
    });
    // The petitioner gone from a live call (left, sent out, or lost past the grace period): the
    // session is no longer live, and ending it is refused until a reception has been held.
    call.addEventListener('peerleft', (e) => {
      if (state.call !== call || e.detail.id !== 'petitioner') return;
      showMessage($('#call-notice'), 'session.petitionerLeft');
      announce(t('session.petitionerLeft'));
    });
    call.addEventListener('mute', (e) => {
      showMessage($('#call-notice'), e.detail.kind === 'video' ? 'call.mutedVideo' : 'call.mutedAudio', 'call.muted.next');
    });
    const remote = $('#remote-videos');
    remote.replaceChildren();
    mountRemoteVideos(remote, call, {
      onChange: (count) => {
        $('#remote-waiting').hidden = count > 0;
      },
    });
    mountChat({
      form: $('#chat-form'), input: $('#chat-input'), log: $('#chat-log'), call,
      onError: (key) => showMessage($('#call-error'), key),
    });
    // A peer's picture stopping or coming back, or a peer leaving, changes what the badge says.
    for (const kind of ['media', 'peerleft']) {
      call.addEventListener(kind, () => { if (state.call === call) renderCallHeading(); });
    }
    call.addEventListener('socket', (e) => {
      if (state.call !== call) return;
      state.callStatus = e.detail.state;
      renderCallHeading();
      if (e.detail.state === 'failed') {
        showMessage($('#call-error'), 'call.failed', 'call.failed.next');
      } else if (e.detail.state === 'replaced') {
        showMessage($('#call-error'), 'call.replaced', 'call.replaced.next');
      } else if (e.detail.state === 'removed') {
        showMessage($('#call-error'), 'call.removedStaff', 'call.failed.next');
      } else if (e.detail.state === 'full') {
        showMessage($('#call-error'), 'call.full', 'call.failed.next');
      } else if (e.detail.state === 'revoked') {
        showMessage($('#call-error'), 'call.revoked', 'call.revoked.next');
      }
    });
    call.addEventListener('ended', () => {
      if (state.call !== call) return;
      announce(t('call.endedAnnounce'));
      transcript.sessionId = null;
      finishCall();
      showTimeline(session.id);
    });
    call.connect();
    $('#chat-input').focus();
  }

  function finishCall() {
    if (state.call) {
      state.call.hangup();
      state.call = null;
    }
    stopStream(state.localStream);
    state.localStream = null;
    $('#local-video').srcObject = null;
    $('#remote-videos').replaceChildren();
    $('#waiting-room').hidden = true;
  }

  // Fresh buttons per call: replace the nodes so that old listeners go with them.
  function resetToggles(call) {
    for (const id of ['mic-toggle', 'cam-toggle']) {
      const old = document.getElementById(id);
      old.replaceWith(old.cloneNode(false));
    }
    mountMediaToggle($('#mic-toggle'), state.localStream, 'audio', call);
    mountMediaToggle($('#cam-toggle'), state.localStream, 'video', call);
  }

  $('#leave-call').addEventListener('click', async () => {
    // Save the transcript first; if that fails, say so, and leave on a second press.
    if (!$('#transcript-panel').hidden && transcriptDirty() && !state.leaveAnyway) {
      if (!await saveTranscript({ explicit: true })) {
        state.leaveAnyway = true;
        showMessage($('#call-error'), 'officer.call.leaveUnsaved', 'officer.call.leaveUnsaved.next');
        return;
      }
    }
    clearTimeout(transcript.timer);
    transcript.sessionId = null;
    finishCall();
    show('list');
    loadSessions();
  });

  // The outcome goes on the record for good (a later correction keeps it beside the new one):
  // what will be recorded is shown, and confirmed, before it is sent.
  let endConfirmed = false;
  function hideEndConfirm() {
    endConfirmed = false;
    $('#end-confirm').hidden = true;
    $('#end-button').hidden = false;
  }
  for (const id of ['#outcome-select', '#end-note', '#follow-up-deadline', '#follow-up-person']) {
    $(id).addEventListener('input', hideEndConfirm);
  }
  $('#end-confirm-no').addEventListener('click', () => {
    hideEndConfirm();
    $('#outcome-select').focus();
  });
  $('#end-confirm-yes').addEventListener('click', () => {
    endConfirmed = true;
    $('#end-form').requestSubmit();
  });

  $('#end-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    const box = $('#end-error');
    clearError(box);
    const confirmed = endConfirmed;
    endConfirmed = false;
    const outcome = $('#outcome-select').value;
    if (!outcome) {
      showMessage(box, 'officer.end.needOutcome');
      $('#outcome-select').focus();
      return;
    }
    const deadline = $('#follow-up-deadline').value;
    if (deadline && !/^\d{4}-\d{2}-\d{2}$/.test(deadline)) {
      showMessage(box, 'officer.end.deadlineBad');
      $('#follow-up-deadline').focus();
      return;
    }
    if (deadline && deadline < shanghaiDay()) {
      showMessage(box, 'officer.end.deadlinePast');
      $('#follow-up-deadline').focus();
      return;
    }
    const person = $('#follow-up-person').value.trim();
    if (!confirmed) {
      const note = $('#end-note').value.trim();
      // The follow-up is recorded with the outcome: it is confirmed with it.
      const followUp = deadline || person
        ? t('officer.end.confirmFollowUp', {
          deadline: deadline ? formatDate(`${deadline}T00:00:00+08:00`) : t('officer.end.noNote'),
          person: clause(person) || t('officer.end.noNote'),
        })
        : '';
      $('#end-confirm-text').textContent = t('officer.end.confirm', { outcome: tEnum('outcome', outcome), note: clause(note) || t('officer.end.noNote'), followUp });
      $('#end-button').hidden = true;
      $('#end-confirm').hidden = false;
      $('#end-confirm-yes').focus();
      return;
    }
    hideEndConfirm();
    const session = state.current;
    const button = $('#end-button');
    button.disabled = true;
    button.textContent = t('officer.end.working');
    try {
      // The transcript is frozen at the end: save what is in the box first.
      if (!$('#transcript-panel').hidden && transcriptDirty() && !await saveTranscript({ explicit: true })) {
        showMessage(box, 'officer.end.transcriptUnsaved', 'officer.end.transcriptUnsaved.next');
        return;
      }
      const body = { outcome, note: $('#end-note').value.trim() };
      if (deadline) body.follow_up_deadline = deadline;
      if (person) body.follow_up_person = person;
      // A reception can outlast the staff token: ask for the password rather than lose the form.
      await withReauth(user, () => api(`/sessions/${encodeURIComponent(session.id)}/end`, {
        method: 'POST', body,
      }));
      transcript.sessionId = null;
      finishCall();
      await showTimeline(session.id);
    } catch (err) {
      if (err.code === 'session_ended') {
        transcript.sessionId = null;
        finishCall();
        await showTimeline(session.id);
      } else {
        fail(box, err, 'end');
      }
    } finally {
      button.disabled = false;
      button.textContent = t('officer.end.submit');
    }
  });

  // ---- the timeline ----
  async function showTimeline(id) {
    clearError($('#timeline-error'));
    show('timeline');
    $('#timeline').replaceChildren(h('p', { class: 'empty' }, t('common.loading')));
    try {
      state.timeline = await api(`/sessions/${encodeURIComponent(id)}`);
      state.timelineOutcomes = null;
      if (state.timeline.status === 'ended' && state.timeline.case_id) {
        // Only the outcomes that fit the case's class are offered for a correction.
        state.timelineOutcomes = await api(`/cases/${encodeURIComponent(state.timeline.case_id)}/outcomes`).catch(() => null);
      }
      drawTimeline();
    } catch (err) {
      $('#timeline').replaceChildren();
      fail($('#timeline-error'), err);
    }
    $('#timeline-view').focus();
  }

  // After the end the record is append-only: the host officer adds a correction to an event.
  // The outcome is corrected, keeping the original, by the officer who recorded it or a
  // supervisor of the host court (docs/outcomes.md; the server checks the same).
  function drawTimeline() {
    const session = state.timeline;
    if (!session) return;
    const corrects = canHost && session.status === 'ended';
    const fixesOutcome = session.status === 'ended' && session.outcome
      && session.host_court?.id === user.court?.id
      && (user.role === 'supervisor' || outcomeRecordedBy(session) === `user-${user.id}`);
    const outcomeControl = fixesOutcome ? outcomeCorrectionControl(session, {
      outcomes: state.timelineOutcomes || OUTCOMES,
      level: 2,
      submit: (body, box) => correctOutcome(session.id, body, box),
    }) : null;
    renderTimeline($('#timeline'), session, {
      level: 2, outcomeControl, onCorrect: corrects ? (eventId, text, box) => addCorrection(session.id, eventId, text, box) : null,
    });
  }

  async function correctOutcome(sessionId, body, box) {
    clearError(box);
    try {
      await withReauth(user, () => api(`/sessions/${encodeURIComponent(sessionId)}/outcome-corrections`, { method: 'POST', body }));
      state.timeline = await api(`/sessions/${encodeURIComponent(sessionId)}`);
      drawTimeline();
      $('[data-testid=timeline-outcome]')?.setAttribute('tabindex', '-1');
      $('[data-testid=timeline-outcome]')?.focus();
      return true;
    } catch (err) {
      fail(box, err, 'outcomeFix');
      return false;
    }
  }

  async function addCorrection(sessionId, eventId, text, box) {
    clearError(box);
    try {
      const event = await withReauth(user, () => api(`/sessions/${encodeURIComponent(sessionId)}/corrections`, {
        method: 'POST', body: { corrects: eventId, text },
      }));
      state.timeline = await api(`/sessions/${encodeURIComponent(sessionId)}`);
      drawTimeline();
      announce(t('correction.added'));
      const added = $(`[data-testid=correction][data-event-id="${event.id}"]`);
      const button = $(`[data-testid=correct-button][data-event-id="${eventId}"]`);
      (button || added)?.focus();
    } catch (err) {
      fail(box, err, 'correction');
    }
  }

  $('#timeline-back').addEventListener('click', () => {
    state.timeline = null;
    show('list');
    loadSessions();
  });

  onLangChange(() => {
    rerenderHeader();
    renderRole();
    renderSessions();
    renderOutcomes();
    renderCallHeading();
    renderTranscriptState();
    renderNotes();
    drawTimeline();
  });

  window.addEventListener('beforeunload', (e) => {
    // Unsaved transcript: let the browser ask before the page goes.
    if (state.call && !$('#transcript-panel').hidden && transcriptDirty()) {
      e.preventDefault();
      e.returnValue = '';
      saveTranscript();
      return;
    }
    finishCall();
  });

  renderRole();
  renderOutcomes();
  show('list');
  loadSessions();
  // Someone waiting is told at once, on this tab and (if allowed) on the desktop; today's list
  // follows without a refresh (unless the officer is using it).
  mountWaitingAlert($('#waiting-alerts'), {
    load: () => api(`/sessions?day=${encodeURIComponent(shanghaiDay())}`),
    canJoin: canHost,
    onJoin: (s) => joinSession(s),
    busyWith: () => (state.call ? state.current?.id : null),
    onSessions: (sessions) => {
      const list = $('#session-list');
      if (state.day !== shanghaiDay() || list.contains(document.activeElement)) return;
      if (JSON.stringify(sessions) === JSON.stringify(state.sessions)) return;
      state.sessions = sessions;
      renderSessions();
    },
  });
}
