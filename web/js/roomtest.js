// roomtest.html: the room terminal's connectivity test (联通测试) against CourtLink's own peer.
// The page sends the camera and microphone and a data channel; the server echoes both back and
// measures the line from its side (docs/connectivity.md). The page echoes the server's probes
// (`p:<n>`), times its own (`c:<ms>`), and reports what it saw as extra evidence.
import { t, tEnum, onLangChange, formatDateTime } from './i18n.js';
import { api } from './api.js';
import { runEchoTest } from './echotest.js';
import { $, h, startPage, requireStaff, staffHeader, showError, showMessage, clearError, handleAuthError, announce } from './ui.js';

const auth = requireStaff(['coordinator', 'officer', 'supervisor']);
if (auth) main(auth);

// Failure codes the server gives (server/src/connectivity/measure.rs and peer.rs).
const REASONS = {
  ice_failed: 'roomtest.reason.ice_failed',
  connection_lost: 'roomtest.reason.connection_lost',
  closed: 'roomtest.reason.closed',
  no_echo: 'roomtest.reason.no_echo',
  no_media: 'roomtest.reason.no_media',
  rtt_too_high: 'roomtest.reason.rtt_too_high',
  loss_too_high: 'roomtest.reason.loss_too_high',
  jitter_too_high: 'roomtest.reason.jitter_too_high',
  bitrate_too_low: 'roomtest.reason.bitrate_too_low',
  abandoned: 'roomtest.reason.abandoned',
  server_error: 'roomtest.reason.server_error',
};
const STATUS = { running: 'roomtest.status.running', passed: 'roomtest.status.passed', failed: 'roomtest.status.failed' };

function main({ user }) {
  startPage();
  staffHeader(user);
  const state = { rooms: [], roomId: '', running: false, last: null, incoming: null };
  const pageError = $('#page-error');
  const testError = $('#test-error');
  const progress = $('#progress');
  const startButton = $('#start-test');
  const select = $('#room-select');

  function fail(box, err) {
    if (handleAuthError(err)) return;
    showError(box, err);
  }

  // The court's rooms (GET /connectivity/rooms): its local video rooms (`local`) and its own
  // reception rooms (`host`, a host court's 接谈室), told apart by kind.
  const keyOf = (r) => `${r.kind || 'local'}:${r.id}`;
  const roomName = (r) => (r.kind === 'host' ? t('roomtest.hostRoom', { name: r.name }) : r.name);

  async function loadRooms() {
    try {
      state.rooms = await api('/connectivity/rooms');
      // A host court's officer has no local room: the court's own reception rooms come first.
      if (!state.rooms.some((r) => keyOf(r) === state.roomId) && state.rooms.length) state.roomId = keyOf(state.rooms[0]);
      renderRooms();
    } catch (err) {
      fail(pageError, err);
    }
  }

  // A host court's officers and supervisors: the local rooms that will call this court this week,
  // the failed and untested first, with whom to call (GET /connectivity/incoming).
  const hosts = user.role === 'officer' || user.role === 'supervisor';
  async function loadIncoming() {
    if (!hosts) return;
    try {
      state.incoming = await api('/connectivity/incoming');
      renderIncoming();
    } catch (err) {
      fail(pageError, err);
    }
  }

  function renderIncoming() {
    if (!state.incoming) return;
    $('#incoming-panel').hidden = false;
    $('#incoming').replaceChildren(...(state.incoming.length
      ? state.incoming.map((r) => {
        const last = r.tests[0];
        const status = last ? statusText(last) : t('roomtest.incoming.untested');
        return h('li', {
          class: `session-item card${last?.status === 'failed' || !last ? ' needs-move' : ''}`,
          'data-testid': 'incoming-room', 'data-room-id': r.id, 'data-state': last ? last.status : 'untested',
        },
        h('p', {}, h('strong', {}, `${r.court_name} · ${r.name}`), ' ', h('span', { class: 'badge' }, status)),
        h('p', { class: 'hint' }, t('roomtest.incoming.first', { at: formatDateTime(r.first_session_at) })),
        last ? h('p', {}, formatDateTime(last.started_at), ' ', last.status === 'failed' ? reasonText(last) : figuresText(last)) : null,
        (last?.status === 'failed' || !last)
          ? h('p', { 'data-testid': 'incoming-support' }, r.tech_support
            ? t('roomtest.incoming.call', { name: r.tech_support.name, phone: r.tech_support.phone })
            : t('roomtest.incoming.noSupport'))
          : null);
      })
      : [h('li', { class: 'empty' }, t('roomtest.incoming.none'))]));
  }

  function renderRooms() {
    const none = !state.rooms.length;
    $('#no-rooms').hidden = !none;
    $('#room-field').hidden = none;
    startButton.hidden = none;
    // The two pictures show only while a test runs: before, and once its tracks are released,
    // they would be two black boxes that look like a broken camera.
    document.querySelector('.roomtest-videos').hidden = none || !state.running;
    $('#history-panel').hidden = none;
    select.replaceChildren(...state.rooms.map((r) => h('option', {
      value: keyOf(r), selected: keyOf(r) === state.roomId, 'data-kind': r.kind || 'local', 'data-room-id': r.id,
    }, roomName(r))));
    startButton.disabled = state.running || !state.rooms.length;
    const room = state.rooms.find((r) => keyOf(r) === state.roomId);
    const history = $('#history');
    const tests = room ? room.tests : [];
    history.replaceChildren(...(tests.length
      ? tests.map((x) => h('li', { class: 'session-item', 'data-testid': 'history-item' },
        h('strong', {}, statusText(x)), ' ',
        formatDateTime(x.started_at), ' ',
        x.status === 'failed' ? reasonText(x) : figuresText(x)))
      : [h('li', { class: 'empty' }, t('roomtest.history.none'))]));
  }

  select.addEventListener('change', () => {
    state.roomId = select.value;
    renderRooms();
  });

  function num(v, digits = 0) {
    return v === null || v === undefined ? '—' : Number(v).toFixed(digits);
  }

  function figuresText(x) {
    const f = x.figures || {};
    return t('roomtest.figures', {
      rtt: num(f.rtt_ms), loss: num(f.loss_percent, 1), jitter: num(f.jitter_ms), bitrate: num(f.bitrate_kbps),
      connect: num(f.connect_ms === null || f.connect_ms === undefined ? null : f.connect_ms / 1000, 1),
      local: tEnum('candidate', f.local_candidate) || '—', remote: tEnum('candidate', f.remote_candidate) || '—',
    });
  }

  function reasonText(x) {
    const key = REASONS[x.reason_code];
    const th = x.thresholds || {};
    const f = x.figures || {};
    if (!key) return x.reason || '';
    return t(key, {
      rtt: num(f.rtt_ms), loss: num(f.loss_percent, 1), jitter: num(f.jitter_ms), bitrate: num(f.bitrate_kbps),
      max_rtt: num(th.max_rtt_ms), max_loss: num(th.max_loss_percent, 1), max_jitter: num(th.max_jitter_ms),
      min_bitrate: num(th.min_bitrate_kbps),
    });
  }

  /** What the client found of the court's relay: this run's, or a stored test's report. */
  function relayOf(x) {
    const relay = x.relay || x.client_report?.relay;
    return Array.isArray(relay) ? relay : [];
  }

  /** A test's status in words: a pass whose relay was not reached is not a plain 通过. */
  function statusText(x) {
    if (x.status === 'passed' && relayOf(x).length && relayText(x).state !== 'ok') return t('roomtest.status.passedRelay');
    return t(STATUS[x.status] || 'roomtest.status.running');
  }

  /** Whether the room reached the court's relay over UDP and TCP, and what to do if not. */
  function relayText(x) {
    const relay = relayOf(x);
    const reached = (transport) => relay.some((r) => r.transport === transport && r.reached);
    const tried = (transport) => relay.some((r) => r.transport === transport);
    const udp = reached('udp');
    const tcp = reached('tcp');
    let state = 'ok';
    let key = 'roomtest.relay.ok';
    if (!udp && !tcp) {
      state = 'none';
      key = 'roomtest.relay.none';
    } else if (tried('udp') && !udp) {
      state = 'partial';
      key = 'roomtest.relay.udp_blocked';
    } else if (tried('tcp') && !tcp) {
      state = 'partial';
      key = 'roomtest.relay.tcp_blocked';
    }
    const over = [udp ? 'UDP' : null, tcp ? 'TCP' : null].filter(Boolean).join(t('roomtest.relay.and'));
    let text = t(key, { over });
    if (state !== 'ok') {
      text += ' ' + (x.support
        ? t('roomtest.relay.support', { name: x.support.name, phone: x.support.phone })
        : t('roomtest.relay.support.none'));
    }
    return { state, text };
  }

  function showResult(x) {
    state.last = x;
    const box = $('#result');
    const passed = x.status === 'passed';
    box.dataset.status = x.status;
    box.classList.toggle('result-failed', !passed);
    $('#result-figures').textContent = figuresText(x);
    const relayLine = $('#result-relay');
    relayLine.hidden = !relayOf(x).length;
    let relayNamesSupport = false;
    if (!relayLine.hidden) {
      const { state: relayState, text } = relayText(x);
      relayLine.dataset.state = relayState;
      relayLine.textContent = text;
      relayNamesSupport = relayState !== 'ok';
    }
    // A pass whose relay is not reached is not all green: the echo ran without the relay, and a
    // call that needs it will not connect.
    const warned = passed && relayNamesSupport;
    box.classList.toggle('result-warning', warned);
    $('#result-heading').textContent = t(!passed ? 'roomtest.result.failed' : warned ? 'roomtest.result.passedRelay' : 'roomtest.result.passed');
    // A failed test names the court's technical-support person to call (its directory; issue
    // 16), unless the relay line already does.
    const support = x.support
      ? t('roomtest.relay.support', { name: x.support.name, phone: x.support.phone })
      : t('roomtest.relay.support.none');
    $('#result-reason').textContent = passed ? '' : [reasonText(x), relayNamesSupport ? '' : support].filter(Boolean).join(' ');
    $('#result-reason').hidden = passed;
    box.hidden = false;
    box.focus();
    announce($('#result-heading').textContent);
  }

  onLangChange(() => {
    renderRooms();
    renderIncoming();
    if (state.last) showResult(state.last);
  });

  async function runTest() {
    if (state.running || !state.roomId) return;
    state.running = true;
    startButton.disabled = true;
    clearError(testError);
    $('#result').hidden = true;
    progress.textContent = t('roomtest.progress.devices');
    let stream = null;
    try {
      try {
        stream = await navigator.mediaDevices.getUserMedia({ audio: true, video: { width: 640, height: 480 } });
      } catch {
        showMessage(testError, 'roomtest.devices.failed', 'roomtest.devices.failed.next');
        return;
      }
      $('#local-video').srcObject = stream;
      document.querySelector('.roomtest-videos').hidden = false;
      const room = state.rooms.find((r) => keyOf(r) === state.roomId);
      const result = await runEchoTest({
        stream,
        ...(room?.kind === 'host' ? { hostRoomId: room.id } : { roomId: room?.id }),
        onEcho: (echo) => { $('#echo-video').srcObject = echo; },
        onProgress: (phase, { seconds, total }) => {
          progress.textContent = phase === 'offer'
            ? t('roomtest.progress.offer')
            : t(`roomtest.progress.${phase}`, { seconds, total });
        },
      });
      progress.textContent = '';
      showResult(result);
      await loadRooms();
    } catch (err) {
      progress.textContent = '';
      fail(testError, err);
    } finally {
      if (stream) for (const track of stream.getTracks()) track.stop();
      state.running = false;
      document.querySelector('.roomtest-videos').hidden = true;
      $('#local-video').srcObject = null;
      $('#echo-video').srcObject = null;
      startButton.disabled = !state.rooms.length;
    }
  }

  startButton.addEventListener('click', runTest);
  loadRooms();
  loadIncoming();
}
