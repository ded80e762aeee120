// A call that only a TURN relay can carry: both pages' peer connections are forced to
// `iceTransportPolicy: "relay"` (as on a court network with no direct path between two rooms),
// with the TURN URL and minted credentials that CourtLink hands out in its welcome. The call
// connects, video is decoded both ways, and getStats shows that the selected candidate pair of
// each side has a local candidate of type `relay`, reached over the transport under test
// (COURTLINK_TURN_TRANSPORT: udp or tcp; tests/browser.rs starts the coturn relay).
import {
  BASE, run, newPage, check, shot, expectVideo, admitPetitioner, officerJoins, apiBookNow,
} from './lib.mjs';

const TRANSPORT = process.env.COURTLINK_TURN_TRANSPORT;
if (!['udp', 'tcp'].includes(TRANSPORT)) {
  console.error('COURTLINK_TURN_TRANSPORT must be udp or tcp (tests/browser.rs sets it)');
  process.exit(2);
}

// Every peer connection the page makes is relay-only, whatever the page asks for.
const relayOnly = () => {
  const Native = window.RTCPeerConnection;
  window.RTCPeerConnection = class extends Native {
    constructor(config = {}) {
      super({ ...config, iceTransportPolicy: 'relay' });
    }
  };
};

/** The selected candidate pair of each of the page's peer connections, with its two candidates. */
async function selectedPairs(page) {
  return page.evaluate(async () => {
    const out = [];
    for (const [id, peer] of window.courtlinkCall.peers) {
      const stats = await peer.pc.getStats();
      const byId = new Map();
      stats.forEach((s) => byId.set(s.id, s));
      let pair = null;
      stats.forEach((s) => {
        if (s.type === 'transport' && s.selectedCandidatePairId) pair = byId.get(s.selectedCandidatePairId);
      });
      if (!pair) {
        stats.forEach((s) => { if (s.type === 'candidate-pair' && s.nominated && s.state === 'succeeded') pair = s; });
      }
      const local = pair ? byId.get(pair.localCandidateId) : null;
      const remote = pair ? byId.get(pair.remoteCandidateId) : null;
      out.push({
        peer: id,
        state: pair && pair.state,
        local: local && { type: local.candidateType, relayProtocol: local.relayProtocol, address: local.address },
        remote: remote && { type: remote.candidateType, address: remote.address },
        bytesReceived: pair && pair.bytesReceived,
      });
    }
    return out;
  });
}

await run(`a relay-only call over TURN/${TRANSPORT}`, async () => {
  const booking = await apiBookNow('xihu.coord', 'supreme');
  const officer = await newPage('officer', 'desk', { init: relayOnly });
  await officerJoins(officer, 'spc.officer', booking.session_id);
  const pet = await newPage('petitioner', 'phone', { init: relayOnly });
  await pet.goto(new URL(booking.join_path, BASE).href);
  await pet.click('#device-next:not([disabled])');
  await pet.click('#join-button');
  await pet.waitForSelector('#call-state[data-state="waitingRoom"]');

  const turnUrls = await pet.evaluate(() => window.courtlinkCall.iceServers.flatMap((s) => s.urls));
  check('the welcome hands out the relay over the transport under test',
    turnUrls.some((u) => u.startsWith('turn:') && u.endsWith(`transport=${TRANSPORT}`)), turnUrls);

  await admitPetitioner(officer, pet);
  await expectVideo(officer, 'officer (relay only)');
  await expectVideo(pet, 'petitioner (relay only)');

  for (const [label, page] of [['officer', officer], ['petitioner', pet]]) {
    const pairs = await selectedPairs(page);
    check(`${label}: one selected candidate pair, succeeded`,
      pairs.length === 1 && pairs[0].state === 'succeeded', pairs);
    check(`${label}: its local candidate is a relay candidate`, pairs[0].local?.type === 'relay', pairs);
    check(`${label}: reached over ${TRANSPORT}`, pairs[0].local?.relayProtocol === TRANSPORT, pairs);
    check(`${label}: media arrived on that pair`, pairs[0].bytesReceived > 10000, pairs);
  }
  await shot(officer, `01-officer-relay-${TRANSPORT}`);
});
