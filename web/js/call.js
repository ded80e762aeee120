// The WebRTC call over the CourtLink signalling socket (docs/signalling.md).
//
// One RTCPeerConnection per remote participant. The newcomer (impolite towards everyone
// already there, as the server's `polite` flags say) makes the first offer; the side that
// was there first waits for it. Renegotiation follows the perfect negotiation pattern:
// the polite side rolls back on glare, the impolite side ignores the colliding offer.
//
// Beyond docs/signalling.md v1 this follows the server's waiting room (a petitioner waits until
// a host admits it), host requests (remove, mute), `leave`, and resuming after a dropped line
// with the `resume.<seq>` subprotocol.
//
// Events (CustomEvent, details in `event.detail`):
//   welcome      {you, participants, state}
//   state        {state: 'waiting'|'admitted'}   our own place: waiting room or in the call
//   waitingroom  {waiting: [participant]}       (hosts) who waits to be admitted
//   peer         {peer}                 a peer was added, or its stream/state changed
//   peerleft     {id}
//   chat         {from, name, text, at, seq, mine}
//   mute         {by, kind}             a host muted our microphone or camera
//   removed      {by}                   a host sent us out
//   ended        {outcome}
//   servererror  {code, message}
//   socket       {state: 'connecting'|'open'|'reconnecting'|'closed'|'failed'|'replaced'|'removed'|'full'|'revoked'}
//   quality      {rtt_ms, packet_loss, bitrate_kbps, video, grade}   a quality report just sent
//   recording    {state: 'on'|'interrupted'|'off', at}   the server's word on the session's recording
//   recorder     {status: 'idle'|'connecting'|'connected'|'retrying'|'refused'}   our own connection to it
//
// The session is recorded (issue 20, docs/recording.md): while the server says `on` or
// `interrupted` and we are in the call, a second peer connection (js/recorder.js) sends our own
// camera and microphone tracks to CourtLink's recorder. It never touches the call's peer
// connections, and closes on `off`, on leaving, at the end and when the page goes away.
//
// Every QUALITY_EVERY_MS (10 s) while at least one peer connection is `connected`, the call
// reports its connection quality to the server (`quality`, kept on the session's timeline):
// the selected ICE candidate pair's round-trip time, the share of inbound RTP packets lost and
// the inbound bitrate, both over the last period. A test may shorten the period by setting
// `window.COURTLINK_QUALITY_MS` before the page's scripts run.

import { RecorderLink } from './recorder.js';

const PROTOCOL = 'courtlink.v1';
const MAX_RECONNECTS = 8;
// Close codes (server/src/signalling/protocol.rs).
const CLOSE_REPLACED = 4000;
const CLOSE_REMOVED = 4001;
const CLOSE_REVOKED = 4003; // the token no longer holds: a new join code, a logout, a disabled account
const CLOSE_REFUSED = 4009; // e.g. the session is full
const CLOSE_RESTARTING = 1012;
const QUALITY_EVERY_MS = 10000;
// A peer's media is watched every second; none for 3 s (or its connection down) is a dropped
// line: shown on its tile and reported (`media`, kept on the timeline), and so is its return.
const MEDIA_CHECK_MS = 1000;
const MEDIA_LOST_AFTER_MS = 3000;
const MAX_OUTAGE_SECONDS = 86400;
// The bounds the server accepts (docs/signalling.md).
const MAX_RTT_MS = 60000;
const MAX_BITRATE_KBPS = 1000000;
// What one camera may send to one peer. 720p at 1.5 Mbit/s is a clear face; more buys little and
// a court's relay carries every relayed call twice (docs/deploy.md sizes it from this figure).
export const VIDEO_SEND_MAX_KBPS = 1500;

/**
 * The line's grade from a quality report (docs/connectivity.md, "The line during a call"):
 * 'poor' with a round trip of 600 ms or more, 8 % of packets lost or more, or under 100 kbit/s
 * of picture; 'fair' from 300 ms, 2 %, or under 250 kbit/s of picture; 'good' otherwise. The
 * bitrate counts only while a picture is expected (`video`): a peer with its camera off sends
 * little, and that is not a bad line.
 */
export function qualityGrade({ rtt_ms: rtt, packet_loss: loss, bitrate_kbps: kbps, video }) {
  if (rtt >= 600 || loss >= 0.08 || (video && kbps < 100)) return 'poor';
  if (rtt >= 300 || loss >= 0.02 || (video && kbps < 250)) return 'fair';
  return 'good';
}

/** Cap what each camera sends (VIDEO_SEND_MAX_KBPS), once the sender has its encodings. */
async function capVideoSenders(pc) {
  for (const sender of pc.getSenders()) {
    if (sender.track?.kind !== 'video') continue;
    const params = sender.getParameters();
    if (!params.encodings || !params.encodings.length) continue;
    const cap = VIDEO_SEND_MAX_KBPS * 1000;
    if (params.encodings.every((e) => e.maxBitrate === cap)) continue;
    for (const e of params.encodings) e.maxBitrate = cap;
    try {
      await sender.setParameters(params);
    } catch (err) {
      console.warn('courtlink: could not cap the video bitrate', err);
    }
  }
}

export function signalUrl(sessionId) {
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${scheme}//${location.host}/api/v1/sessions/${encodeURIComponent(sessionId)}/signal`;
}

function fingerprintOf(sdp) {
  const match = /^a=fingerprint:(.+)$/m.exec(sdp || '');
  return match ? match[1].trim() : null;
}

export class Call extends EventTarget {
  /**
   * @param {object} options
   * @param {string|number} options.sessionId
   * @param {string|function(): string} options.token  staff or join token (or a getter)
   * @param {MediaStream|null} options.localStream
   */
  /**
   * `resumeFrom`: the last seq a page saw before it was reloaded in the call. The first
   * connection then resumes (the same seat keeps its place) instead of joining afresh.
   */
  constructor({ sessionId, token, localStream = null, iceServers = [], resumeFrom = 0 }) {
    super();
    this.resumeFrom = Number.isInteger(resumeFrom) && resumeFrom > 0 ? resumeFrom : 0;
    this.sessionId = sessionId;
    this.token = token;
    this.localStream = localStream;
    this.iceServers = iceServers;
    this.peers = new Map();
    this.you = null;
    this.ws = null;
    this.lastSeq = 0;
    this.welcomed = false;
    this.ended = false;
    this.closed = false;
    this.reconnects = 0;
    this.reconnectTimer = null;
    this.state = null; // 'waiting' | 'admitted'
    this.waiting = new Map(); // hosts: participants in the waiting room
    // Hosts: who this socket heard is waiting before its welcome. The server sends the welcome
    // first; should anything ever overtake it, the welcome's fresh start keeps these.
    this.waitingBeforeWelcome = new Map();
    this.socketWelcomed = false;
    this.qualityTimer = null;
    this.lastQuality = null; // the last report sent (for displays and tests)
    this.qualityReports = 0;
    this.recording = null; // {state, at}: the server's last `recording` message
    // A token getter is a staff page, whose token api.js sends (and renews) by itself; a string is
    // the petitioner's join token.
    this.recorder = new RecorderLink({
      sessionId,
      token: typeof token === 'function' ? undefined : token,
      stream: () => this.localStream,
      iceServers: () => this.iceServers,
      maxVideoKbps: VIDEO_SEND_MAX_KBPS,
    });
    this.recorder.addEventListener('status', (e) => this.emit('recorder', e.detail));
  }

  /** Keep the recorder connection up while the session is recorded and we are in the call. */
  syncRecorder() {
    const on = Boolean(this.recording && this.recording.state !== 'off');
    this.recorder.want(on && this.state === 'admitted' && !this.closed && !this.ended);
  }

  /** Hosts and co-hosts run the waiting room. */
  get moderates() {
    return Boolean(this.you && (this.you.role === 'host' || this.you.role === 'co_host'));
  }

  emit(type, detail = {}) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }

  connect({ resume = false } = {}) {
    if (this.closed) return;
    // `token` may be a function, so that a reconnection uses the freshest token.
    const token = typeof this.token === 'function' ? this.token() : this.token;
    const protocols = [PROTOCOL, `auth.${token}`];
    // After a dropped line, ask for what we missed instead of a fresh welcome.
    if (resume && this.welcomed && this.lastSeq > 0) protocols.push(`resume.${this.lastSeq}`);
    else if (!this.welcomed && this.resumeFrom > 0) protocols.push(`resume.${this.resumeFrom}`);
    const ws = new WebSocket(signalUrl(this.sessionId), protocols);
    this.ws = ws;
    this.socketWelcomed = false;
    this.waitingBeforeWelcome = new Map();
    this.emit('socket', { state: this.reconnects ? 'reconnecting' : 'connecting' });
    ws.addEventListener('message', (event) => {
      if (this.ws !== ws) return;
      let msg;
      try {
        msg = JSON.parse(event.data);
      } catch {
        console.warn('courtlink: non-JSON frame', event.data);
        return;
      }
      this.onMessage(msg);
    });
    ws.addEventListener('close', (event) => {
      if (this.ws !== ws) return;
      this.ws = null;
      if (this.closed || this.ended) return;
      switch (event.code) {
        case CLOSE_REPLACED:
          // Another connection with our identity replaced this one (another tab or device).
          this.stop('replaced');
          return;
        case CLOSE_REMOVED:
          this.stop('removed');
          return;
        case CLOSE_REVOKED:
          // Reconnecting with the same token would only be refused again.
          this.stop('revoked');
          return;
        case CLOSE_REFUSED:
          this.stop(/full/.test(event.reason) ? 'full' : 'failed');
          return;
        case CLOSE_RESTARTING:
          // The server instance is draining: come back at once, elsewhere.
          this.reconnectTimer = setTimeout(() => this.connect({ resume: true }), 100);
          this.emit('socket', { state: 'reconnecting' });
          return;
        default:
          this.scheduleReconnect();
      }
    });
  }

  stop(state) {
    this.recorder.dispose();
    this.stopQualityReports();
    this.stopMediaWatch();
    this.closePeers();
    this.closed = true;
    this.emit('socket', { state });
  }

  scheduleReconnect() {
    this.reconnects += 1;
    // Before any welcome the server refused us (token, session over …): give up quickly.
    const limit = this.welcomed ? MAX_RECONNECTS : 2;
    if (this.reconnects > limit) {
      this.stop('failed');
      return;
    }
    this.emit('socket', { state: 'reconnecting' });
    const delay = Math.min(500 * 2 ** (this.reconnects - 1), 10000);
    this.reconnectTimer = setTimeout(() => this.connect({ resume: true }), delay);
  }

  send(message) {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN) return false;
    this.ws.send(JSON.stringify(message));
    return true;
  }

  /** Sent now, or when the socket is back (a dropped line often takes the socket too). */
  sendSoon(message) {
    if (this.send(message)) return;
    this.unsent = [...(this.unsent || []), message].slice(-20);
  }

  flushUnsent() {
    const queued = this.unsent || [];
    this.unsent = [];
    for (const message of queued) this.sendSoon(message);
  }

  sendChat(text) {
    return this.send({ type: 'chat', text });
  }

  signal(to, data) {
    this.send({ type: 'signal', to, data });
  }

  /** Hosts: let a participant in from the waiting room. */
  admit(participantId) {
    return this.send({ type: 'admit', participant: participantId });
  }

  /** Hosts: send a participant out of the session. */
  removeParticipant(participantId) {
    return this.send({ type: 'remove', participant: participantId });
  }

  /** Hosts: ask a participant to mute its microphone ('audio') or camera ('video'). */
  askMute(participantId, kind) {
    return this.send({ type: 'mute', participant: participantId, kind });
  }

  setState(state) {
    if (this.state === state) return;
    this.state = state;
    this.emit('state', { state });
    this.syncRecorder();
  }

  /**
   * A start from nothing: a `welcome`, or a `resumed` on a page reloaded in the call (it says
   * what a welcome says, and our place is kept). We have no peer connections, so we are the
   * newcomer towards everyone listed; after a welcome the server's `polite` flags say who offers,
   * after a reload we offer to each (the others still hold a connection to the page that is gone,
   * and replace it on our offer).
   */
  startAfresh(msg, { reloaded }) {
    this.welcomed = true;
    this.reconnects = 0;
    this.you = msg.you;
    if (Array.isArray(msg.ice_servers)) this.iceServers = msg.ice_servers;
    this.closePeers();
    this.waiting = new Map(this.waitingBeforeWelcome);
    this.socketWelcomed = true;
    this.setState(msg.state === 'waiting' ? 'waiting' : 'admitted');
    // In the waiting room we may not signal: peers come with `admitted`.
    if (this.state === 'admitted') {
      for (const p of msg.participants || []) this.addPeer(p, reloaded ? false : Boolean(p.polite));
    }
    this.emit('socket', { state: 'open' });
    this.emit('welcome', { you: msg.you, participants: msg.participants || [], state: this.state });
    this.emitWaiting();
    this.startQualityReports();
    this.startMediaWatch();
    this.flushUnsent();
  }

  emitWaiting() {
    this.emit('waitingroom', { waiting: [...this.waiting.values()] });
  }

  onMessage(msg) {
    if (typeof msg.seq === 'number') this.lastSeq = msg.seq;
    // A reloaded page resuming: the replayed signals were for the peer connections of the page
    // that is gone; `resumed` lists everyone, and this page offers afresh.
    if (!this.welcomed && this.resumeFrom > 0 && msg.type === 'signal') return;
    switch (msg.type) {
      case 'welcome':
        this.startAfresh(msg, { reloaded: false });
        break;
      case 'resumed': {
        if (!this.welcomed) {
          this.startAfresh(msg, { reloaded: true });
          break;
        }
        // Back after a dropped line; what we missed came first. Keep the peer connections that
        // still stand, drop those whose participant is gone, offer to newcomers.
        this.reconnects = 0;
        this.socketWelcomed = true;
        const listed = new Map((msg.participants || []).map((p) => [p.id, p]));
        for (const id of [...this.peers.keys()]) if (!listed.has(id)) this.removePeer(id);
        if (this.state !== 'waiting') {
          for (const p of listed.values()) if (!this.peers.has(p.id)) this.addPeer(p, Boolean(p.polite));
        }
        this.emit('socket', { state: 'open' });
        this.flushUnsent();
        break;
      }
      case 'admitted':
        this.setState('admitted');
        for (const p of msg.participants || []) {
          if (this.peers.has(p.id)) this.removePeer(p.id, { quiet: true });
          this.addPeer(p, Boolean(p.polite));
        }
        break;
      case 'waiting':
        this.waiting.set(msg.participant.id, msg.participant);
        if (!this.socketWelcomed) this.waitingBeforeWelcome.set(msg.participant.id, msg.participant);
        this.emitWaiting();
        break;
      case 'joined': {
        this.waitingBeforeWelcome.delete(msg.participant.id);
        if (this.waiting.delete(msg.participant.id)) this.emitWaiting();
        const old = this.peers.get(msg.participant.id);
        if (old) this.removePeer(old.id, { quiet: true });
        this.addPeer(msg.participant, Boolean(msg.polite));
        break;
      }
      case 'left':
        this.waitingBeforeWelcome.delete(msg.participant_id);
        if (this.waiting.delete(msg.participant_id)) this.emitWaiting();
        this.removePeer(msg.participant_id);
        break;
      case 'removed':
        this.emit('removed', { by: msg.by });
        this.stop('removed');
        break;
      case 'mute':
        setLocalEnabled(this.localStream, msg.kind, false);
        this.emit('mute', { by: msg.by, kind: msg.kind });
        break;
      case 'reconnect':
        // The server is restarting: it closes this socket (1012) and we resume elsewhere.
        break;
      case 'signal': {
        let peer = this.peers.get(msg.from);
        if (!peer) {
          // Not announced (should not happen): treat the sender as a newcomer.
          peer = this.addPeer({ id: msg.from, role: '', name: '' }, true);
        }
        this.onSignal(peer, msg.data || {});
        break;
      }
      case 'chat':
        this.emit('chat', {
          from: msg.from, name: msg.name, text: msg.text, at: msg.at, seq: msg.seq,
          mine: Boolean(this.you && msg.from === this.you.id),
        });
        break;
      case 'ended':
        this.ended = true;
        this.emit('ended', { outcome: msg.outcome });
        this.hangup();
        break;
      case 'recording':
        if (!['on', 'interrupted', 'off'].includes(msg.state)) break;
        this.recording = { state: msg.state, at: msg.at || null };
        this.emit('recording', { ...this.recording });
        this.syncRecorder();
        this.recorder.nudge();
        break;
      case 'error':
        console.warn('courtlink: server error', msg.code, msg.message);
        this.emit('servererror', { code: msg.code, message: msg.message });
        break;
      default:
        console.warn('courtlink: unknown message', msg);
    }
  }

  addPeer(participant, polite) {
    const pc = new RTCPeerConnection({ iceServers: this.iceServers });
    const peer = {
      id: participant.id,
      participant,
      polite,
      pc,
      stream: new MediaStream(),
      makingOffer: false,
      ignoreOffer: false,
      settingRemoteAnswer: false,
      mediaAttached: false,
      qualityBase: null, // the previous getStats sample, for deltas
    };
    this.peers.set(peer.id, peer);

    pc.addEventListener('track', ({ track }) => {
      if (!peer.stream.getTrackById(track.id)) peer.stream.addTrack(track);
      track.addEventListener('ended', () => {
        peer.stream.removeTrack(track);
        this.emit('peer', { peer });
      });
      this.emit('peer', { peer });
    });
    pc.addEventListener('icecandidate', ({ candidate }) => {
      if (this.peers.get(peer.id) !== peer) return;
      this.signal(peer.id, { candidate: candidate ? candidate.toJSON() : null });
    });
    pc.addEventListener('negotiationneeded', async () => {
      if (this.peers.get(peer.id) !== peer) return;
      try {
        peer.makingOffer = true;
        await pc.setLocalDescription();
        this.signal(peer.id, { description: pc.localDescription.toJSON() });
      } catch (err) {
        console.error('courtlink: offer failed', err);
      } finally {
        peer.makingOffer = false;
      }
    });
    // The encodings exist once an offer/answer exchange is done: cap the camera then.
    pc.addEventListener('signalingstatechange', () => {
      if (pc.signalingState === 'stable') capVideoSenders(pc);
    });
    pc.addEventListener('connectionstatechange', () => {
      if (pc.connectionState === 'failed' && !peer.polite) pc.restartIce();
      // The first quality report counts from here (its bitrate needs a starting point).
      if (pc.connectionState === 'connected' && !peer.qualityBase) {
        sampleQuality(pc).then((sample) => {
          if (sample && !peer.qualityBase) peer.qualityBase = sample;
        });
      }
      this.emit('peer', { peer });
    });

    // The impolite side (the newcomer) offers at once; the polite side adds its media
    // when the first offer arrives, so that both do not offer at the same time.
    if (!polite) this.attachMedia(peer, true);
    this.emit('peer', { peer });
    return peer;
  }

  attachMedia(peer, offerer) {
    peer.mediaAttached = true;
    for (const kind of ['audio', 'video']) {
      const track = this.localStream?.getTracks().find((tr) => tr.kind === kind);
      if (track) peer.pc.addTrack(track, this.localStream);
      // Without a camera or microphone we still want to see and hear the other side.
      else if (offerer) peer.pc.addTransceiver(kind, { direction: 'recvonly' });
    }
  }

  async onSignal(peer, data) {
    let { pc } = peer;
    try {
      if (data.description) {
        const description = data.description;
        // The same identity came back with a new connection (reload, other device): the
        // server sends no left/joined pair, only a fresh offer from a new peer connection.
        if (description.type === 'offer' && pc.remoteDescription) {
          const was = fingerprintOf(pc.remoteDescription.sdp);
          const now = fingerprintOf(description.sdp);
          if (was && now && was !== now) {
            this.removePeer(peer.id, { quiet: true });
            peer = this.addPeer(peer.participant, true);
            pc = peer.pc;
          }
        }
        const readyForOffer = !peer.makingOffer && (pc.signalingState === 'stable' || peer.settingRemoteAnswer);
        const offerCollision = description.type === 'offer' && !readyForOffer;
        peer.ignoreOffer = !peer.polite && offerCollision;
        if (peer.ignoreOffer) return;
        peer.settingRemoteAnswer = description.type === 'answer';
        await pc.setRemoteDescription(description); // rolls back our offer if we are polite
        peer.settingRemoteAnswer = false;
        if (description.type === 'offer') {
          if (!peer.mediaAttached) this.attachMedia(peer, false);
          await pc.setLocalDescription();
          this.signal(peer.id, { description: pc.localDescription.toJSON() });
        }
      } else if ('candidate' in data) {
        try {
          if (data.candidate) await pc.addIceCandidate(data.candidate);
          else await pc.addIceCandidate();
        } catch (err) {
          if (!peer.ignoreOffer && pc.signalingState !== 'closed') {
            console.warn('courtlink: candidate refused', err);
          }
        }
      }
    } catch (err) {
      console.error('courtlink: signalling failed', err);
    }
  }

  removePeer(id, { quiet = false } = {}) {
    const peer = this.peers.get(id);
    if (!peer) return;
    this.peers.delete(id);
    peer.pc.close();
    for (const track of peer.stream.getTracks()) track.stop();
    if (!quiet) this.emit('peerleft', { id });
  }

  closePeers() {
    for (const id of [...this.peers.keys()]) this.removePeer(id);
  }

  /** Leave the call: tell the others at once, close every peer connection and the socket. */
  hangup() {
    this.closed = true;
    this.recorder.dispose();
    clearTimeout(this.reconnectTimer);
    this.stopQualityReports();
    this.stopMediaWatch();
    this.closePeers();
    if (this.ws) {
      const ws = this.ws;
      this.ws = null;
      try {
        // Without `leave` a closed socket counts as a dropped line, held for a grace period.
        if (ws.readyState === WebSocket.OPEN && !this.ended) ws.send(JSON.stringify({ type: 'leave' }));
        ws.close(1000);
      } catch {
        /* already closing */
      }
    }
    this.emit('socket', { state: 'closed' });
  }

  startQualityReports() {
    if (this.qualityTimer || this.closed) return;
    const every = Number(window.COURTLINK_QUALITY_MS) > 0 ? Number(window.COURTLINK_QUALITY_MS) : QUALITY_EVERY_MS;
    this.qualityTimer = setInterval(() => {
      this.reportQuality().catch((err) => console.warn('courtlink: quality report failed', err));
    }, every);
  }

  stopQualityReports() {
    clearInterval(this.qualityTimer);
    this.qualityTimer = null;
  }

  startMediaWatch() {
    if (this.mediaTimer || this.closed) return;
    this.mediaTimer = setInterval(() => {
      this.checkMedia().catch((err) => console.warn('courtlink: media check failed', err));
    }, MEDIA_CHECK_MS);
  }

  stopMediaWatch() {
    clearInterval(this.mediaTimer);
    this.mediaTimer = null;
  }

  /**
   * A peer whose media stopped arriving (no inbound bytes for MEDIA_LOST_AFTER_MS, or its
   * connection disconnected or failed) is lost since its last byte: `peer.mediaLostAt`, a
   * `media` event for the tile, and a `media` message for the timeline. When bytes flow again
   * it is restored, with the outage's length. A peer that never sent media has nothing to lose.
   */
  async checkMedia() {
    const now = Date.now();
    for (const peer of [...this.peers.values()]) {
      if (peer.participant.role === 'observer') continue; // an observer sends nothing
      let bytes = 0;
      try {
        (await peer.pc.getStats()).forEach((s) => { if (s.type === 'inbound-rtp') bytes += s.bytesReceived || 0; });
      } catch {
        continue; // closed meanwhile
      }
      if (bytes > 0 && bytes !== peer.mediaBytes) {
        const lostAt = peer.mediaLostAt;
        peer.mediaBytes = bytes;
        peer.mediaAt = now;
        peer.mediaLostAt = null;
        if (lostAt) {
          const seconds = Math.min(MAX_OUTAGE_SECONDS, Math.round((now - lostAt) / 100) / 10);
          this.sendSoon({ type: 'media', peer: peer.id, media: 'restored', seconds });
          this.emit('media', { peer });
        }
        continue;
      }
      if (!peer.mediaAt || peer.mediaLostAt) continue;
      const state = peer.pc.connectionState;
      if (now - peer.mediaAt >= MEDIA_LOST_AFTER_MS || state === 'disconnected' || state === 'failed') {
        peer.mediaLostAt = peer.mediaAt;
        this.sendSoon({ type: 'media', peer: peer.id, media: 'lost' });
        this.emit('media', { peer });
      }
    }
  }

  /**
   * Measure every connected peer connection and send one `quality` message for all of them:
   * the worst round-trip time, the packets lost out of all inbound packets, and the summed
   * inbound bitrate since the previous sample. Nothing is sent while the socket is down or no
   * peer connection is connected. Resolves to the report sent, or null.
   */
  async reportQuality() {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN) return null;
    const connected = [...this.peers.values()].filter((p) => p.pc.connectionState === 'connected');
    if (!connected.length) return null;
    let rtt = null;
    let lost = 0;
    let received = 0;
    let kbps = 0;
    let measured = 0;
    const video = connected.some((p) => p.stream.getVideoTracks().some((tr) => tr.readyState === 'live'));
    for (const peer of connected) {
      const sample = await sampleQuality(peer.pc);
      if (!sample) continue;
      const base = peer.qualityBase;
      peer.qualityBase = sample;
      if (sample.rttMs !== null) rtt = Math.max(rtt ?? 0, sample.rttMs);
      // Without an earlier sample (or after the counters restarted) the deltas mean nothing.
      if (!base || sample.at <= base.at || sample.bytes < base.bytes) continue;
      measured += 1;
      lost += Math.max(0, sample.lost - base.lost);
      received += Math.max(0, sample.received - base.received);
      kbps += ((sample.bytes - base.bytes) * 8) / (sample.at - base.at); // bits per ms = kbit/s
    }
    if (!measured || rtt === null || this.peers.size === 0) return null;
    const report = {
      type: 'quality',
      rtt_ms: Math.min(MAX_RTT_MS, Math.round(rtt * 10) / 10),
      packet_loss: lost + received > 0 ? Math.min(1, Math.round((lost / (lost + received)) * 10000) / 10000) : 0,
      bitrate_kbps: Math.min(MAX_BITRATE_KBPS, Math.max(0, Math.round(kbps * 10) / 10)),
    };
    if (!this.send(report)) return null;
    this.qualityReports += 1;
    const { type, ...measuredValues } = report;
    const values = { ...measuredValues, video };
    values.grade = qualityGrade(values);
    this.lastQuality = values;
    this.emit('quality', values);
    return values;
  }

  /** For status displays and tests: per peer, connection state and decoded video frames. */
  async stats() {
    const out = [];
    for (const peer of this.peers.values()) {
      let framesDecoded = 0;
      let bytesReceived = 0;
      try {
        const report = await peer.pc.getStats();
        report.forEach((s) => {
          if (s.type === 'inbound-rtp') {
            bytesReceived += s.bytesReceived || 0;
            if (s.kind === 'video') framesDecoded += s.framesDecoded || 0;
          }
        });
      } catch {
        /* closed */
      }
      out.push({
        id: peer.id, role: peer.participant.role, polite: peer.polite,
        connectionState: peer.pc.connectionState, framesDecoded, bytesReceived,
      });
    }
    return out;
  }
}

/**
 * One getStats() reading of a peer connection: {at (ms), rttMs (or null), lost, received,
 * bytes} — the selected candidate pair's current round-trip time (from the transport's
 * selectedCandidatePairId, else the nominated succeeded pair), and inbound RTP packets lost,
 * packets received and bytes received over every inbound stream. Null when the connection is
 * closed.
 */
export async function sampleQuality(pc) {
  let report;
  try {
    report = await pc.getStats();
  } catch {
    return null;
  }
  const stats = [...report.values()];
  let pair = null;
  const transport = stats.find((s) => s.type === 'transport' && s.selectedCandidatePairId);
  if (transport) pair = report.get(transport.selectedCandidatePairId) || null;
  if (!pair) pair = stats.find((s) => s.type === 'candidate-pair' && (s.selected || (s.nominated && s.state === 'succeeded'))) || null;
  let rttMs = pair && typeof pair.currentRoundTripTime === 'number' ? pair.currentRoundTripTime * 1000 : null;
  if (rttMs === null) {
    // Not measured on the pair yet: what the far end reports about our outbound streams.
    const remote = stats.find((s) => s.type === 'remote-inbound-rtp' && typeof s.roundTripTime === 'number');
    if (remote) rttMs = remote.roundTripTime * 1000;
  }
  let lost = 0;
  let received = 0;
  let bytes = 0;
  let at = 0;
  for (const s of stats) {
    if (s.type !== 'inbound-rtp') continue;
    lost += s.packetsLost || 0;
    received += s.packetsReceived || 0;
    bytes += s.bytesReceived || 0;
    at = Math.max(at, s.timestamp || 0);
  }
  return { at: at || performance.timeOrigin + performance.now(), rttMs, lost, received, bytes };
}

/**
 * Open camera and microphone. Resolves to {stream, problem}: problem is null when both work,
 * 'novideo' / 'noaudio' when one is missing, or 'denied' | 'notfound' | 'busy' | 'insecure' |
 * 'unknown' when there is no stream at all.
 */
export async function openLocalMedia() {
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
    return { stream: null, problem: window.isSecureContext ? 'unknown' : 'insecure' };
  }
  const video = { width: { ideal: 1280 }, height: { ideal: 720 }, facingMode: 'user' };
  try {
    return { stream: await navigator.mediaDevices.getUserMedia({ audio: true, video }), problem: null };
  } catch (err) {
    const first = classifyMediaError(err);
    if (first === 'denied') return { stream: null, problem: 'denied' };
    try {
      return { stream: await navigator.mediaDevices.getUserMedia({ audio: true }), problem: 'novideo' };
    } catch {
      /* try the camera alone */
    }
    try {
      return { stream: await navigator.mediaDevices.getUserMedia({ video }), problem: 'noaudio' };
    } catch {
      return { stream: null, problem: first };
    }
  }
}

function classifyMediaError(err) {
  switch (err && err.name) {
    case 'NotAllowedError':
    case 'SecurityError':
    case 'PermissionDeniedError':
      return 'denied';
    case 'NotFoundError':
    case 'DevicesNotFoundError':
    case 'OverconstrainedError':
      return 'notfound';
    case 'NotReadableError':
    case 'TrackStartError':
    case 'AbortError':
      return 'busy';
    default:
      return 'unknown';
  }
}

/** Enable or disable the local tracks of one kind; returns the new state. */
export function setLocalEnabled(stream, kind, enabled) {
  if (!stream) return false;
  const tracks = stream.getTracks().filter((tr) => tr.kind === kind);
  for (const track of tracks) track.enabled = enabled;
  return tracks.length > 0 && enabled;
}

export function stopStream(stream) {
  if (!stream) return;
  for (const track of stream.getTracks()) track.stop();
}
