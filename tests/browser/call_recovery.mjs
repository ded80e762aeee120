// When things go wrong during a call: the petitioner's line drops and comes back (resume: no
// fresh welcome, nothing missed, the officer keeps its peer connection); the petitioner reloads
// the page (a new connection replaces the old one, and the video comes back); the officer steps
// out with a transcript just typed (saved on the way out) and comes back to find it and the notes;
// the officer's login has run out when ending, and a password dialog saves the form; the
// petitioner reloads on the end screen and comes back to the transcript to sign.
import {
  BASE, PASSWORD, run, newPage, check, shot, text, expectVideo, admitPetitioner, officerJoins, apiBookNow, QUICK_QUALITY, mediaReported,
} from './lib.mjs';

await run('call recovery', async () => {
  const booking = await apiBookNow('xihu.coord', 'supreme');
  const officer = await newPage('officer', 'desk', { init: QUICK_QUALITY });
  await officerJoins(officer, 'spc.officer', booking.session_id);
  const pet = await newPage('petitioner', 'phone', { init: QUICK_QUALITY });
  await pet.goto(new URL(booking.join_path, BASE).href);
  await pet.click('#device-next:not([disabled])');
  await pet.click('#join-button');
  await pet.waitForSelector('#call-state[data-state="waitingRoom"]');
  await admitPetitioner(officer, pet);
  await expectVideo(officer, 'officer');
  await expectVideo(pet, 'petitioner');

  // ---- the petitioner's line drops (not a leave) and comes back with resume.<seq> ----
  await pet.evaluate(() => {
    window.testWelcomes = 0;
    window.courtlinkCall.addEventListener('welcome', () => { window.testWelcomes += 1; });
  });
  await officer.evaluate(() => { window.testPc = window.courtlinkCall.peers.get('petitioner').pc; });
  await pet.evaluate(() => window.courtlinkCall.ws.close(4100, 'test: the line dropped'));
  await officer.fill('#chat-input', '刚才网络断了一下吗？');
  await officer.press('#chat-input', 'Enter');
  await pet.waitForSelector('#chat-log li:has-text("刚才网络断了一下吗？")');
  await pet.waitForFunction(() => window.courtlinkCall.ws && window.courtlinkCall.ws.readyState === WebSocket.OPEN);
  check('a chat line sent meanwhile arrives after the resume', true);
  check('the resume brought no fresh welcome', (await pet.evaluate(() => window.testWelcomes)) === 0);
  check('the officer kept its peer connection', await officer.evaluate(
    () => window.courtlinkCall.peers.get('petitioner')?.pc === window.testPc));
  check('the officer never saw the petitioner leave',
    (await officer.$$eval('#remote-videos figure.tile[data-participant-id="petitioner"]', (els) => els.length)) === 1);
  await expectVideo(pet, 'petitioner after the resume');

  // ---- the petitioner reloads: straight back into the call, on the same seat (issue 18 item 8) ----
  await pet.reload();
  check('the code is still in the address after a reload',
    new URL(pet.url()).hash.replace(/-/g, '') === `#code=${booking.join_code.replace(/-/g, '')}`, pet.url());
  await pet.waitForFunction(() => window.courtlinkCall && window.courtlinkCall.state);
  check('after a reload the petitioner is back in the call without pressing anything',
    await pet.isVisible('#step-call') && !(await pet.isVisible('#step-device')) && !(await pet.isVisible('#step-code')));
  check('the same seat: let in at once, not put back in the waiting room',
    (await pet.evaluate(() => window.courtlinkCall.state)) === 'admitted', await pet.evaluate(() => window.courtlinkCall.state));
  await officer.waitForFunction(() => window.courtlinkCall.peers.get('petitioner')?.pc !== window.testPc);
  check('the officer dropped the old peer connection for a new one', true);
  await expectVideo(pet, 'petitioner after reloading');
  await expectVideo(officer, 'officer after the petitioner reloaded');
  await shot(pet, '01-petitioner-after-reload-zh');

  // ---- Back in the call asks first; staying keeps the call ----
  await pet.goBack();
  await pet.waitForSelector('#leave-confirm:not([hidden])');
  check('Back asks before leaving, and the call is still on',
    await pet.isVisible('#step-call') && (await pet.evaluate(() => window.courtlinkCall.state)) === 'admitted');
  await shot(pet, '01b-petitioner-back-asks-zh');
  await pet.click('#leave-no');
  check('staying keeps the call', await pet.isVisible('#step-call') && !(await pet.isVisible('#leave-confirm')));
  await expectVideo(pet, 'petitioner after answering Back with stay');

  // ---- 离开: the camera and microphone go off; 重新进入 turns them on and waits to be let in ----
  const liveTracks = (page) => page.evaluate(() => window.courtlinkLocalTracks());
  await pet.evaluate(() => {
    // Every track the page ever opened, to see whether any is still live after leaving.
    const opened = [];
    const original = navigator.mediaDevices.getUserMedia.bind(navigator.mediaDevices);
    window.courtlinkLocalTracks = () => opened.filter((t) => t.readyState === 'live').length;
    navigator.mediaDevices.getUserMedia = async (c) => {
      const s = await original(c);
      opened.push(...s.getTracks());
      return s;
    };
    const video = document.querySelector('#local-video');
    if (video.srcObject) opened.push(...video.srcObject.getTracks());
  });
  check('in the call the camera and microphone are on', (await liveTracks(pet)) > 0);
  await pet.click('#leave-button');
  await pet.click('#leave-yes');
  await pet.waitForSelector('#step-left:not([hidden])');
  check('after 离开 no camera or microphone track is live', (await liveTracks(pet)) === 0, await liveTracks(pet));
  await pet.click('#rejoin');
  await pet.waitForSelector('#call-state[data-state="waitingRoom"]');
  await admitPetitioner(officer, pet);
  await expectVideo(pet, 'petitioner back after 离开 and 重新进入');
  check('back in, the camera and microphone are on again', (await liveTracks(pet)) > 0);

  // ---- the officer steps out right after typing: the transcript is saved first ----
  await officer.fill('#note-input', '信访人重新进入。');
  await officer.press('#note-input', 'Enter');
  await officer.waitForSelector('#notes-list li:has-text("信访人重新进入。")');
  await officer.fill('#transcript-input', '信访人：刚才网络断了。');
  const [saved] = await Promise.all([
    officer.waitForResponse((r) => r.url().endsWith(`/sessions/${booking.session_id}/transcript`) && r.request().method() === 'PUT'),
    officer.click('[data-testid=leave-call]'),
  ]);
  await officer.waitForSelector('#list-view:not([hidden])');
  check('stepping out saves the transcript just typed', saved.status() === 200);
  await officer.click(`[data-testid=session-join][data-session-id="${booking.session_id}"]`);
  await officer.waitForFunction(() => document.querySelector('#transcript-input').value === '信访人：刚才网络断了。');
  await officer.waitForSelector('#notes-list li:has-text("信访人重新进入。")');
  check('back in the call: the transcript and the note are there, saved',
    (await officer.getAttribute('#transcript-state', 'data-state')) === 'saved', await text(officer, '#transcript-state'));
  await expectVideo(officer, 'officer back in the call');
  await expectVideo(pet, 'petitioner with the officer back');
  // Media flows between the two again, as the pages' own reports show: the end may record it.
  await mediaReported(officer, pet);

  // ---- the officer's staff token ran out: renewed silently with the sign-in's refresh cookie ----
  const renewed = await officer.evaluate(async () => {
    const entry = JSON.parse(sessionStorage.getItem('courtlink.staff'));
    entry.token = 'expired.token.value';
    sessionStorage.setItem('courtlink.staff', JSON.stringify(entry));
    const { api } = await import('/js/api.js');
    const me = await api('/me');
    const now = JSON.parse(sessionStorage.getItem('courtlink.staff'));
    return me.username === 'spc.officer' && now.token !== 'expired.token.value';
  });
  check('an expired staff token is renewed silently (POST /auth/refresh with the cookie), no password asked', renewed);

  // ---- the officer's sign-in ran out too: the end asks for the password, then goes through ----
  await officer.context().clearCookies();
  await officer.evaluate(() => {
    const entry = JSON.parse(sessionStorage.getItem('courtlink.staff'));
    entry.token = 'expired.token.value';
    sessionStorage.setItem('courtlink.staff', JSON.stringify(entry));
  });
  await officer.selectOption('#outcome-select', 'assign');
  await officer.fill('#end-note', '交由原审法院办理。');
  await officer.focus('#end-button');
  await officer.keyboard.press('Enter');
  // Confirmed with the keyboard too: the focus is on the confirmation.
  await officer.waitForSelector('[data-testid=end-confirm]:not([hidden])');
  await officer.keyboard.press('Enter');
  await officer.waitForSelector('[data-testid=reauth-dialog]');
  check('a dialog asks for the password; the form is kept',
    (await officer.inputValue('#end-note')) === '交由原审法院办理。' && (await officer.inputValue('#outcome-select')) === 'assign');
  check('the call goes on meanwhile', (await pet.evaluate(() => window.courtlinkCall.peers.size)) === 1);
  await officer.fill('[data-testid=reauth-password]', 'wrong-password');
  await officer.keyboard.press('Enter');
  await officer.waitForSelector('[data-testid=reauth-dialog] .alert:not([hidden])');
  check('a wrong password is refused in the dialog', /用户名或密码不正确/.test(await text(officer, '[data-testid=reauth-dialog] .alert')));
  await officer.fill('[data-testid=reauth-password]', PASSWORD);
  await shot(officer, '02-officer-password-again-zh');
  await officer.keyboard.press('Enter');
  await officer.waitForSelector('#timeline-view:not([hidden]) [data-testid=timeline]');
  check('the end went through after the password', (await text(officer, '[data-testid=timeline-outcome]')) === '交办');
  await pet.waitForSelector('[data-testid=ended-screen]:not([hidden])');
  check('the petitioner sees the end', (await text(pet, '#ended-outcome')) === '处理结果：交办');

  // ---- the petitioner reloads on the end screen: back to the transcript to sign ----
  await pet.waitForSelector('[data-testid=transcript-text]:not([hidden])');
  await pet.reload();
  await pet.click('#device-next:not([disabled])');
  await pet.click('#join-button');
  await pet.waitForSelector('[data-testid=ended-screen]:not([hidden]) [data-testid=transcript-text]:not([hidden])');
  check('after a reload (the code is answered like a wrong one) the end screen comes back with the transcript',
    (await text(pet, '[data-testid=transcript-text]')) === '信访人：刚才网络断了。' && await pet.isVisible('#transcript-confirm'));
  await shot(pet, '03-petitioner-end-after-reload-zh');
});
