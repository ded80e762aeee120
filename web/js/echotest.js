// The connectivity echo test (联通测试) against CourtLink's own WebRTC peer, shared by the room
// terminal (roomtest.html) and the petitioner's line test while waiting (join.html). The
// browser sends its camera, microphone and a data channel; the server echoes them back and
// measures the line from its side (docs/connectivity.md). The page returns the server's probes
// (`p:<n>`), times its own (`c:<ms>`), and reports what it saw as extra evidence.
import { api } from './api.js';

const GATHER_MS = 5000;
const POLL_MS = 500;

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

/**
 * Whether this device reaches each of the court's TURN relays: a relay-only peer connection per
 * URL gathers candidates, and the relay is reached when a `relay` candidate comes back (the
 * relay accepted the credentials and allocated an address). Resolves to
 * `[{url, transport, reached}]`; nothing is sent to anyone.
 */
export async function checkRelays(relay = []) {
  return Promise.all(relay.map(async ({ url, username, credential }) => {
    const transport = /transport=tcp/.test(url) || url.startsWith('turns:') ? 'tcp' : 'udp';
    let pc = null;
    try {
      pc = new RTCPeerConnection({ iceServers: [{ urls: [url], username, credential }], iceTransportPolicy: 'relay' });
      let reached = false;
      pc.addEventListener('icecandidate', (event) => {
        if (event.candidate && / typ relay /.test(` ${event.candidate.candidate} `)) reached = true;
      });
      pc.createDataChannel('courtlink-relay-check');
      await pc.setLocalDescription(await pc.createOffer());
      await waitForGathering(pc);
      return { url, transport, reached };
    } catch {
      return { url, transport, reached: false };
    } finally {
      if (pc) pc.close();
    }
  }));
}

/**
 * Runs one echo test with `stream`'s tracks and resolves to the server's result
 * (`{status, reason_code, reason, figures, thresholds, …}`).
 * `roomId`: the local room under test (staff), or `hostRoomId`: the host court's own reception
 * room (its staff); omit both for a petitioner, whose join `token`
 * ties the test to their session. `onProgress(phase, {seconds, total})` with phase
 * `offer` | `connecting` | `measuring`; `onEcho(stream)` receives the echoed media.
 */
export async function runEchoTest({ stream, roomId, hostRoomId, token, onProgress = () => {}, onEcho = () => {} }) {
  const pc = new RTCPeerConnection({ iceServers: [] });
  let probeTimer = null;
  try {
    for (const track of stream.getTracks()) pc.addTrack(track, stream);
    const echoStream = new MediaStream();
    pc.addEventListener('track', (event) => {
      echoStream.addTrack(event.track);
      onEcho(echoStream);
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
    onProgress('offer', {});
    await pc.setLocalDescription(await pc.createOffer());
    await waitForGathering(pc);
    const body = { offer: { type: 'offer', sdp: pc.localDescription.sdp } };
    if (roomId !== undefined && roomId !== null) body.room_id = Number(roomId);
    if (hostRoomId !== undefined && hostRoomId !== null) body.host_room_id = Number(hostRoomId);
    const options = token === undefined ? {} : { token };
    const started = await api('/connectivity/tests', { method: 'POST', body, ...options });
    await pc.setRemoteDescription(started.answer);
    // The relay check runs beside the echo test; it takes at most the gathering time.
    const relayCheck = checkRelays(started.relay);
    const began = Date.now();
    let result = null;
    for (;;) {
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
      const seconds = Math.round((Date.now() - began) / 1000);
      onProgress(pc.connectionState === 'connected' ? 'measuring' : 'connecting', { seconds, total: started.measure_seconds });
      result = await api(`/connectivity/tests/${started.test_id}`, options);
      if (result.status !== 'running') break;
    }
    const relay = await relayCheck;
    try {
      const report = { ...(await clientFigures(pc, rtts)), relay: relay.map(({ transport, reached }) => ({ transport, reached })) };
      await api(`/connectivity/tests/${started.test_id}/report`, { method: 'POST', body: report, ...options });
    } catch {
      // The client's figures are extra evidence; the verdict is the server's.
    }
    return { ...result, relay, support: started.support || null };
  } finally {
    if (probeTimer) clearInterval(probeTimer);
    pc.close();
  }
}
