// officer.html: the higher court's 接访法官 (and supervisors, read-only) — the day's sessions,
// the call, ending with an outcome, and the timeline afterwards.
import { t, tEnum, onLangChange, shanghaiDay, formatDay, formatTimeRange } from './i18n.js';
import { api, staffSession } from './api.js';
import { $, h, startPage, requireStaff, staffHeader, showError, showMessage, clearError, handleAuthError, announce, withReauth } from './ui.js';
import { renderSessionList, renderTimeline } from './sessions.js';
import { Call, openLocalMedia, stopStream } from './call.js';
import { mountRemoteVideos, mountChat, mountMediaToggle, mountWaitingRoom } from './callview.js';

export const OUTCOMES = ['reply', 'assign', 'transfer', 'supervise', 'review_filed', 'stop_notice', 'reschedule'];

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
  };

  const pageError = $('#page-error');
  const dayPicker = $('#day-picker');
  dayPicker.value = state.day;

  function fail(box, err) {
    if (handleAuthError(err)) return;
    showError(box, err);
  }

  function show(view) {
    $('#list-view').hidden = view !== 'list';
    $('#call-view').hidden = view !== 'call';
    $('#timeline-view').hidden = view !== 'timeline';
  }

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

  function renderSessions() {
    renderSessionList($('#session-list'), state.sessions, (s) => [
      canHost && s.status !== 'ended'
        ? h('button', {
          type: 'button', class: 'primary', 'data-testid': 'session-join', 'data-session-id': s.id,
          onclick: () => joinSession(s),
        }, t('officer.list.join'))
        : null,
      // Supervisors listen in (observer: no camera, no microphone).
      !canHost && s.status !== 'ended'
        ? h('button', {
          type: 'button', class: 'primary', 'data-testid': 'session-observe', 'data-session-id': s.id,
          onclick: () => joinSession(s, { observe: true }),
        }, t('officer.list.observe'))
        : null,
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
      ...OUTCOMES.map((o) => h('option', { value: o }, tEnum('outcome', o))));
    select.value = value;
  }

  function renderCallHeading() {
    const s = state.current;
    if (!s) return;
    $('#call-heading').textContent = t('officer.call.heading', {
      number: s.case_number || '',
      when: `${formatDay(s.starts_at)} ${formatTimeRange(s.starts_at, s.ends_at)}`,
    });
    $('#call-status').textContent = t(`call.socket.${state.callStatus}`);
    $('#call-status').dataset.state = state.callStatus;
  }

  async function joinSession(session, { observe = false } = {}) {
    clearError(pageError);
    clearError($('#call-error'));
    clearError($('#call-notice'));
    clearError($('#end-error'));
    // Until the server says who we are, only an officer (not an observer) sees the end form.
    $('#end-form').hidden = observe;
    $('#local-video').closest('figure').hidden = observe;
    state.current = session;
    state.callStatus = 'connecting';
    $('#chat-log').replaceChildren();
    $('#end-note').value = '';
    renderOutcomes();
    $('#outcome-select').value = '';
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
    call.addEventListener('welcome', (e) => {
      // Only the host court's officer ends the session (a co-host or observer does not).
      $('#end-form').hidden = e.detail.you.role !== 'host';
    });
    call.addEventListener('waitingroom', (e) => {
      if (state.call === call && e.detail.waiting.length) announce(t('call.someoneWaiting'));
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
      }
    });
    call.addEventListener('ended', () => {
      if (state.call !== call) return;
      announce(t('call.endedAnnounce'));
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

  $('#leave-call').addEventListener('click', () => {
    finishCall();
    show('list');
    loadSessions();
  });

  $('#end-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    const box = $('#end-error');
    clearError(box);
    const outcome = $('#outcome-select').value;
    if (!outcome) {
      showMessage(box, 'officer.end.needOutcome');
      $('#outcome-select').focus();
      return;
    }
    const session = state.current;
    const button = $('#end-button');
    button.disabled = true;
    button.textContent = t('officer.end.working');
    try {
      // A reception can outlast the staff token: ask for the password rather than lose the form.
      await withReauth(user, () => api(`/sessions/${encodeURIComponent(session.id)}/end`, {
        method: 'POST', body: { outcome, note: $('#end-note').value.trim() },
      }));
      finishCall();
      await showTimeline(session.id);
    } catch (err) {
      if (err.code === 'session_ended') {
        finishCall();
        await showTimeline(session.id);
      } else {
        fail(box, err);
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
      renderTimeline($('#timeline'), state.timeline);
    } catch (err) {
      $('#timeline').replaceChildren();
      fail($('#timeline-error'), err);
    }
    $('#timeline-view').focus();
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
    if (state.timeline) renderTimeline($('#timeline'), state.timeline);
  });

  window.addEventListener('beforeunload', () => finishCall());

  renderRole();
  renderOutcomes();
  show('list');
  loadSessions();
}
