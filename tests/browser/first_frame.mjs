// From pressing 进入 to the officer's face (issue 21): the time from the petitioner's click on the
// join page to the first frame of the officer's video presented on that page
// (`requestVideoFrameCallback`), over COURTLINK_JOINS joins (30 by default), through CourtLink:
//   COURTLINK_WAITING_ROOM=off  the petitioner goes straight in: from the click on 进入;
//   COURTLINK_WAITING_ROOM=on   the petitioner waits: from the host's click on 请其进入.
// In the same run, the baseline: two Chromium pages that the test connects directly (no server;
// the offer and answer, with their candidates, handed over by the test), from the first call of
// the offer to the first frame presented. Prints `FIGURES {…}` with p50 and p95 of each.
// A benchmark, not a check of speed: run by `cargo test --test browser first_frame -- --ignored`.
import {
  BASE, run, newPage, check, expectVideo, officerJoins, apiBookNow,
} from './lib.mjs';

const WAITING = process.env.COURTLINK_WAITING_ROOM;
const JOINS = Number(process.env.COURTLINK_JOINS || 30);
if (!['on', 'off'].includes(WAITING)) {
  console.error('COURTLINK_WAITING_ROOM must be on or off (tests/browser.rs sets it)');
  process.exit(2);
}

/** Marks, in the page, when the first remote video frame is presented (`window.firstFrameAt`). */
const watchFirstFrame = () => {
  window.firstFrameAt = null;
  const seen = new WeakSet();
  const hook = (video) => {
    if (seen.has(video)) return;
    seen.add(video);
    video.requestVideoFrameCallback(() => {
      if (window.firstFrameAt === null) window.firstFrameAt = performance.timeOrigin + performance.now();
    });
  };
  const scan = () => document.querySelectorAll('#remote-videos video').forEach(hook);
  new MutationObserver(scan).observe(document.documentElement, { subtree: true, childList: true, attributes: true });
  scan();
};

function percentile(values, p) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}
const summary = (ms) => ({
  n: ms.length,
  p50_ms: Math.round(percentile(ms, 50)),
  p95_ms: Math.round(percentile(ms, 95)),
  min_ms: Math.round(Math.min(...ms)),
  max_ms: Math.round(Math.max(...ms)),
});

/** One direct call between two fresh pages: ms from the offer's start to the first frame. */
async function directOnce(browser) {
  const [ca, cb] = [await browser.newContext(), await browser.newContext()];
  try {
    const [a, b] = [await ca.newPage(), await cb.newPage()];
    // Any page of the server: localhost is a secure context for the camera.
    await Promise.all([a.goto(`${BASE}/`), b.goto(`${BASE}/`)]);
    await a.evaluate(async () => {
      window.stream = await navigator.mediaDevices.getUserMedia({ audio: true, video: { width: 640, height: 480 } });
    });
    // Non-trickle: each side waits for its candidates (loopback only: a few milliseconds).
    const gathering = () => {
      window.gathered = (pc) => (pc.iceGatheringState === 'complete' ? Promise.resolve() : new Promise((resolve) => {
        pc.addEventListener('icegatheringstatechange', () => pc.iceGatheringState === 'complete' && resolve());
      }));
    };
    await a.evaluate(gathering);
    await b.evaluate(gathering);
    await b.evaluate(() => {
      window.firstFrameAt = null;
      window.pc = new RTCPeerConnection();
      window.pc.addEventListener('track', (event) => {
        if (event.track.kind !== 'video') return;
        const video = document.createElement('video');
        video.muted = true;
        video.autoplay = true;
        video.playsInline = true;
        video.width = 320;
        document.body.append(video);
        video.srcObject = event.streams[0];
        video.requestVideoFrameCallback(() => {
          if (window.firstFrameAt === null) window.firstFrameAt = performance.timeOrigin + performance.now();
        });
      });
    });
    const { startedAt, offer } = await a.evaluate(async () => {
      const startedAt = performance.timeOrigin + performance.now();
      window.pc = new RTCPeerConnection();
      for (const track of window.stream.getTracks()) window.pc.addTrack(track, window.stream);
      await window.pc.setLocalDescription(await window.pc.createOffer());
      await window.gathered(window.pc);
      return { startedAt, offer: window.pc.localDescription.toJSON() };
    });
    const answer = await b.evaluate(async (o) => {
      await window.pc.setRemoteDescription(o);
      await window.pc.setLocalDescription(await window.pc.createAnswer());
      await window.gathered(window.pc);
      return window.pc.localDescription.toJSON();
    }, offer);
    await a.evaluate((ans) => window.pc.setRemoteDescription(ans), answer);
    await b.waitForFunction(() => window.firstFrameAt !== null, null, { timeout: 15000 });
    return (await b.evaluate(() => window.firstFrameAt)) - startedAt;
  } finally {
    await ca.close();
    await cb.close();
  }
}

await run(`first frame, waiting room ${WAITING}`, async (browser) => {
  const booking = await apiBookNow('xihu.coord', 'supreme');
  const officer = await newPage('officer');
  await officerJoins(officer, 'spc.officer', booking.session_id);
  await officer.evaluate(() => {
    window.admitClickAt = null;
    document.addEventListener('click', (event) => {
      if (event.target.closest('[data-testid=admit-button]')) window.admitClickAt = performance.timeOrigin + performance.now();
    }, { capture: true });
  });

  const courtlink = [];
  for (let i = 0; i < JOINS; i += 1) {
    const context = await browser.newContext({ viewport: { width: 390, height: 844 } });
    try {
      const pet = await context.newPage();
      pet.setDefaultTimeout(15000);
      await pet.goto(new URL(booking.join_path, BASE).href);
      await pet.evaluate(watchFirstFrame);
      await pet.click('#device-next:not([disabled])');
      await pet.evaluate(() => {
        window.joinClickAt = null;
        document.querySelector('#join-button').addEventListener('click', () => {
          window.joinClickAt = performance.timeOrigin + performance.now();
        }, { capture: true });
      });
      await pet.click('#join-button');
      let from;
      if (WAITING === 'on') {
        await pet.waitForSelector('#call-state[data-state="waitingRoom"]');
        const admit = '[data-testid=admit-button][data-participant-id="petitioner"]';
        await officer.click(admit);
        await officer.waitForFunction(() => window.admitClickAt !== null);
        from = await officer.evaluate(() => window.admitClickAt);
        await officer.evaluate(() => { window.admitClickAt = null; });
      } else {
        await pet.waitForFunction(() => window.joinClickAt !== null);
        from = await pet.evaluate(() => window.joinClickAt);
      }
      await pet.waitForFunction(() => window.firstFrameAt !== null, null, { timeout: 15000 });
      courtlink.push((await pet.evaluate(() => window.firstFrameAt)) - from);
      if (i === 0) await expectVideo(pet, 'the first join is a real call');
    } finally {
      await context.close(); // the petitioner's socket closes: the seat is free again
    }
    // Let the officer's page see the petitioner go before the next join.
    await officer.waitForTimeout(300);
  }
  const direct = [];
  for (let i = 0; i < JOINS; i += 1) direct.push(await directOnce(browser));
  const figures = {
    waiting_room: WAITING,
    courtlink: summary(courtlink),
    direct: summary(direct),
  };
  figures.p50_above_direct_ms = figures.courtlink.p50_ms - figures.direct.p50_ms;
  check(`${JOINS} joins through CourtLink and ${JOINS} direct calls measured`, courtlink.length === JOINS && direct.length === JOINS);
  console.log(`FIGURES ${JSON.stringify(figures)}`);
  console.log(`raw courtlink ms: ${courtlink.map(Math.round).join(' ')}`);
  console.log(`raw direct ms: ${direct.map(Math.round).join(' ')}`);
}, { limitSeconds: 600 });
