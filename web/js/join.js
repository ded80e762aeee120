// join.html: the petitioner. 1 camera and microphone check, 2 join code, 3 the call; after the
// end, the transcript (笔录) to confirm and sign or refuse, then the rating.
import { t, tEnum, has, onLangChange, formatDay, formatTime, formatTimeRange, formatDateTime } from './i18n.js';
import { api, ApiError, joinSession } from './api.js';
import { $, h, startPage, showError, showMessage, clearError, announce } from './ui.js';
import { Call, openLocalMedia, stopStream } from './call.js';
import { mountRemoteVideos, mountChat, mountMediaToggle, mountRecordingBadge } from './callview.js';
import { createDeviceCheck } from './devicecheck.js';
import { runEchoTest } from './echotest.js';

startPage();
// Microphone level and speaker test under the preview (js/devicecheck.js).
const deviceCheck = createDeviceCheck();

const state = {
  step: 'device',
  stream: null,
  problem: null,
  join: null, // answer of POST /auth/join
  call: null,
  hostPresent: false,
  socket: 'connecting',
  outcome: null,
  leftReason: 'left',
  // After the end: the transcript as the server has it, the decision being checked, the rating.
  record: {
    loading: false, failed: false, transcript: null, pending: null, decidedBefore: false,
    rating: null, ratedBefore: false,
  },
};

// ---- the join code ----
const CODE_DIGITS = 12; // 1234-5678-9012

function normalizeCode(raw) {
  return String(raw || '').replace(/[\s\-－—–]/g, '');
}

function formatCode(digits) {
  return digits.replace(/(\d{4})(?=\d)/g, '$1-');
}

function codeFromHash() {
  const params = new URLSearchParams(location.hash.replace(/^#/, ''));
  return normalizeCode(params.get('code'));
}

const codeInput = $('#join-code-input');
const initialCode = codeFromHash();
if (initialCode) codeInput.value = formatCode(initialCode);
codeInput.addEventListener('blur', () => {
  const digits = normalizeCode(codeInput.value);
  if (/^\d+$/.test(digits)) codeInput.value = formatCode(digits);
});

// ---- steps ----
const STEP_ORDER = ['device', 'code', 'call'];

function show(step) {
  state.step = step;
  for (const name of ['device', 'code', 'call', 'ended', 'left']) {
    $(`#step-${name}`).hidden = name !== step;
  }
  const index = STEP_ORDER.indexOf(step);
  $('#steps').hidden = index < 0;
  for (const li of document.querySelectorAll('#steps li')) {
    const i = STEP_ORDER.indexOf(li.dataset.step);
    li.classList.toggle('done', index >= 0 && i < index);
    if (i === index) li.setAttribute('aria-current', 'step');
    else li.removeAttribute('aria-current');
  }
  const section = $(`#step-${step}`);
  if (step !== 'call') section.focus();
}

// ---- step 1: camera and microphone ----
async function checkDevices() {
  const message = $('#device-message');
  clearError(message);
  $('#device-next').disabled = true;
  $('#device-next').hidden = false;
  $('[data-testid=device-check]').hidden = false;
  $('#device-retry').hidden = true;
  $('#device-skip').hidden = true;
  $('#preview-placeholder').hidden = false;
  $('#preview-placeholder').textContent = t('join.step1.checking');
  stopStream(state.stream);
  const { stream, problem } = await openLocalMedia();
  state.stream = stream;
  state.problem = problem;
  $('#preview-video').srcObject = stream;
  renderDevice();
  deviceCheck.attach(stream);
}

function renderDevice() {
  const { stream, problem } = state;
  const hasVideo = Boolean(stream && stream.getVideoTracks().length);
  $('#preview-placeholder').hidden = hasVideo;
  if (!hasVideo) $('#preview-placeholder').textContent = t(stream ? 'join.step1.noPicture' : 'join.step1.noDevice');
  const message = $('#device-message');
  if (problem) {
    showMessage(message, `media.${problem}`, `media.${problem}.next`);
    message.dataset.problem = problem;
  } else {
    clearError(message);
  }
  // With at least one device the next step is open. With none, one decision: try again, or go
  // on without them; no dead 继续下一步 and no microphone check with nothing to check.
  $('#device-next').disabled = !stream;
  $('#device-next').hidden = !stream;
  $('[data-testid=device-check]').hidden = !stream;
  $('#device-retry').hidden = !problem;
  $('#device-retry').classList.toggle('primary', !stream);
  $('#device-retry').classList.toggle('secondary', Boolean(stream));
  $('#device-skip').hidden = Boolean(stream);
  $('#device-next').textContent = t(problem ? 'join.step1.nextAnyway' : 'join.step1.next');
}

$('#device-retry').addEventListener('click', checkDevices);
$('#device-next').addEventListener('click', () => toCode());
$('#device-skip').addEventListener('click', () => toCode());

function toCode() {
  deviceCheck.stop();
  show('code');
  if (!codeInput.value) codeInput.focus();
  else $('#join-button').focus();
}

$('#code-back').addEventListener('click', () => {
  show('device');
  if (!state.stream) checkDevices();
  else deviceCheck.attach(state.stream);
});

// ---- step 2: the join code ----
$('#code-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  const box = $('#join-error');
  clearError(box);
  const code = normalizeCode(codeInput.value);
  if (!code) {
    showMessage(box, 'join.code.empty', 'join.code.empty.next');
    codeInput.focus();
    return;
  }
  if (!/^\d+$/.test(code)) {
    showMessage(box, 'join.code.digits', 'join.code.digits.next');
    codeInput.focus();
    return;
  }
  if (code.length !== CODE_DIGITS) {
    showMessage(box, 'join.code.length', 'join.code.length.next', { count: CODE_DIGITS, typed: code.length });
    codeInput.focus();
    return;
  }
  const button = $('#join-button');
  button.disabled = true;
  button.textContent = t('join.step2.working');
  try {
    const answer = await api('/auth/join', { method: 'POST', token: null, body: { code } });
    // The code is kept beside the join (this tab only), so that a reload can tell it is the same.
    state.join = { ...answer, code };
    joinSession.save(state.join);
    // Keep the code in the address so that a reload finds it again.
    history.replaceState(null, '', `#code=${formatCode(code)}`);
    startCall();
  } catch (err) {
    // Over already: a code whose reception is over is answered like a wrong one (so that a
    // guesser learns nothing). With this tab's own join from before for this very code (a reload
    // on the end screen), go back to the transcript and the rating if that join still reads them.
    const saved = joinSession.get();
    if (err instanceof ApiError && ['bad_join_code', 'session_ended'].includes(err.code)
      && saved && saved.code === code && await savedJoinReadsRecord(saved)) {
      state.join = saved;
      showEnded();
      return;
    }
    showError(box, err, 'join');
    codeInput.focus();
    codeInput.select();
  } finally {
    button.disabled = false;
    button.textContent = t('join.step2.submit');
  }
});

/** Whether a join kept from before may still read its session's transcript. */
async function savedJoinReadsRecord(saved) {
  try {
    await api(`/sessions/${encodeURIComponent(saved.session_id)}/transcript`, { token: saved.token });
    return true;
  } catch {
    return false;
  }
}

// ---- step 3: the call ----
function nameOf(value) {
  if (!value) return '';
  return typeof value === 'string' ? value : value.name || '';
}

function renderCallInfo() {
  const j = state.join;
  if (!j) return;
  $('#call-info').textContent = t('join.call.info', {
    court: nameOf(j.host_court),
    number: j.case_number || '',
    when: `${formatDay(j.starts_at)} ${formatTimeRange(j.starts_at, j.ends_at)}`,
  });
}

function renderCallState() {
  let key;
  if (state.socket === 'reconnecting') key = 'join.call.reconnecting';
  else if (state.socket === 'connecting') key = 'join.call.connecting';
  else if (state.place === 'waiting') key = 'join.call.waitingRoom';
  else if (!state.hostPresent) key = 'join.call.waitingHost';
  else key = 'join.call.inCall';
  $('#call-state').textContent = t(key);
  $('#call-state').dataset.state = key.split('.').pop();
  // Who they are waiting for, and since when (the moment this page first saw them waiting).
  const waiting = key === 'join.call.waitingRoom' || key === 'join.call.waitingHost';
  if (waiting && !state.waitingSince) state.waitingSince = new Date().toISOString();
  if (!waiting && key === 'join.call.inCall') state.waitingSince = null;
  // Waiting is one decision: test the line while you wait, or leave. Muting, the camera and the
  // chat come with the call: nobody sees or hears the waiting room, so they would only be
  // choices without a use (issue 18, one decision per screen).
  $('#step-call').dataset.waiting = String(waiting);
  const waitingFor = $('#waiting-for');
  waitingFor.hidden = !(waiting && state.join);
  if (waiting && state.join) {
    waitingFor.textContent = t('join.call.waitingFor', {
      court: nameOf(state.join.host_court),
      since: formatTime(state.waitingSince),
    });
  }
}

// The line test: while the petitioner waits, the same echo test a court's video room runs
// (联通测试), so that a bad line is found before the officer is waiting. It uses copies of the
// camera and microphone tracks, so the call's own mute buttons are untouched.
const lineTest = { running: false, result: null };

function renderLineTest() {
  const waiting = state.place === 'waiting' || !state.hostPresent;
  $('#line-test').hidden = !(waiting || lineTest.running || lineTest.result);
  $('#line-test-start').disabled = lineTest.running || !state.stream;
  const out = $('#line-test-result');
  const r = lineTest.result;
  if (lineTest.running) {
    out.textContent = t('join.line.running');
    out.dataset.state = 'info';
  } else if (r && r.status === 'passed') {
    out.textContent = t('join.line.passed');
    out.dataset.state = 'ok';
  } else if (r && r.status === 'failed') {
    const key = `roomtest.reason.${r.reason_code}`;
    const f = r.figures || {};
    const th = r.thresholds || {};
    const n = (v, d = 0) => (v === null || v === undefined ? '—' : Number(v).toFixed(d));
    const reason = has(key) ? t(key, {
      rtt: n(f.rtt_ms), loss: n(f.loss_percent, 1), jitter: n(f.jitter_ms), bitrate: n(f.bitrate_kbps),
      max_rtt: n(th.max_rtt_ms), max_loss: n(th.max_loss_percent, 1), max_jitter: n(th.max_jitter_ms),
      min_bitrate: n(th.min_bitrate_kbps),
    }) : (r.reason || '');
    out.textContent = t('join.line.failed', { reason });
    out.dataset.state = 'problem';
  } else {
    out.textContent = '';
  }
  out.dataset.status = r ? r.status : (lineTest.running ? 'running' : '');
}

$('#line-test-start').addEventListener('click', () => runLineTest());

async function runLineTest() {
  if (lineTest.running || !state.stream || !state.join) return;
  lineTest.running = true;
  lineTest.result = null;
  renderLineTest();
  const copies = new MediaStream(state.stream.getTracks().map((track) => track.clone()));
  try {
    lineTest.result = await runEchoTest({ stream: copies, token: state.join.token });
  } catch (err) {
    lineTest.result = { status: 'failed', reason_code: 'server_error', reason: '' };
    if (!(err instanceof ApiError)) console.error(err);
  } finally {
    for (const track of copies.getTracks()) track.stop();
    lineTest.running = false;
    renderLineTest();
    announce($('#line-test-result').textContent);
  }
}

let toggles = [];
function startCall() {
  // In the call: a reload of this tab comes straight back to it, on the same seat (the saved join
  // token), and Back asks before leaving (issue 18 item 8; see the end of this file).
  joinSession.save({ ...state.join, inCall: true });
  if (!history.state?.inCall) history.pushState({ inCall: true }, '', location.href);
  const call = new Call({
    sessionId: state.join.session_id, token: state.join.token, localStream: state.stream, resumeFrom: state.resumeFrom,
  });
  state.resumeFrom = 0;
  state.call = call;
  // Connect first, so that the WebSocket handshake runs while the call screen is laid out below
  // (tens of milliseconds of the time to the first picture). No message can arrive before this
  // function returns, so every listener added below still hears everything.
  call.connect();
  show('call');
  renderCallInfo();
  $('#chat-log').replaceChildren();
  clearError($('#call-error'));
  $('#leave-confirm').hidden = true;
  $('#local-video').srcObject = state.stream;
  for (const id of ['mic-toggle', 'cam-toggle']) {
    const old = document.getElementById(id);
    old.replaceWith(old.cloneNode(false));
  }
  toggles = [
    mountMediaToggle($('#mic-toggle'), state.stream, 'audio', call),
    mountMediaToggle($('#cam-toggle'), state.stream, 'video', call),
  ];
  clearError($('#call-notice'));
  state.place = null;
  call.addEventListener('state', (e) => {
    state.place = e.detail.state;
    renderCallState();
    renderLineTest();
  });
  call.addEventListener('mute', (e) => {
    showMessage($('#call-notice'), e.detail.kind === 'video' ? 'join.mutedVideo' : 'join.mutedAudio', 'join.muted.next');
  });
  window.courtlinkCall = call; // for status checks and browser tests
  mountRecordingBadge($('#recording-badge'), call);
  state.socket = 'connecting';
  state.hostPresent = false;
  const remote = $('#remote-videos');
  remote.replaceChildren();
  mountRemoteVideos(remote, call, {
    onChange: (count) => {
      $('.join-stage').dataset.count = String(count);
      state.hostPresent = [...call.peers.values()].some((p) => p.participant.role === 'host');
      renderCallState();
      renderLineTest();
    },
  });
  mountChat({
    form: $('#chat-form'), input: $('#chat-input'), log: $('#chat-log'), call,
    onError: (key) => showMessage($('#call-error'), key),
  });
  call.addEventListener('socket', (e) => {
    if (state.call !== call) return;
    state.socket = e.detail.state;
    renderCallState();
    if (e.detail.state === 'failed') {
      // The server refused the socket (code changed, session over …): ask for the code again.
      joinSession.clear();
      leave('failed');
    } else if (e.detail.state === 'replaced') {
      leave('replaced');
    } else if (e.detail.state === 'removed') {
      joinSession.clear();
      leave('removed');
    } else if (e.detail.state === 'full') {
      leave('full');
    } else if (e.detail.state === 'revoked') {
      // The code was replaced: only the code on the newest notice lets the petitioner in.
      joinSession.clear();
      leave('revoked');
    }
  });
  call.addEventListener('ended', (e) => {
    if (state.call !== call) return;
    state.outcome = e.detail.outcome || null;
    state.call = null;
    outOfCall();
    stopStream(state.stream);
    state.stream = null;
    // The join token is kept until the transcript and rating are done (a reload comes back here).
    showEnded();
  });
  renderCallState();
}

function renderEnded() {
  $('#ended-outcome').textContent = state.outcome
    ? t('join.ended.outcome', { outcome: tEnum('outcome', state.outcome) })
    : '';
}

// ---- after the end: the transcript, then the rating ----
function showEnded() {
  state.record = {
    loading: true, failed: false, transcript: null, pending: null, decidedBefore: false, rating: null, ratedBefore: false,
  };
  renderEnded();
  renderRecord();
  show('ended');
  announce(t('join.ended.heading'));
  loadTranscript();
}

function recordPath(suffix = '') {
  return `/sessions/${encodeURIComponent(state.join.session_id)}/transcript${suffix}`;
}

async function loadTranscript() {
  const r = state.record;
  r.loading = true;
  r.failed = false;
  clearError($('#record-error'));
  renderRecord();
  try {
    r.transcript = await api(recordPath(), { token: state.join.token });
  } catch (err) {
    r.failed = true;
    showError($('#record-error'), err, 'record');
  } finally {
    r.loading = false;
    renderRecord();
  }
}

/** The transcript needs no decision: none was written, or it is decided. */
function transcriptSettled() {
  const tr = state.record.transcript;
  return Boolean(tr && (!tr.text || tr.decision));
}

function renderRecord() {
  const r = state.record;
  const tr = r.transcript;
  const text = tr && typeof tr.text === 'string' ? tr.text : '';
  $('#record-loading').hidden = !r.loading;
  $('#record-retry').hidden = !r.failed || r.loading;
  $('#record-intro').hidden = !text || Boolean(tr.decision);
  const box = $('#transcript-text');
  box.hidden = !text;
  if (box.textContent !== text) box.textContent = text;
  $('#transcript-none').hidden = !tr || Boolean(text);
  const undecided = Boolean(text) && !tr.decision;
  $('#decision-ask').hidden = !undecided || Boolean(r.pending);
  $('#decision-check').hidden = !undecided || !r.pending;
  if (r.pending) {
    const confirmed = r.pending === 'confirmed';
    $('#decision-question').textContent = t(confirmed ? 'join.record.checkConfirm' : 'join.record.checkRefuse');
    const yes = $('#decision-yes');
    yes.textContent = t(confirmed ? 'join.record.yesConfirm' : 'join.record.yesRefuse');
    yes.className = confirmed ? 'primary big' : 'danger big';
  }
  const result = $('#decision-result');
  result.hidden = !(tr && tr.decision);
  if (tr && tr.decision) {
    const confirmed = tr.decision === 'confirmed';
    result.dataset.decision = tr.decision;
    result.replaceChildren(...[
      h('p', { class: 'decision-words' }, t(confirmed ? 'join.record.confirmed' : 'join.record.refused')),
      r.decidedBefore ? h('p', {}, t('join.record.before')) : null,
      tr.decided_at ? h('p', { class: 'hint' }, t('join.record.at', { at: formatDateTime(tr.decided_at) })) : null,
      tr.sha256 ? h('p', { class: 'hint' }, t('join.record.sha256'), ' ', h('code', { class: 'sha256' }, tr.sha256)) : null,
    ].filter(Boolean));
  }
  // The rating comes once the transcript needs nothing more (or could not be read).
  const rated = Boolean(r.rating || r.ratedBefore);
  $('#record-rating').hidden = !(transcriptSettled() || r.failed) || rated;
  $('#record-thanks').hidden = !rated;
  $('#rating-result').textContent = r.ratedBefore
    ? t('join.rating.before')
    : r.rating ? t('join.rating.done', { rating: tEnum('satisfaction', r.rating) }) : '';
}

function askDecision(decision) {
  state.record.pending = decision;
  clearError($('#record-error'));
  renderRecord();
  $('#decision-yes').focus();
}

$('#transcript-confirm').addEventListener('click', () => askDecision('confirmed'));
$('#transcript-refuse').addEventListener('click', () => askDecision('refused'));
$('#decision-back').addEventListener('click', () => {
  const was = state.record.pending;
  state.record.pending = null;
  renderRecord();
  $(was === 'refused' ? '#transcript-refuse' : '#transcript-confirm').focus();
});
$('#record-retry').addEventListener('click', loadTranscript);

$('#decision-yes').addEventListener('click', async () => {
  const r = state.record;
  const decision = r.pending;
  if (!decision) return;
  const yes = $('#decision-yes');
  yes.disabled = true;
  clearError($('#record-error'));
  try {
    r.transcript = await api(recordPath('/decision'), { method: 'POST', token: state.join.token, body: { decision } });
    r.pending = null;
    announce(t(decision === 'confirmed' ? 'join.record.confirmed' : 'join.record.refused'));
  } catch (err) {
    if (err instanceof ApiError && err.code === 'already_done') {
      // Decided before (another tab, a double press): show what was recorded.
      r.pending = null;
      r.decidedBefore = true;
      try {
        r.transcript = await api(recordPath(), { token: state.join.token });
      } catch (again) {
        showError($('#record-error'), again, 'record');
      }
    } else {
      showError($('#record-error'), err, 'decision');
    }
  } finally {
    yes.disabled = false;
    renderRecord();
  }
  if (!$('#record-rating').hidden) $('#record-rating').focus();
});

for (const button of document.querySelectorAll('[data-testid=rating-button]')) {
  button.addEventListener('click', async () => {
    const r = state.record;
    const satisfaction = button.dataset.value;
    const buttons = [...document.querySelectorAll('[data-testid=rating-button]')];
    for (const b of buttons) b.disabled = true;
    clearError($('#rating-error'));
    try {
      await api(`/sessions/${encodeURIComponent(state.join.session_id)}/rating`, {
        method: 'POST', token: state.join.token, body: { satisfaction },
      });
      r.rating = satisfaction;
    } catch (err) {
      if (err instanceof ApiError && err.code === 'already_done') r.ratedBefore = true;
      else showError($('#rating-error'), err, 'rating');
    } finally {
      for (const b of buttons) b.disabled = false;
    }
    renderRecord();
    if (r.rating || r.ratedBefore) {
      // All done: this browser need not come back to this session.
      joinSession.clear();
      $('#record-thanks').focus();
      announce($('#rating-result').textContent);
    }
  });
}

/** No longer in the call: a reload goes the ordinary way again (the code, then the record). */
function outOfCall() {
  const saved = joinSession.get();
  if (saved?.inCall) joinSession.save({ ...saved, inCall: false });
}

function leave(reason) {
  state.leftReason = reason;
  outOfCall();
  if (state.call) {
    const call = state.call;
    state.call = null;
    call.hangup();
  }
  // Out of the call, the camera and microphone go off (issue 18 item 7); 重新进入 opens them again.
  stopStream(state.stream);
  state.stream = null;
  $('#local-video').srcObject = null;
  $('#remote-videos').replaceChildren();
  renderLeft();
  show('left');
}

function renderLeft() {
  $('#left-body').textContent = t(`join.left.${state.leftReason}`);
}

$('#leave-button').addEventListener('click', () => {
  $('#leave-confirm').hidden = false;
  $('#leave-no').focus();
});
$('#leave-no').addEventListener('click', () => {
  $('#leave-confirm').hidden = true;
  $('#leave-button').focus();
});
$('#leave-yes').addEventListener('click', () => leave('left'));

$('#rejoin').addEventListener('click', async () => {
  if (!state.stream) {
    const { stream } = await openLocalMedia();
    state.stream = stream;
  }
  // The join token may still be good; if not, ask for a fresh one with the code.
  const saved = joinSession.get();
  if (saved) {
    state.join = saved;
    startCall();
    return;
  }
  show('code');
  $('#join-button').focus();
});

onLangChange(() => {
  deviceCheck.render();
  if (state.step === 'device') renderDevice();
  renderCallInfo();
  renderCallState();
  renderLineTest();
  renderEnded();
  if (state.step === 'ended') renderRecord();
  renderLeft();
  for (const render of toggles) render();
});

// No `leave` on unload: a reload (what people try first when something looks wrong) then counts
// as a dropped line, and the server keeps the petitioner's place — admitted, not back in the
// waiting room. The 离开 button does send `leave`.

// Leaving the page in the call (a reload, most likely): keep the last seq seen, so that the
// page coming back resumes on the same seat instead of joining afresh.
window.addEventListener('pagehide', () => {
  const saved = joinSession.get();
  if (state.call && saved?.inCall) joinSession.save({ ...saved, lastSeq: state.call.lastSeq });
});

// Back during the call asks first, with the same question as the 离开 button: the call keeps its
// own history entry (pushed by startCall), so Back only comes here, and the entry is put back.
window.addEventListener('popstate', () => {
  if (state.step !== 'call' || !state.call) return;
  history.pushState({ inCall: true }, '', location.href);
  $('#leave-confirm').hidden = false;
  $('#leave-no').focus();
});

/**
 * A reload in the call (what people try first when something looks wrong) goes straight back in:
 * the same code in the address, this tab's join from before still marked as in the call. The
 * saved token is the same seat, so the server lets the petitioner back in without the waiting
 * room. If the token no longer holds, the socket says so and the page shows why (`leave`).
 */
function resumeAfterReload() {
  const saved = joinSession.get();
  if (!saved?.inCall || !initialCode || saved.code !== initialCode) return false;
  state.join = saved;
  state.resumeFrom = saved.lastSeq || 0;
  show('call');
  renderCallInfo();
  openLocalMedia().then(({ stream, problem }) => {
    state.stream = stream;
    state.problem = problem;
    startCall();
  });
  return true;
}

if (!resumeAfterReload()) {
  show('device');
  checkDevices();
}
