// The recorder connection (issue 20, docs/recording.md): a second RTCPeerConnection from this
// page to CourtLink's own receive-only peer, which writes what this participant sends to a WebM
// file. It carries the very MediaStreamTracks the call sends (sendonly transceivers), so nothing
// is captured twice and nothing here may stop a track: the call still uses them.
//
// One offer, not trickled (ICE gathering completes first, as js/echotest.js does), POSTed to
// `/sessions/{id}/recording`; the answer comes back in the response. The same ICE servers as the
// call (its TURN relay), since the recorder stands where the call's server does.
//
// While the server says the session is recorded (`recording` message, state `on` or
// `interrupted`) and this participant is in the call, the connection is kept up: refused with
// 503 `recorder_unavailable` (or any failure of the network), failed, or disconnected for longer
// than DISCONNECTED_GRACE_MS, it is closed and a new one is offered (a new part of the file)
// after a backoff. `off`, leaving, the end and the page going away close it.
//
// Events (CustomEvent): `status` {status: 'idle'|'connecting'|'connected'|'retrying'|'refused', recordingId}.
import { api, ApiError } from './api.js';

const GATHER_MS = 5000;
const DISCONNECTED_GRACE_MS = 4000;
const BACKOFF_FIRST_MS = 1000;
const BACKOFF_MAX_MS = 30000;

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

export class RecorderLink extends EventTarget {
  /**
   * @param {object} options
   * @param {string|number} options.sessionId
   * @param {string|undefined} options.token  the petitioner's join token; undefined on a staff
   *   page, where api.js sends the staff token and renews it when refused
   * @param {function(): (MediaStream|null)} options.stream  the call's local stream
   * @param {function(): Array} options.iceServers  the call's ICE servers (from `welcome`)
   * @param {number} options.maxVideoKbps  the call's cap on what one camera sends
   */
  constructor({ sessionId, token, stream, iceServers, maxVideoKbps }) {
    super();
    this.sessionId = sessionId;
    this.token = token;
    this.maxVideoKbps = maxVideoKbps;
    this.stream = stream;
    this.iceServers = iceServers;
    this.wanted = false; // recording on and we are in the call
    this.pc = null;
    this.recordingId = null;
    this.status = 'idle';
    this.attempt = 0; // the connection being made; a newer one makes older ones moot
    this.failures = 0;
    this.retryTimer = null;
    this.graceTimer = null;
    // Each connection that reached `connected`: {connectedAt, closedAt} (ms since the epoch), for
    // tests and diagnostics (a recorded part should last about as long as its connection).
    this.history = [];
    this.onPageHide = () => this.stop();
    window.addEventListener('pagehide', this.onPageHide);
  }

  setStatus(status) {
    if (this.status === status) return;
    this.status = status;
    this.dispatchEvent(new CustomEvent('status', { detail: { status, recordingId: this.recordingId } }));
  }

  /** Keep a connection up (true) or close it (false). Idempotent. */
  want(on) {
    if (on && !this.wanted) {
      this.wanted = true;
      this.failures = 0;
      if (!this.pc && !this.retryTimer) this.open();
    } else if (!on && this.wanted) {
      this.stop();
    }
  }

  /**
   * The server spoke again about the recording (a `recording` message while it is on or
   * interrupted): a page that was refused asks once more, since what refused it may have changed.
   */
  nudge() {
    if (this.wanted && this.status === 'refused' && !this.pc && !this.retryTimer) this.open();
  }

  /** Close the connection and stop retrying; the tracks stay with the call. */
  stop() {
    this.wanted = false;
    this.attempt += 1;
    clearTimeout(this.retryTimer);
    clearTimeout(this.graceTimer);
    this.retryTimer = null;
    this.graceTimer = null;
    this.closePc();
    this.setStatus('idle');
  }

  /** For good: the call is over. */
  dispose() {
    this.stop();
    window.removeEventListener('pagehide', this.onPageHide);
  }

  closePc() {
    const pc = this.pc;
    this.pc = null;
    this.recordingId = null;
    const open = this.history[this.history.length - 1];
    if (pc && open && open.pc === pc && !open.closedAt) open.closedAt = Date.now();
    if (pc) {
      // close() ends the transceivers, not the tracks: the call keeps sending them.
      try {
        pc.close();
      } catch {
        /* already closed */
      }
    }
  }

  retry() {
    this.closePc();
    if (!this.wanted) return;
    clearTimeout(this.retryTimer);
    const delay = Math.min(BACKOFF_FIRST_MS * 2 ** this.failures, BACKOFF_MAX_MS);
    this.failures += 1;
    this.setStatus('retrying');
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      if (this.wanted && !this.pc) this.open();
    }, delay);
  }

  async open() {
    const stream = this.stream();
    const tracks = stream ? stream.getTracks().filter((tr) => tr.readyState === 'live') : [];
    // Nothing to record from this page (an observer, or no camera and no microphone).
    if (!tracks.length) {
      this.setStatus('idle');
      return;
    }
    const attempt = ++this.attempt;
    const current = () => attempt === this.attempt && this.wanted;
    this.setStatus('connecting');
    const pc = new RTCPeerConnection({ iceServers: this.iceServers() || [] });
    this.pc = pc;
    try {
      for (const track of tracks) pc.addTransceiver(track, { direction: 'sendonly', streams: [stream] });
      pc.addEventListener('connectionstatechange', () => this.onState(pc));
      await pc.setLocalDescription(await pc.createOffer());
      await waitForGathering(pc);
      if (!current()) return;
      const answer = await api(`/sessions/${encodeURIComponent(this.sessionId)}/recording`, {
        method: 'POST', token: this.token, body: { offer: { type: 'offer', sdp: pc.localDescription.sdp } },
      });
      if (!current() || this.pc !== pc) return;
      this.recordingId = answer.recording_id ?? null;
      await pc.setRemoteDescription(answer.answer);
      await capVideo(pc, this.maxVideoKbps);
    } catch (err) {
      if (!current() || this.pc !== pc) return;
      // Retried with backoff: 503 recorder_unavailable, the network, and 409 not_recording (the
      // `on` message can overtake the server's own start; `off` stops the retries). Other
      // refusals (401, 403, 404, 409 session_ended) will not change by asking again.
      if (err instanceof ApiError && err.status >= 400 && err.status < 500 && err.status !== 429 && err.code !== 'not_recording') {
        console.warn('courtlink: the recorder refused this page', err.code);
        this.closePc();
        this.setStatus('refused');
        return;
      }
      if (!(err instanceof ApiError)) console.warn('courtlink: recorder connection failed', err);
      this.retry();
    }
  }

  onState(pc) {
    if (this.pc !== pc) return;
    const state = pc.connectionState;
    if (state === 'connected') {
      clearTimeout(this.graceTimer);
      this.graceTimer = null;
      this.failures = 0;
      const last = this.history[this.history.length - 1];
      if (!last || last.pc !== pc) this.history.push({ pc, connectedAt: Date.now(), closedAt: null });
      this.setStatus('connected');
    } else if (state === 'failed' || state === 'closed') {
      clearTimeout(this.graceTimer);
      this.graceTimer = null;
      this.retry();
    } else if (state === 'disconnected' && !this.graceTimer) {
      // `disconnected` often mends itself within a second or two (a lost burst of packets);
      // a new part is only worth it when it does not.
      this.graceTimer = setTimeout(() => {
        this.graceTimer = null;
        if (this.pc === pc && pc.connectionState !== 'connected') this.retry();
      }, DISCONNECTED_GRACE_MS);
    }
  }

  /** For tests and the bandwidth figure: the recorder connection's outbound RTP, summed. */
  async stats() {
    const out = { status: this.status, connectionState: this.pc?.connectionState || 'none',
      parts: this.history.map(({ connectedAt, closedAt }) => ({ connectedAt, closedAt })), recordingId: this.recordingId, bytesSent: 0, packetsSent: 0, framesEncoded: 0, at: performance.now() };
    if (!this.pc) return out;
    try {
      (await this.pc.getStats()).forEach((s) => {
        if (s.type !== 'outbound-rtp') return;
        out.bytesSent += s.bytesSent || 0;
        out.packetsSent += s.packetsSent || 0;
        if (s.kind === 'video') out.framesEncoded += s.framesEncoded || 0;
      });
    } catch {
      /* closed meanwhile */
    }
    return out;
  }
}

/** The same cap on the camera as the call's own senders (call.js VIDEO_SEND_MAX_KBPS). */
async function capVideo(pc, kbps) {
  if (!kbps) return;
  for (const sender of pc.getSenders()) {
    if (sender.track?.kind !== 'video') continue;
    const params = sender.getParameters();
    if (!params.encodings || !params.encodings.length) continue;
    for (const e of params.encodings) e.maxBitrate = kbps * 1000;
    try {
      await sender.setParameters(params);
    } catch (err) {
      console.warn('courtlink: could not cap the recorder video bitrate', err);
    }
  }
}
