// DEV ONLY (not committed): the UI against mocked recording endpoints.
import {
  BASE, run, newPage, check, shot, text, expectVideo, admitPetitioner, officerJoins, apiBookNow, QUICK_QUALITY, mediaReported,
} from './lib.mjs';

await run('dev', async () => {
  const booking = await apiBookNow('xihu.coord', 'supreme');
  const pet = await newPage('petitioner', 'phone', { init: QUICK_QUALITY });
  await pet.goto(new URL(booking.join_path, BASE).href);
  await pet.click('#device-next:not([disabled])');
  await pet.waitForSelector('#step-code:not([hidden])');
  await shot(pet, 'dev-01-told');
  const officer = await newPage('officer', 'desk', { init: QUICK_QUALITY });
  await officerJoins(officer, 'spc.officer', booking.session_id);
  await pet.click('#join-button');
  await pet.waitForSelector('#call-state[data-state="waitingRoom"]');
  await admitPetitioner(officer, pet);
  await expectVideo(officer, 'officer');
  await expectVideo(pet, 'petitioner');
  const at = new Date().toISOString();
  for (const p of [officer, pet]) await p.evaluate((when) => window.courtlinkCall.onMessage({ type: 'recording', state: 'on', at: when }), at);
  await officer.waitForSelector('#recording-badge:not([hidden])');
  await pet.waitForSelector('#recording-badge:not([hidden])');
  console.log('badge', await text(officer, '#recording-badge'), await text(pet, '#recording-badge'));
  await officer.waitForTimeout(1500);
  console.log('recorder', JSON.stringify(await officer.evaluate(() => window.courtlinkCall.recorder.stats())));
  await shot(officer, 'dev-02-officer');
  await shot(pet, 'dev-03-pet');
  for (const p of [officer, pet]) await p.evaluate((when) => window.courtlinkCall.onMessage({ type: 'recording', state: 'interrupted', at: when }), at);
  await shot(officer, 'dev-04-officer-int');
  // two webm files recorded from the officer's camera
  const files = [];
  for (const secs of [5, 3]) {
    const b64 = await officer.evaluate(async (s) => {
      const rec = new MediaRecorder(window.courtlinkCall.localStream, { mimeType: 'video/webm;codecs=vp8,opus' });
      const chunks = [];
      rec.ondataavailable = (e) => chunks.push(e.data);
      rec.start();
      await new Promise((r) => setTimeout(r, s * 1000));
      rec.stop();
      await new Promise((r) => { rec.onstop = r; });
      const buf = new Uint8Array(await new Blob(chunks).arrayBuffer());
      let bin = '';
      for (let i = 0; i < buf.length; i += 1) bin += String.fromCharCode(buf[i]);
      return btoa(bin);
    }, secs);
    files.push(Buffer.from(b64, 'base64'));
  }
  await mediaReported(officer, pet);
  await officer.selectOption('#outcome-select', 'explained_law');
  await officer.click('#end-button');
  await officer.click('#end-confirm-yes');
  await officer.waitForSelector('#timeline-view:not([hidden])');
  const t0 = Date.now() - 60000;
  const iso = (ms) => new Date(ms).toISOString();
  const items = [
    { id: 11, participant_id: 'user-3', role: 'host', name: '最高法 周法官', part: 1, started_at: iso(t0), ended_at: iso(t0 + 5000), duration_ms: 5000, bytes: files[0].length, sha256: 'a'.repeat(64), state: 'stored', gaps: [] },
    { id: 12, participant_id: 'petitioner', role: 'petitioner', name: '上访人', part: 1, started_at: iso(t0 + 1500), ended_at: iso(t0 + 4500), duration_ms: 3000, bytes: files[1].length, sha256: 'b'.repeat(64), state: 'closed', gaps: [{ start: iso(t0 + 2500), end: iso(t0 + 3000) }] },
  ];
  await officer.context().route('**/api/v1/sessions/*/recordings', (r) => r.fulfill({ status: 200, contentType: 'application/json', body: JSON.stringify({ items }) }));
  await officer.context().route('**/api/v1/recordings/*/media*', (r) => {
    const id = Number(/recordings\/(\d+)/.exec(r.request().url())[1]);
    const dl = r.request().url().includes('download=1');
    r.fulfill({ status: 200, contentType: 'video/webm', headers: dl ? { 'content-disposition': `attachment; filename="rec-${id}.webm"` } : {}, body: files[id - 11] });
  });
  await officer.goto(`${BASE}/records.html`);
  const open = `[data-testid=log-timeline][data-session-id="${booking.session_id}"]`;
  await officer.waitForSelector(open);
  await officer.click(open);
  await officer.waitForSelector('[data-testid=rec-video]');
  await shot(officer, 'dev-05-player-before');
  await officer.click('[data-testid=rec-play]');
  await officer.waitForFunction(() => window.courtlinkPlayer?.state.playing);
  await officer.waitForTimeout(2500);
  console.log(JSON.stringify(await officer.evaluate(() => window.courtlinkPlayer.tiles.map((t) => ({ id: t.f.id, d: t.video.duration, c: t.video.currentTime, p: t.video.paused, q: t.video.getVideoPlaybackQuality().totalVideoFrames, a: t.video.webkitAudioDecodedByteCount, off: t.offset })))));
  console.log(await text(officer, '[data-testid=rec-where]'));
  await shot(officer, 'dev-06-player-playing');
  await officer.focus('[data-testid=rec-seek]');
  await officer.keyboard.press('k');
  await officer.keyboard.press('Home');
  await officer.keyboard.press('ArrowRight');
  await officer.keyboard.press('ArrowRight');
  console.log(await officer.getAttribute('[data-testid=rec-seek]', 'aria-valuetext'));
  console.log(JSON.stringify(await officer.evaluate(() => window.courtlinkPlayer.tiles.map((t) => ({ c: t.video.currentTime, absent: !t.absent.hidden })))));
  const [download] = await Promise.all([officer.waitForEvent('download'), officer.click('[data-testid=rec-download][data-recording-id="11"]')]);
  console.log('download', download.suggestedFilename());
  await officer.click('[data-testid=lang-switch]');
  await shot(officer, 'dev-07-player-en');
}, { limitSeconds: 170 });
