// The main path, in Chinese (the default): the coordinator books with the keyboard; the officer
// joins; the petitioner (phone-sized) joins by the link and waits until the officer lets them in;
// both sides decode each other's video; chat goes both ways; the officer's login is refreshed
// during the call; the officer ends with an outcome; the petitioner sees the end; the
// coordinator's ledger shows the video reception, counted as handled locally, with its outcome.
import {
  BASE, run, newPage, check, shot, text, login, expectVideo, usableNow, admitPetitioner, shanghaiDay,
} from './lib.mjs';

const OUTCOME_NOTE = '已当面答复，释法明理。';

await run('main path', async () => {
  // ---- the coordinator logs in and books with the keyboard ----
  const coord = await newPage('coordinator');
  await coord.goto(`${BASE}/`);
  check('login page is in Chinese first', (await coord.getAttribute('html', 'lang')) === 'zh-CN'
    && (await text(coord, '#login-submit')) === '登录', await text(coord, '#login-submit'));
  await login(coord, 'xihu.coord', 'wrong-password');
  await coord.waitForSelector('#login-error:not([hidden])');
  check('a wrong password is refused in words', /用户名或密码不正确/.test(await text(coord, '#login-error')),
    await text(coord, '#login-error'));
  await shot(coord, '01-login-error-zh');

  await login(coord, 'xihu.coord');
  await coord.waitForURL(/coordinator\.html/);
  const firstCase = coord.locator('[data-testid=case-item]').first();
  const caseId = await firstCase.getAttribute('data-case-id');
  await firstCase.focus();
  await coord.keyboard.press('Enter');
  await coord.waitForSelector('[data-testid=ledger-table]');
  check('Enter opens the case and its ledger; focus stays on the case', await coord.evaluate((id) => {
    const el = document.activeElement;
    return el?.dataset.caseId === id && el.getAttribute('aria-pressed') === 'true';
  }, caseId), await coord.evaluate(() => document.activeElement?.outerHTML.slice(0, 120)));

  // Tab on to the first SPC slot that the join code works for now, and press Space. (Just
  // before midnight in Beijing that slot is tomorrow's: Enter on tomorrow's day chip first.)
  const day = shanghaiDay(Date.now() + 5 * 60e3 + 1000);
  let slot = null;
  for (let i = 0; i < 60 && !slot; i += 1) {
    await coord.keyboard.press('Tab');
    const focused = await coord.evaluate(() => {
      const el = document.activeElement;
      return { ...el?.dataset, pressed: el?.getAttribute('aria-pressed') };
    });
    if (focused.testid === 'slot-day' && focused.day === day && focused.pressed !== 'true') {
      await coord.keyboard.press('Enter');
    } else if (focused.testid === 'slot-button' && focused.courtLevel === 'supreme' && usableNow(focused.endsAt)) {
      slot = { id: focused.slotId, endsAt: focused.endsAt };
    }
  }
  check('Tab reaches an open SPC slot', Boolean(slot));
  await coord.keyboard.press('Space');
  check('Space chooses the slot', (await coord.getAttribute(`[data-testid=slot-button][data-slot-id="${slot.id}"]`, 'aria-pressed')) === 'true'
    && /最高人民法院/.test(await text(coord, '#slot-chosen')), await text(coord, '#slot-chosen'));
  await coord.focus('#room-select');
  await coord.keyboard.press('ArrowDown');
  check('arrow keys choose a local room', (await coord.inputValue('#room-select')) !== '');
  await coord.keyboard.press('Tab');
  check('Tab goes on to the book button', await coord.evaluate(() => document.activeElement?.id === 'book-button'));
  const [response] = await Promise.all([
    coord.waitForResponse((r) => r.url().endsWith('/api/v1/bookings') && r.request().method() === 'POST'),
    coord.keyboard.press('Enter'),
  ]);
  const booking = await response.json();
  check('Enter books: POST /bookings answers 201', response.status() === 201, `${response.status()} ${JSON.stringify(booking)}`);
  await coord.waitForSelector('#booking-result:not([hidden])');
  check('focus moves to the result', await coord.evaluate(() => document.activeElement?.id === 'booking-result'));
  const code = await text(coord, '#join-code');
  check('the join code is shown', code.replace(/-/g, '') === booking.join_code.replace(/-/g, '') && /^\d{4}-\d{4}-\d{4}$/.test(code), code);
  const link = await coord.getAttribute('#join-link', 'href');
  check('the join link is the origin plus join_path', link === new URL(booking.join_path, BASE).href, link);
  await coord.waitForSelector(`[data-testid=session-item][data-session-id="${booking.session_id}"]`);
  check('today\'s sessions list the booking', true);
  await shot(coord, '02-coordinator-booked-zh');

  // ---- the officer joins (the page refreshes its login every few seconds in this test) ----
  const officer = await newPage('officer', 'desk', { init: () => { window.COURTLINK_TOKEN_REFRESH_MS = 4000; } });
  await login(officer, 'spc.officer');
  await officer.waitForURL(/officer\.html/);
  const join = `[data-testid=session-join][data-session-id="${booking.session_id}"]`;
  await officer.waitForSelector(join);
  await shot(officer, '03-officer-list-zh');
  const firstToken = await officer.evaluate(() => JSON.parse(sessionStorage.getItem('courtlink.staff')));
  await officer.click(join);
  await officer.waitForSelector('#call-view:not([hidden])');
  await officer.waitForFunction(() => window.courtlinkCall && window.courtlinkCall.you);
  check('the officer is the host', (await officer.evaluate(() => window.courtlinkCall.you.role)) === 'host');

  // ---- the petitioner opens the link on a phone ----
  const pet = await newPage('petitioner', 'phone');
  await pet.goto(link);
  await pet.waitForSelector('#device-next:not([disabled])');
  await pet.waitForFunction(() => document.querySelector('#preview-video').videoWidth > 0);
  check('step 1 shows the camera preview', /检查摄像头和麦克风/.test(await text(pet, '#device-heading')));
  await shot(pet, '04-petitioner-device-zh');
  await pet.click('#device-next');
  await pet.waitForSelector('#step-code:not([hidden])');
  check('step 2 has the code from the link', (await pet.inputValue('#join-code-input')) === code, await pet.inputValue('#join-code-input'));
  await shot(pet, '05-petitioner-code-zh');
  await pet.click('#join-button');
  await pet.waitForSelector('#step-call:not([hidden])');
  await pet.waitForSelector('#call-state[data-state="waitingRoom"]');
  check('the petitioner waits in the waiting room, told so', /等候/.test(await text(pet, '#call-state')), await text(pet, '#call-state'));
  check('no peer connection before admission', (await pet.evaluate(() => window.courtlinkCall.peers.size)) === 0);
  await shot(pet, '06-petitioner-waiting-room-zh');

  // ---- the officer lets them in ----
  await officer.waitForSelector('#waiting-room:not([hidden]) [data-testid=admit-button][data-participant-id="petitioner"]');
  check('the officer sees the petitioner waiting', /上访人/.test(await text(officer, '#waiting-list')), await text(officer, '#waiting-list'));
  await shot(officer, '07-officer-waiting-room-zh');
  await admitPetitioner(officer, pet);
  check('admitted: the waiting room empties', await officer.isHidden('#waiting-room'));

  // ---- video both ways ----
  await expectVideo(officer, 'officer');
  await expectVideo(pet, 'petitioner');
  await pet.waitForSelector('#call-state[data-state="inCall"]');
  check('the petitioner is told the call is on', /已接通|可以开始/.test(await text(pet, '#call-state')), await text(pet, '#call-state'));
  await shot(pet, '08-petitioner-call-zh');

  // ---- chat both ways ----
  await officer.fill('#chat-input', '您好，能听到吗？');
  await officer.press('#chat-input', 'Enter');
  await pet.waitForSelector('#chat-log li:has-text("您好，能听到吗？")');
  check('the petitioner gets the officer\'s line, with the officer\'s name',
    /周法官/.test(await text(pet, '#chat-log li:has-text("您好，能听到吗？") .chat-name')));
  await pet.fill('#chat-input', '能听到，谢谢法官。');
  await pet.click('#chat-send');
  await officer.waitForSelector('#chat-log li:has-text("能听到，谢谢法官。")');
  check('the officer gets the petitioner\'s line, marked as the petitioner\'s',
    (await text(officer, '#chat-log li:has-text("能听到，谢谢法官。") .chat-name')) === '上访人');
  // Each side's own line comes back from the server (the echo), marked as its own.
  await pet.waitForSelector('#chat-log li.mine:has-text("能听到，谢谢法官。")');
  await officer.waitForSelector('#chat-log li.mine:has-text("您好，能听到吗？")');
  check('own lines come back, marked as mine, on both sides',
    (await text(pet, '#chat-log li.mine .chat-name')) === '我' && (await text(officer, '#chat-log li.mine .chat-name')) === '我');
  await shot(officer, '09-officer-call-zh');
  await shot(pet, '10-petitioner-chat-zh');

  // ---- the officer's login was refreshed meanwhile (POST /auth/refresh) ----
  const refreshed = await officer.waitForFunction((first) => {
    const now = JSON.parse(sessionStorage.getItem('courtlink.staff'));
    return now && now.token !== first && now.user;
  }, firstToken.token, { timeout: 10000 }).then(() => true, () => false);
  check('the officer page refreshed its token during the call (POST /auth/refresh)', refreshed);
  const fresh = await officer.evaluate(() => JSON.parse(sessionStorage.getItem('courtlink.staff')));
  check('the officer\'s token was refreshed, later expiry, same user',
    Date.parse(fresh.expires_at) > Date.parse(firstToken.expires_at) && fresh.user.username === 'spc.officer',
    { before: firstToken.expires_at, after: fresh.expires_at });

  // ---- the officer ends with an outcome ----
  await officer.selectOption('#outcome-select', 'reply');
  await officer.fill('#end-note', OUTCOME_NOTE);
  const [ending] = await Promise.all([
    officer.waitForResponse((r) => r.url().endsWith(`/sessions/${booking.session_id}/end`)),
    officer.click('#end-button'),
  ]);
  check('the end was sent with a refreshed token and accepted', ending.status() === 200
    && ending.request().headers().authorization !== `Bearer ${firstToken.token}`, ending.status());
  await officer.waitForSelector('#timeline-view:not([hidden]) [data-testid=timeline]');
  const kinds = await officer.$$eval('[data-testid=timeline] li', (lis) => lis.map((li) => li.dataset.kind));
  check('the timeline has joins, the admission, chat and the end',
    ['joined', 'admitted', 'chat', 'ended'].every((k) => kinds.includes(k)), kinds);
  const admitted = await text(officer, '[data-testid=timeline] li[data-kind=admitted]');
  check('the admission is told in words', admitted.includes('请入') && admitted.includes('最高法 周法官') && !/user-\d/.test(admitted), admitted);
  check('the timeline\'s outcome is 答复', (await text(officer, '[data-testid=timeline-outcome]')) === '答复');
  check('the end is signed with the officer\'s name',
    (await text(officer, '[data-testid=timeline] li[data-kind=ended] .timeline-actor')) === '最高法 周法官',
    await text(officer, '[data-testid=timeline] li[data-kind=ended]'));
  await shot(officer, '11-officer-timeline-zh');

  await pet.waitForSelector('[data-testid=ended-screen]:not([hidden])');
  check('the petitioner sees the end and its outcome', (await text(pet, '#ended-heading')) === '接访已结束'
    && (await text(pet, '#ended-outcome')) === '处理结果：答复', await text(pet, '#step-ended'));
  check('the petitioner\'s camera is off', await pet.evaluate(() => !document.querySelector('#local-video').srcObject
    || document.querySelector('#local-video').srcObject.getTracks().every((tr) => tr.readyState === 'ended')));
  await shot(pet, '12-petitioner-ended-zh');

  // ---- the coordinator's ledger ----
  await coord.click('#sessions-refresh');
  const row = `[data-testid=ledger-entry][data-session-id="${booking.session_id}"]`;
  await coord.waitForSelector(row);
  check('the ledger entry is a video reception with the SPC', (await coord.getAttribute(row, 'data-channel')) === 'video_spc'
    && /与最高法视频接访/.test(await text(coord, row)), await text(coord, row));
  check('counted as handled locally', (await coord.getAttribute(row, 'data-counted-as')) === 'local'
    && /就地化解/.test(await text(coord, row)), await text(coord, row));
  const rowText = await text(coord, row);
  check('the outcome in words with the officer\'s note, not the raw note',
    rowText.includes('答复') && rowText.includes(OUTCOME_NOTE) && !/\breply\b/.test(rowText)
    && (await coord.getAttribute(row, 'data-outcome')) === 'reply', rowText);
  await coord.waitForSelector(`[data-testid=session-item][data-session-id="${booking.session_id}"] .status-ended`);
  check('today\'s sessions show it ended', true);
  await shot(coord, '13-coordinator-ledger-zh');
});
