// roomtest.html: the room terminal's connectivity test (联通测试) against CourtLink's own peer.
// The page sends the camera and microphone and a data channel; the server echoes both back and
// measures the line from its side (docs/connectivity.md). The page echoes the server's probes
// (`p:<n>`), times its own (`c:<ms>`), and reports what it saw as extra evidence.
import { t, onLangChange, formatDateTime } from './i18n.js';
import { api } from './api.js';
import { $, h, startPage, requireStaff, staffHeader, showError, showMessage, clearError, handleAuthError, announce } from './ui.js';

const auth = requireStaff(['coordinator', 'officer', 'supervisor']);
if (auth) main(auth);

// Failure codes the server gives (server/src/connectivity/measure.rs and peer.rs).
const REASONS = {
  ice_failed: 'roomtest.reason.ice_failed',
  connection_lost: 'roomtest.reason.connection_lost',
  closed: 'roomtest.reason.connection_lost',
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

const GATHER_MS = 5000;
const POLL_MS = 500;

function main({ user }) {
  startPage();
  staffHeader(user);
  const state = { rooms: [], roomId: '', running: false, last: null };
  const pageError = $('#page-error');
  const testError = $('#test-error');
  const progress = $('#progress');
  const startButton = $('#start-test');
  const select = $('#room-select');

  function fail(box, err) {
    if (handleAuthError(err)) return;
    showError(box, err);
  }

  async function loadRooms() {
    try {
      state.rooms = await api('/connectivity/rooms');
      if (!state.roomId && state.rooms.length) state.roomId = String(state.rooms[0].id);
      renderRooms();
    } catch (err) {
      fail(pageError, err);
    }
  }

  function renderRooms() {
    select.replaceChildren(...state.rooms.map((r) => h('option', { value: r.id, selected: String(r.id) === state.roomId }, r.name)));
    startButton.disabled = state.running || !state.rooms.length;
    const room = state.rooms.find((r) => String(r.id) === state.roomId);
    const history = $('#history');
    const tests = room ? room.tests : [];
    history.replaceChildren(...(tests.length
      ? tests.map((x) => h('li', { class: 'session-item', 'data-testid': 'history-item' },
        h('strong', {}, t(STATUS[x.status] || 'roomtest.status.running')), ' ',
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
      local: f.local_candidate || '—', remote: f.remote_candidate || '—',
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

  function showResult(x) {
    state.last = x;
    const box = $('#result');
    const passed = x.status === 'passed';
    box.dataset.status = x.status;
    box.classList.toggle('result-failed', !passed);
    $('#result-heading').textContent = t(passed ? 'roomtest.result.passed' : 'roomtest.result.failed');
    $('#result-reason').textContent = passed ? '' : reasonText(x);
    $('#result-reason').hidden = passed;
    $('#result-figures').textContent = figuresText(x);
    box.hidden = false;
    box.focus();
    announce($('#result-heading').textContent);
  }

  onLangChange(() => {
    renderRooms();
    if (state.last) showResult(state.last);
  });

  function waitForGathering(pc) {
    if (pc.iceGatheringState === 'complete') return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, GATHER_MS);
      pc.addEventListener('icegatheringstatechange', () => {
        if (pc.iceGatheringState === 'complete') {
          clearTimeout(timer);
          resolve();
        }
      });
    });
  }

  async function clientFigures(pc, rtts) {
    const report = { rtt_ms: null, frames_decoded: null, candidate_rtt_ms: null };
    if (rtts.length) {
      const sorted = [...rtts].sort((a, b) => a - b);
      report.rtt_ms = Math.round(sorted[Math.floor(sorted.length / 2)] * 10) / 10;
    }
    try {
      const stats = await pc.getStats();
      stats.forEach((s) => {
        if (s.type === 'inbound-rtp' && s.kind === 'video') report.frames_decoded = s.framesDecoded ?? null;
        if (s.type === 'candidate-pair' && s.nominated && s.currentRoundTripTime !== undefined) {
          report.candidate_rtt_ms = Math.round(s.currentRoundTripTime * 10000) / 10;
        }
      });
    } catch {
      // Stats are extra evidence only.
    }
    return report;
  }

  async function runTest() {
    if (state.running || !state.roomId) return;
    state.running = true;
    startButton.disabled = true;
    clearError(testError);
    $('#result').hidden = true;
    progress.textContent = t('roomtest.progress.devices');
    let stream = null;
    let pc = null;
    let probeTimer = null;
    try {
      try {
        stream = await navigator.mediaDevices.getUserMedia({ audio: true, video: { width: 640, height: 480 } });
      } catch {
        showMessage(testError, 'roomtest.devices.failed', 'roomtest.devices.failed.next');
        return;
      }
      $('#local-video').srcObject = stream;
      pc = new RTCPeerConnection({ iceServers: [] });
      for (const track of stream.getTracks()) pc.addTrack(track, stream);
      const echoStream = new MediaStream();
      pc.addEventListener('track', (event) => {
        echoStream.addTrack(event.track);
        $('#echo-video').srcObject = echoStream;
      });
      const channel = pc.createDataChannel('courtlink-echo', { ordered: false, maxRetransmits: 0 });
      const rtts = [];
      channel.addEventListener('message', (event) => {
        const text = typeof event.data === 'string' ? event.data : '';
        if (text.startsWith('p:')) {
          channel.send(text); // the server's probe: straight back
        } else if (text.startsWith('c:')) {
          const sent = Number(text.split(':')[1]);
          if (Number.isFinite(sent)) rtts.push(performance.now() - sent);
        }
      });
      channel.addEventListener('open', () => {
        probeTimer = setInterval(() => {
          if (channel.readyState === 'open') channel.send(`c:${performance.now()}`);
        }, 200);
      });
      progress.textContent = t('roomtest.progress.offer');
      await pc.setLocalDescription(await pc.createOffer());
      await waitForGathering(pc);
      const started = await api('/connectivity/tests', {
        method: 'POST',
        body: { room_id: Number(state.roomId), offer: { type: 'offer', sdp: pc.localDescription.sdp } },
      });
      await pc.setRemoteDescription(started.answer);
      const began = Date.now();
      let result = null;
      for (;;) {
        await new Promise((resolve) => setTimeout(resolve, POLL_MS));
        const seconds = Math.round((Date.now() - began) / 1000);
        progress.textContent = pc.connectionState === 'connected'
          ? t('roomtest.progress.measuring', { seconds, total: started.measure_seconds })
          : t('roomtest.progress.connecting', { seconds });
        result = await api(`/connectivity/tests/${started.test_id}`);
        if (result.status !== 'running') break;
      }
      try {
        await api(`/connectivity/tests/${started.test_id}/report`, { method: 'POST', body: await clientFigures(pc, rtts) });
      } catch {
        // The client's figures are extra evidence; the verdict is the server's.
      }
      progress.textContent = '';
      showResult(result);
      await loadRooms();
    } catch (err) {
      progress.textContent = '';
      fail(testError, err);
    } finally {
      if (probeTimer) clearInterval(probeTimer);
      if (pc) pc.close();
      if (stream) for (const track of stream.getTracks()) track.stop();
      state.running = false;
      startButton.disabled = !state.rooms.length;
    }
  }

  startButton.addEventListener('click', runTest);
  loadRooms();
}
