// Recording of each reception (issue 20): the notice and the join page tell the petitioner that
// the reception is recorded; the officer and the petitioner (Chromium's fake camera and
// microphone) hold a 20-second call after admission, and both pages show 录音录像中 while each
// sends its own camera and microphone to CourtLink's recorder over a second peer connection. Then
// the petitioner's recorder connection fails (js/recorder.js's own failure path): the call goes
// on, the officer alone sees 录像中断, the page connects again, and the gap is on the timeline
// with its start and end. After the end the records page lists each part, plays them side by
// side from one control, and each file plays back in Chromium with a duration within 1 s of the
// time its connection to the recorder was up, with video frames and audio decoded; a file
// downloads whole. The extra upstream of the recorder connection (outbound RTP bytes over the
// 20 s) is printed per page. tests/browser.rs then runs `courtlink audit verify`.
import { join } from 'node:path';
import {
  ARTIFACTS, BASE, run, newPage, check, shot, text, login, callStats, expectVideo, admitPetitioner, officerJoins, apiBookNow, QUICK_QUALITY,
  mediaReported, catalogues,
} from './lib.mjs';

const { zh } = await catalogues();
const CALL_SECONDS = 20;
const BADGE = '#recording-badge:not([hidden])';

/** The page's recorder connection as js/recorder.js reports it. */
const recorderStats = (page) => page.evaluate(() => window.courtlinkCall.recorder.stats());

/** The call's own upstream (outbound RTP over every peer connection of the call), summed. */
const callSent = (page) => page.evaluate(async () => {
  let bytes = 0;
  for (const peer of window.courtlinkCall.peers.values()) {
    (await peer.pc.getStats()).forEach((s) => { if (s.type === 'outbound-rtp') bytes += s.bytesSent || 0; });
  }
  return bytes;
});

await run('recording', async () => {
  const booking = await apiBookNow('xihu.coord', 'supreme');

  // ---- the printed notice says so ----
  const coord = await newPage('coordinator');
  await login(coord, 'xihu.coord');
  await coord.waitForURL(/coordinator\.html/);
  await coord.goto(`${BASE}/notice.html#booking=${booking.id}`);
  await coord.waitForSelector('[data-testid=notice]:not([hidden])');
  check('the appointment notice says the reception is recorded in sound and picture',
    (await text(coord, '[data-testid=notice-recorded]')) === zh['notice.rules.recorded'], await text(coord, '[data-testid=notice-recorded]'));
  await coord.context().close();

  // ---- the petitioner is told before joining ----
  const pet = await newPage('petitioner', 'phone', { init: QUICK_QUALITY });
  await pet.goto(new URL(booking.join_path, BASE).href);
  await pet.click('#device-next:not([disabled])');
  await pet.waitForSelector('#step-code:not([hidden])');
  const told = await text(pet, '#recorded-notice');
  check('before 进入接访 the petitioner reads that the reception is recorded in sound and picture',
    told === zh['join.recorded'] && await pet.isVisible('#recorded-notice') && await pet.isVisible('#join-button'), told);
  await shot(pet, '01-petitioner-told-recorded-zh');

  const officer = await newPage('officer', 'desk', { init: QUICK_QUALITY });
  await officerJoins(officer, 'spc.officer', booking.session_id);
  check('no recording badge before the petitioner is admitted', await officer.isHidden('#recording-badge'));
  await pet.click('#join-button');
  await pet.waitForSelector('#call-state[data-state="waitingRoom"]');
  check('a petitioner in the waiting room sends nothing to the recorder',
    (await recorderStats(pet)).connectionState === 'none', await recorderStats(pet));
  await admitPetitioner(officer, pet);
  await expectVideo(officer, 'officer');
  await expectVideo(pet, 'petitioner');

  // ---- recording: announced on both pages, each page connected to the recorder ----
  for (const [label, page] of [['officer', officer], ['petitioner', pet]]) {
    await page.waitForSelector(`${BADGE}[data-state="on"]`, { timeout: 20000 });
    check(`${label}: 录音录像中 is shown, with a red dot`, (await text(page, '#recording-badge')) === '录音录像中'
      && await page.isVisible('#recording-badge .rec-dot'), await text(page, '#recording-badge'));
    await page.waitForFunction(() => window.courtlinkCall.recorder.status === 'connected', null, { timeout: 20000 })
      .catch(() => {});
    const s = await recorderStats(page);
    check(`${label}: its own camera and microphone go to the recorder (a second peer connection, connected)`,
      s.connectionState === 'connected' && s.parts.length === 1, s);
  }
  check('the call is untouched: still one peer connection each way',
    (await officer.evaluate(() => window.courtlinkCall.peers.size)) === 1 && (await pet.evaluate(() => window.courtlinkCall.peers.size)) === 1);

  // ---- 20 seconds of call; the recorder connection's upstream measured over them ----
  const before = { officer: await recorderStats(officer), petitioner: await recorderStats(pet) };
  const callBefore = { officer: await callSent(officer), petitioner: await callSent(pet) };
  const began = Date.now();
  await officer.fill('#chat-input', '您好，本次接访全程录音录像。');
  await officer.press('#chat-input', 'Enter');
  await pet.waitForSelector('#chat-log li:has-text("本次接访全程录音录像")');
  await officer.waitForTimeout(Math.max(0, 8000 - (Date.now() - began)));
  await shot(officer, '02-officer-call-recording-zh');
  await officer.locator('#call-view > .panel-head').screenshot({ path: join(ARTIFACTS, 'officer-recording-badge.png') });
  await shot(pet, '03-petitioner-call-recording-zh');
  await officer.waitForTimeout(Math.max(0, CALL_SECONDS * 1000 - (Date.now() - began)));
  const after = { officer: await recorderStats(officer), petitioner: await recorderStats(pet) };
  const callAfter = { officer: await callSent(officer), petitioner: await callSent(pet) };
  const figures = {};
  for (const who of ['officer', 'petitioner']) {
    const seconds = (after[who].at - before[who].at) / 1000;
    figures[who] = {
      recorderKbps: Math.round(((after[who].bytesSent - before[who].bytesSent) * 8) / seconds / 1000),
      callKbps: Math.round(((callAfter[who] - callBefore[who]) * 8) / seconds / 1000),
      seconds: Math.round(seconds * 10) / 10,
    };
    console.log(`  figure: ${who}: recorder upstream ${figures[who].recorderKbps} kbit/s `
      + `(the call's own upstream to one peer: ${figures[who].callKbps} kbit/s) over ${figures[who].seconds} s`);
    check(`${who}: media flowed to the recorder throughout (frames encoded, bytes sent)`,
      after[who].bytesSent > before[who].bytesSent && after[who].framesEncoded > before[who].framesEncoded
      && after[who].parts.length === 1, { before: before[who], after: after[who] });
  }

  // ---- the petitioner's recorder connection fails: the call goes on, the officer alone is told
  // 录像中断 (by the server, which saw its stream go), and the page connects again: a new part ----
  await officer.evaluate(() => {
    window.testRecordingStates = [];
    window.courtlinkCall.addEventListener('recording', (e) => window.testRecordingStates.push(e.detail.state));
  });
  // What js/recorder.js does when its connection fails, with a longer backoff (4 s) than the
  // first one (1 s), so that the gap can be seen: close it, and offer anew after the backoff.
  await pet.evaluate(() => {
    const link = window.courtlinkCall.recorder;
    link.failures = 2;
    link.retry();
  });
  await officer.waitForSelector(`${BADGE}[data-state="interrupted"]`, { timeout: 10000 });
  check('the officer sees 录像中断, from the server', (await text(officer, '#recording-badge')) === '录像中断', await text(officer, '#recording-badge'));
  check('the petitioner still sees 录音录像中 (the reception is on record)',
    (await text(pet, '#recording-badge')) === '录音录像中', await text(pet, '#recording-badge'));
  // The badge first: the gap lasts a few seconds, and the full check below takes some of them.
  await officer.locator('#call-view > .panel-head').screenshot({ path: join(ARTIFACTS, 'officer-recording-interrupted.png') });
  await shot(officer, '04-officer-recording-interrupted-zh');
  check('the call goes on meanwhile, and the closed recorder connection released none of the call\'s tracks',
    (await callStats(officer)).every((p) => p.connectionState === 'connected')
    && await pet.evaluate(() => window.courtlinkCall.localStream.getTracks().every((tr) => tr.readyState === 'live' && tr.enabled)));
  await pet.waitForFunction(() => window.courtlinkCall.recorder.status === 'connected', null, { timeout: 20000 });
  await officer.waitForSelector(`${BADGE}[data-state="on"]`, { timeout: 10000 });
  check('the petitioner\'s page connected to the recorder again (a second part), and the officer sees 录音录像中 again',
    (await recorderStats(pet)).parts.length === 2 && (await recorderStats(officer)).parts.length === 1
    && /^interrupted(,interrupted)*(,on)+$/.test(await officer.evaluate(() => window.testRecordingStates.join(','))),
    { pet: await recorderStats(pet), states: await officer.evaluate(() => window.testRecordingStates) });
  await expectVideo(officer, 'officer after the recorder gap');
  await pet.waitForTimeout(3000);

  // ---- the end ----
  await mediaReported(officer, pet);
  await officer.selectOption('#outcome-select', 'explained_law');
  await officer.click('#end-button');
  await officer.waitForSelector('[data-testid=end-confirm]:not([hidden])');
  await Promise.all([
    officer.waitForResponse((r) => r.url().endsWith(`/sessions/${booking.session_id}/end`)),
    officer.click('#end-confirm-yes'),
  ]);
  await officer.waitForSelector('#timeline-view:not([hidden]) [data-testid=timeline]');
  await pet.waitForSelector('[data-testid=ended-screen]:not([hidden])');
  // How long each of the page's recorder connections (each a part) was up, in seconds.
  const connected = {};
  for (const [who, page] of [['officer', officer], ['petitioner', pet]]) {
    const s = await recorderStats(page);
    check(`${who}: the recorder connection is closed at the end`,
      s.connectionState === 'none' && s.parts.length && s.parts.every((p) => p.closedAt > p.connectedAt), s);
    connected[who] = s.parts.map((p) => (p.closedAt - p.connectedAt) / 1000);
  }

  // ---- the records page: each participant's recording, played side by side ----
  const officerId = await officer.evaluate(() => window.courtlinkCall.you.id);
  // Each file is finalised, sealed and hashed a moment after the end (docs/recording.md).
  const listed = async () => officer.evaluate(async (id) => {
    const { api } = await import('/js/api.js');
    return (await api(`/sessions/${id}/recordings`)).items;
  }, booking.session_id);
  let items = await listed();
  const endedAt = Date.now();
  while (!(items.length >= 3 && items.every((r) => ['closed', 'stored'].includes(r.state))) && Date.now() - endedAt < 60000) {
    await officer.waitForTimeout(500);
    items = await listed();
  }
  console.log(`  figure: the files were closed ${((Date.now() - endedAt) / 1000).toFixed(1)} s after the page saw the end (or sooner)`);
  const partsOf = (who) => items.filter((r) => (who === 'petitioner') === (r.participant_id === 'petitioner')).sort((a, b) => a.part - b.part);
  check('three parts: the officer\'s, and the petitioner\'s before and after the gap; each closed, with its size and hash',
    items.length === 3 && partsOf('officer').length === 1 && partsOf('petitioner').map((r) => r.part).join() === '1,2'
    && items.every((r) => r.ended_at && r.bytes > 0 && /^[0-9a-f]{64}$/.test(r.sha256 || '') && ['closed', 'stored'].includes(r.state)), items);
  const gaps = items.flatMap((r) => (r.gaps || []).map((g) => ({ ...g, part: r.part, who: r.participant_id })));
  const gapSeconds = gaps.length === 1 && gaps[0].end ? (Date.parse(gaps[0].end) - Date.parse(gaps[0].start)) / 1000 : null;
  console.log(`  figure: the recorder gap lasted ${gapSeconds} s (the page waited 4 s before offering again)`);
  check('one gap, on the petitioner\'s first part, with its start and end (a few seconds)',
    gaps.length === 1 && gaps[0].who === 'petitioner' && gaps[0].part === 1 && gapSeconds > 1 && gapSeconds < 15, gaps);
  await officer.goto(`${BASE}/records.html`);
  const open = `[data-testid=log-timeline][data-session-id="${booking.session_id}"]`;
  await officer.waitForSelector(open);
  check('the session log marks the session whose recording has a gap (录像有中断)',
    (await text(officer, `[data-testid=log-row][data-session-id="${booking.session_id}"] [data-testid=log-recording-gap]`)) === '录像有中断');
  await officer.focus(open);
  await officer.keyboard.press('Enter');
  await officer.waitForSelector('#timeline-panel:not([hidden]) [data-testid=rec-video]', { timeout: 20000 });
  // The files are closed (and their figures final) a moment after the end.
  let tiles = [];
  for (let i = 0; i < 20; i += 1) {
    tiles = await officer.$$eval('.rec-tile', (els) => els.map((el) => ({ id: el.dataset.recordingId, who: el.dataset.participantId })));
    if (tiles.length >= 3) break;
    await officer.waitForTimeout(500);
  }
  check('the records page lists each participant\'s recordings, the petitioner\'s in two parts',
    tiles.length === 3 && tiles.filter((x) => x.who === officerId).length === 1 && tiles.filter((x) => x.who === 'petitioner').length === 2, tiles);
  check('the gap is shown in words beside the petitioner\'s first part, and on the timeline',
    /录像中断：\d\d:\d\d:\d\d–\d\d:\d\d:\d\d（\d+ 秒）/.test(await text(officer, '[data-testid=rec-gaps]'))
    && /录像连接断开|没有收到/.test(await text(officer, '#timeline-body li[data-kind=recording_gap_started]'))
    && /录像已恢复/.test(await text(officer, '#timeline-body li[data-kind=recording_gap_ended]')),
    [await text(officer, '[data-testid=rec-gaps]'), await text(officer, '#timeline-body [data-testid=timeline]')]);
  check('the timeline and its chat are beside the player',
    await officer.isVisible('#timeline-body [data-testid=timeline] li[data-kind=chat]:has-text("本次接访全程录音录像")')
    && await officer.isVisible('#recordings [data-testid=rec-play]'));
  await officer.click('[data-testid=rec-play]');
  await officer.waitForFunction(() => window.courtlinkPlayer?.state.loaded && window.courtlinkPlayer.state.playing, null, { timeout: 30000 });
  // Count the frames each <video> presents while the player plays.
  await officer.evaluate(() => {
    window.testFrames = {};
    for (const video of document.querySelectorAll('[data-testid=rec-video]')) {
      const id = video.dataset.recordingId;
      window.testFrames[id] = 0;
      const count = () => { window.testFrames[id] += 1; video.requestVideoFrameCallback(count); };
      video.requestVideoFrameCallback(count);
    }
  });
  await officer.waitForTimeout(4000);
  const played = await officer.evaluate(() => [...document.querySelectorAll('[data-testid=rec-video]')].map((v) => ({
    id: v.dataset.recordingId, duration: v.duration, currentTime: v.currentTime, paused: v.paused,
    frames: window.testFrames[v.dataset.recordingId], quality: v.getVideoPlaybackQuality().totalVideoFrames,
    audioBytes: v.webkitAudioDecodedByteCount, videoBytes: v.webkitVideoDecodedByteCount,
    offset: window.courtlinkPlayer.tiles.find((t) => String(t.f.id) === v.dataset.recordingId).offset,
    inside: v.closest('.rec-tile').dataset.inside === 'true',
  })));
  const pos = await officer.evaluate(() => window.courtlinkPlayer.state.pos);
  await shot(officer, '05-records-player-zh');
  await officer.locator('#timeline-panel').screenshot({ path: join(ARTIFACTS, 'records-recordings-player.png') });
  for (const v of played) {
    const item = items.find((r) => String(r.id) === v.id);
    const who = item.participant_id === 'petitioner' ? 'petitioner' : 'officer';
    const up = connected[who][item.part - 1];
    const label = `${who}'s part ${item.part}`;
    console.log(`  figure: ${label}: duration ${v.duration.toFixed(2)} s, connected ${up.toFixed(2)} s, `
      + `duration_ms ${item.duration_ms}, ${item.bytes} bytes; ${v.frames} frames presented in 4 s`);
    check(`${label} plays in Chromium with a duration within 1 s of the time its connection was up`,
      Number.isFinite(v.duration) && Math.abs(v.duration - up) <= 1, { duration: v.duration, connected: up });
    // A part that starts later is shown as 此时段无录像 at the start; it is played below.
    if (!v.inside) continue;
    check(`${label}: video frames decoded and presented`, v.frames > 20 && v.quality > 20 && v.videoBytes > 0, v);
    check(`${label}: audio decoded`, v.audioBytes > 0, v);
  }
  // Side by side and in sync: each playing video's time plus its offset is the same moment.
  const inside = played.filter((v) => v.inside);
  const moments = inside.map((v) => v.currentTime + v.offset / 1000);
  check('the files of that moment play in sync (within 0.5 s of each other on the one clock); the later part waits',
    inside.length === 2 && Math.max(...moments) - Math.min(...moments) < 0.5 && inside.every((v) => !v.paused)
    && played.filter((v) => !v.inside).every((v) => v.paused), { played, pos });
  // The later part plays too, when the one control reaches it.
  const later = played.find((v) => !v.inside);
  await officer.evaluate((offset) => {
    const seek = document.querySelector('[data-testid=rec-seek]');
    seek.value = String(Math.ceil(offset / 1000) + 1);
    seek.dispatchEvent(new Event('input'));
  }, later.offset);
  await officer.evaluate((id) => {
    window.testFrames[id] = 0;
  }, later.id);
  await officer.waitForTimeout(3000);
  const then = await officer.evaluate((id) => {
    const v = document.querySelector(`[data-testid=rec-video][data-recording-id="${id}"]`);
    return { frames: window.testFrames[id], paused: v.paused, audioBytes: v.webkitAudioDecodedByteCount, inside: v.closest('.rec-tile').dataset.inside };
  }, later.id);
  check('the petitioner\'s second part plays once the control reaches it: frames and audio decoded',
    then.inside === 'true' && !then.paused && then.frames > 20 && then.audioBytes > 0, then);

  // The audio itself: decoded with WebAudio from the file, and not silence (the fake microphone beeps).
  const audio = await officer.evaluate(async () => {
    const out = [];
    for (const tile of window.courtlinkPlayer.tiles) {
      const buffer = await tile.blob.arrayBuffer();
      const ctx = new OfflineAudioContext(1, 48000, 48000);
      const decoded = await ctx.decodeAudioData(buffer);
      const data = decoded.getChannelData(0);
      let peak = 0;
      for (let i = 0; i < data.length; i += 16) peak = Math.max(peak, Math.abs(data[i]));
      out.push({ id: tile.f.id, seconds: decoded.duration, peak });
    }
    return out;
  });
  for (const a of audio) {
    const v = played.find((p) => p.id === String(a.id));
    check(`recording ${a.id}: WebAudio decodes its Opus track, as long as the file, not silent`,
      Math.abs(a.seconds - v.duration) <= 1 && a.peak > 0.01, { audio: a, video: v.duration });
  }

  // ---- the one control, by keyboard ----
  await officer.focus('[data-testid=rec-seek]');
  await officer.keyboard.press('k');
  await officer.waitForFunction(() => !window.courtlinkPlayer.state.playing);
  check('K on the position bar pauses every video',
    await officer.$$eval('[data-testid=rec-video]', (vs) => vs.every((v) => v.paused)));
  await officer.keyboard.press('Home');
  await officer.waitForFunction(() => window.courtlinkPlayer.state.pos === 0);
  for (let i = 0; i < 5; i += 1) await officer.keyboard.press('ArrowRight');
  await officer.waitForFunction(() => window.courtlinkPlayer.state.pos === 5000);
  const seeked = await officer.evaluate(() => window.courtlinkPlayer.tiles.map((t) => ({ offset: t.offset, time: t.video.currentTime })));
  check('the arrow keys move every video to the same moment', seeked.every((s) => s.offset > 5000
    || Math.abs(s.time - (5 - s.offset / 1000)) < 0.3), seeked);
  check('the position is told in words to assistive technology',
    /0:05 \/ 0:\d\d, 北京时间 \d\d:\d\d:\d\d/.test(await officer.getAttribute('[data-testid=rec-seek]', 'aria-valuetext')),
    await officer.getAttribute('[data-testid=rec-seek]', 'aria-valuetext'));

  // ---- download: the file as a file, through the token (no token in any URL) ----
  const first = items[0];
  const [download] = await Promise.all([
    officer.waitForEvent('download'),
    officer.click(`[data-testid=rec-download][data-recording-id="${first.id}"]`),
  ]);
  const { readFileSync } = await import('node:fs');
  const saved = readFileSync(await download.path());
  const playedSize = await officer.evaluate((id) => window.courtlinkPlayer.tiles.find((t) => t.f.id === id).blob.size, first.id);
  // `bytes` is the sealed file's size (docs/recording.md): a 32-byte header and 20 bytes a 64 KiB chunk more.
  const sealedSize = saved.length + 32 + 20 * Math.ceil(saved.length / 65536);
  check('download saves the WebM file whole: the file that played, the sealed size less the seal',
    download.suggestedFilename().endsWith('.webm') && saved.subarray(0, 4).toString('hex') === '1a45dfa3'
    && saved.length === playedSize && sealedSize === first.bytes,
    { name: download.suggestedFilename(), size: saved.length, playedSize, sealedSize, bytes: first.bytes });
  await shot(officer, '06-records-player-paused-zh');

  // ---- English ----
  await officer.click('[data-testid=lang-switch]');
  await officer.waitForSelector('[data-testid=rec-play]:has-text("Play")');
  check('the player speaks English too', (await text(officer, '#recordings h3')) === 'Recordings'
    && /Recording interrupted: \d\d:\d\d:\d\d–\d\d:\d\d:\d\d \(\d+ s\)/.test(await text(officer, '[data-testid=rec-gaps]')),
  await text(officer, '#recordings'));
  await shot(officer, '07-records-player-en');
  await officer.click('[data-testid=lang-switch]');
  console.log(`  figures: ${JSON.stringify(figures)}`);
}, { limitSeconds: 230 });
