// The main path, in Chinese (the default): the coordinator books with the keyboard; the officer
// joins; the petitioner (phone-sized) joins by the link and waits until the officer lets them in;
// both sides decode each other's video; chat goes both ways; the officer's login is refreshed
// during the call; the officer writes the transcript (autosaved, then saved with the button) and
// a note, and ends with an outcome and a follow-up deadline; both pages have sent connection
// quality reports; the officer corrects an entry of the timeline; the petitioner reads the
// transcript in large type, confirms and signs it, and rates the reception; the API shows the
// decision with the text's SHA-256, the rating and the quality reports; the coordinator's ledger
// shows the video reception, counted as handled locally, with its outcome; the case view shows
// the masked phone, 四包四定 and the statutory clocks, reads the ID number (audited) and extends
// the handling period once.
import { createHash } from 'node:crypto';
import {
  BASE, run, newPage, check, shot, text, login, expectVideo, admitPetitioner, shanghaiDay, apiCall, apiLogin, lateSundayInBeijing,
  QUICK_QUALITY, catalogues, apartOnOneLine,
} from './lib.mjs';

const { zh } = await catalogues();

const OUTCOME_NOTE = '已当面答复，释法明理。';
const TRANSCRIPT_1 = '接访法官：请讲一下您反映的问题。\n信访人：执行款一直没有到位。';
const TRANSCRIPT_2 = '\n接访法官：我们将督促执行法院在一个月内答复。';
const NOTE = '信访人情绪平稳，携带材料三份。';
const CORRECTION = '应为：信访人携带材料四份。';
const FOLLOW_UP_PERSON = '西湖区法院 信访专干';

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

  // The one booking panel (the calendar, js/schedule-coord.js): the case just opened is the
  // calendar's case; the SPC's week is shown first: the first SPC slot that the join code works
  // for now is held with Enter.
  await coord.waitForFunction((id) => document.querySelector('[data-testid=sched-case]')?.value === id, caseId);
  check('opening the case makes it the calendar\'s case', true);
  if (!(await coord.inputValue('[data-testid=sched-room]'))) {
    await coord.focus('[data-testid=sched-room]');
    await coord.keyboard.press('ArrowDown');
  }
  check('a local room is chosen', (await coord.inputValue('[data-testid=sched-room]')) !== '');
  // In the last half hour of a Sunday (Beijing) the week shown has no slot left.
  if (lateSundayInBeijing()) await coord.click('[data-testid=sched-next]');
  const anySlot = '[data-testid=cal-slot][data-court-level=supreme]';
  await coord.waitForSelector(anySlot);
  const target = await coord.evaluate(() => {
    const usable = (el) => Date.parse(el.dataset.endsAt) > Date.now() + 5 * 60e3;
    const el = [...document.querySelectorAll('[data-testid=cal-slot][data-court-level=supreme]')].filter(usable)
      .sort((x, y) => x.dataset.startsAt.localeCompare(y.dataset.startsAt))[0];
    return el ? { id: el.dataset.slotId, endsAt: el.dataset.endsAt, startsAt: el.dataset.startsAt } : null;
  });
  check('the calendar offers an SPC slot open now', Boolean(target));
  // (The arrow keys' walk over the grid is scheduling.mjs's; here the slot is focused and held
  // with Enter, and the rest of the booking is done by keyboard.)
  await coord.focus(`[data-testid=cal-slot][data-slot-id="${target.id}"]`);
  const slot = { id: target.id, endsAt: target.endsAt };
  const [hold] = await Promise.all([
    coord.waitForResponse((r) => r.url().endsWith('/api/v1/holds') && r.request().method() === 'POST'),
    coord.keyboard.press('Enter'),
  ]);
  check('Enter holds the slot', hold.status() === 201, hold.status());
  await coord.waitForSelector('[data-testid=sched-book]');
  check('the hold says where and when', /最高人民法院/.test(await text(coord, '[data-testid=hold-notice]')), await text(coord, '[data-testid=hold-notice]'));
  await coord.focus('[data-testid=hold-notice]');
  await coord.keyboard.press('Tab');
  check('Tab goes on to the book button', await coord.evaluate(() => document.activeElement?.dataset?.testid === 'sched-book'));
  const [response] = await Promise.all([
    coord.waitForResponse((r) => r.url().endsWith('/api/v1/bookings') && r.request().method() === 'POST'),
    coord.keyboard.press('Enter'),
  ]);
  const booking = await response.json();
  check('Enter books: POST /bookings answers 201', response.status() === 201, `${response.status()} ${JSON.stringify(booking)}`);
  check('the slot booked is the one held', String(booking.slot_id ?? slot.id) === String(slot.id), booking);
  await coord.waitForSelector('[data-testid=sched-result]');
  check('focus moves to the result', await coord.evaluate(() => document.activeElement?.dataset?.testid === 'sched-result'));
  check('the buttons for the notice and for another booking stand apart, on one line (they touched)',
    ...(await apartOnOneLine(coord, '[data-testid=sched-result] [data-testid=notice-link]', '[data-testid=sched-result-again]')));
  const code = await text(coord, '[data-testid=sched-join-code]');
  check('the join code is shown', code.replace(/-/g, '') === booking.join_code.replace(/-/g, '') && /^\d{4}-\d{4}-\d{4}$/.test(code), code);
  const link = await coord.getAttribute('[data-testid=sched-join-link]', 'href');
  check('the join link is the origin plus join_path', link === new URL(booking.join_path, BASE).href, link);
  await coord.waitForSelector(`[data-testid=session-item][data-session-id="${booking.session_id}"]`);
  check('today\'s sessions list the booking', true);
  await shot(coord, '02-coordinator-booked-zh');
  // A sub-heading has air above it, or it reads as part of what came before (the walk found
  // 台账 touching 上传附件, and 本院的预约 touching the applications).
  const cramped = await coord.evaluate(() => ['#ledger-heading', '.schedule-panel > h3'].flatMap((sel) => {
    const el = document.querySelector(sel);
    if (!el || el.hidden) return [];
    let before = el.previousElementSibling;
    while (before && (before.hidden || before.getBoundingClientRect().height === 0)) before = before.previousElementSibling;
    if (!before) return [];
    const gap = el.getBoundingClientRect().top - before.getBoundingClientRect().bottom;
    return gap < 16 ? [`${sel}: ${Math.round(gap)} px`] : [];
  }));
  check('the sub-headings stand apart from what is above them', cramped.length === 0, cramped);
  const filterRow = await coord.evaluate(() => {
    const label = document.querySelector('label[for=assignments-filter]')?.getBoundingClientRect();
    const select = document.querySelector('#assignments-filter')?.getBoundingClientRect();
    return label && select ? { label: [label.top, label.bottom, label.right], select: [select.top, select.bottom, select.left] } : null;
  });
  check('交办事项: the 状态 label sits just before its list, on the same line',
    filterRow && filterRow.label[0] < filterRow.select[1] && filterRow.select[0] < filterRow.label[1]
    && filterRow.select[2] - filterRow.label[2] >= 0 && filterRow.select[2] - filterRow.label[2] < 24, filterRow);

  // ---- the officer joins (the page refreshes its login every few seconds in this test) ----
  const officer = await newPage('officer', 'desk', {
    init: () => { window.COURTLINK_TOKEN_REFRESH_MS = 4000; window.COURTLINK_QUALITY_MS = 2000; },
  });
  await login(officer, 'spc.officer');
  await officer.waitForURL(/officer\.html/);
  const join = `[data-testid=session-join][data-session-id="${booking.session_id}"]`;
  await officer.waitForSelector(join);
  check('the session is listed as 待接访 (scheduled)',
    (await text(officer, `[data-testid=session-item][data-session-id="${booking.session_id}"] [data-testid=session-status]`)) === '待接访');
  await shot(officer, '03-officer-list-zh');
  const firstToken = await officer.evaluate(() => JSON.parse(sessionStorage.getItem('courtlink.staff')));
  await officer.click(join);
  await officer.waitForSelector('#call-view:not([hidden])');
  await officer.waitForFunction(() => window.courtlinkCall && window.courtlinkCall.you);
  check('the officer is the host', (await officer.evaluate(() => window.courtlinkCall.you.role)) === 'host');

  // ---- the petitioner opens the link on a phone ----
  const pet = await newPage('petitioner', 'phone', { init: QUICK_QUALITY });
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
  // One decision while waiting: test the line, or leave. Mute, camera and chat come with the call.
  const offered = () => pet.$$eval('#step-call button, #step-call input', (els) => els
    .filter((e) => e.getClientRects().length > 0 && getComputedStyle(e).visibility !== 'hidden')
    .map((e) => e.id || e.dataset.testid).sort().join(' '));
  const waitingOffers = await offered();
  check('the waiting room offers the line test and 离开, nothing else', waitingOffers === 'leave-button line-test-start', waitingOffers);
  await shot(pet, '06-petitioner-waiting-room-zh');

  // ---- the officer lets them in ----
  await officer.waitForSelector('#waiting-room:not([hidden]) [data-testid=admit-button][data-participant-id="petitioner"]');
  check('the officer sees the petitioner waiting', /信访人/.test(await text(officer, '#waiting-list')), await text(officer, '#waiting-list'));
  await shot(officer, '07-officer-waiting-room-zh');
  await admitPetitioner(officer, pet);
  check('admitted: the waiting room empties', await officer.isHidden('#waiting-room'));

  // ---- video both ways ----
  await expectVideo(officer, 'officer');
  await expectVideo(pet, 'petitioner');
  await pet.waitForSelector('#call-state[data-state="inCall"]');
  check('the petitioner is told the call is on', /已接通|可以开始/.test(await text(pet, '#call-state')), await text(pet, '#call-state'));
  const callOffers = await offered();
  check('in the call: microphone, camera, chat and 离开', ['mic-toggle', 'cam-toggle', 'chat-input', 'chat-send', 'leave-button'].every((id) => callOffers.split(' ').includes(id)), callOffers);
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
    (await text(officer, '#chat-log li:has-text("能听到，谢谢法官。") .chat-name')) === '信访人');
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

  // ---- the officer writes the transcript: autosaved a few seconds after typing stops ----
  check('the officer has the transcript editor and notes', await officer.isVisible('#transcript-input')
    && await officer.isVisible('#note-input'));
  await officer.fill('#transcript-input', TRANSCRIPT_1);
  check('typing marks the transcript unsaved',
    (await officer.getAttribute('#transcript-state', 'data-state')) === 'unsaved', await text(officer, '#transcript-state'));
  const [autosave] = await Promise.all([
    officer.waitForResponse((r) => r.url().endsWith(`/sessions/${booking.session_id}/transcript`) && r.request().method() === 'PUT',
      { timeout: 10000 }),
    officer.waitForSelector('#transcript-state[data-state="saved"]', { timeout: 10000 }),
  ]);
  check('autosave: PUT /transcript answers 200, and the page says saved', autosave.status() === 200
    && /已保存 \d\d:\d\d/.test(await text(officer, '#transcript-state')), await text(officer, '#transcript-state'));
  // More text, saved at once with the button.
  await officer.press('#transcript-input', 'Control+End');
  await officer.keyboard.insertText(TRANSCRIPT_2);
  const [explicit] = await Promise.all([
    officer.waitForResponse((r) => r.url().endsWith(`/sessions/${booking.session_id}/transcript`) && r.request().method() === 'PUT'),
    officer.click('#transcript-save'),
  ]);
  await officer.waitForSelector('#transcript-state[data-state="saved"]');
  const sentText = JSON.parse(explicit.request().postData()).text;
  check('the save button saves the whole text at once', explicit.status() === 200 && sentText === (TRANSCRIPT_1 + TRANSCRIPT_2).trim(), sentText);

  // ---- a note on the timeline ----
  await officer.fill('#note-input', NOTE);
  const [noted] = await Promise.all([
    officer.waitForResponse((r) => r.url().endsWith(`/sessions/${booking.session_id}/notes`)),
    officer.press('#note-input', 'Enter'),
  ]);
  await officer.waitForSelector(`#notes-list li:has-text("${NOTE}")`);
  const note = await noted.json();
  check('Enter adds a note: POST /notes answers 201 with the event', noted.status() === 201 && note.kind === 'note', note);

  // ---- both pages report connection quality while connected ----
  await officer.waitForFunction(() => window.courtlinkCall.qualityReports > 0, null, { timeout: 10000 });
  await pet.waitForFunction(() => window.courtlinkCall.qualityReports > 0, null, { timeout: 10000 });
  const quality = await officer.evaluate(() => window.courtlinkCall.lastQuality);
  check('the officer\'s page sent a quality report from getStats', quality && quality.rtt_ms >= 0 && quality.rtt_ms <= 60000
    && quality.packet_loss >= 0 && quality.packet_loss <= 1 && quality.bitrate_kbps > 0, quality);
  await shot(officer, '11-officer-transcript-note-zh');

  // ---- the officer ends with an outcome and a follow-up ----
  const followUp = shanghaiDay(Date.now() + 7 * 86400e3);
  await officer.selectOption('#outcome-select', 'explained_law');
  await officer.fill('#end-note', OUTCOME_NOTE);
  await officer.fill('#follow-up-deadline', shanghaiDay(Date.now() - 86400e3));
  await officer.click('#end-button');
  await officer.waitForSelector('#end-error:not([hidden])');
  check('a follow-up deadline in the past is caught on the page', /不能早于今天/.test(await text(officer, '#end-error')),
    await text(officer, '#end-error'));
  await officer.fill('#follow-up-deadline', followUp);
  await officer.fill('#follow-up-person', FOLLOW_UP_PERSON);
  await shot(officer, '12-officer-end-form-zh');
  // What will be recorded is shown first, and nothing is sent until it is confirmed.
  let sentEarly = false;
  const watchEarly = (r) => { if (r.url().endsWith(`/sessions/${booking.session_id}/end`)) sentEarly = true; };
  officer.on('request', watchEarly);
  await officer.click('#end-button');
  await officer.waitForSelector('[data-testid=end-confirm]:not([hidden])');
  const confirmText = await text(officer, '#end-confirm-text');
  check('the outcome, the note and the follow-up are shown to confirm before the end is sent',
    confirmText.includes(zh['outcome.explained_law']) && confirmText.includes(OUTCOME_NOTE) && !confirmText.includes('。。')
    && confirmText.includes(`后续办理：${followUp.replace(/-/g, '/')}前，${FOLLOW_UP_PERSON}。`)
    && await officer.evaluate(() => document.activeElement?.id === 'end-confirm-yes'), confirmText);
  await shot(officer, '12a-officer-end-confirm-zh');
  await officer.click('#end-confirm-no');
  check('going back changes nothing: the form is there, nothing was sent',
    !sentEarly && !(await officer.isVisible('[data-testid=end-confirm]')) && await officer.isVisible('#end-button')
    && (await officer.inputValue('#outcome-select')) === 'explained_law');
  officer.off('request', watchEarly);
  await officer.click('#end-button');
  await officer.waitForSelector('[data-testid=end-confirm]:not([hidden])');
  const [ending] = await Promise.all([
    officer.waitForResponse((r) => r.url().endsWith(`/sessions/${booking.session_id}/end`)),
    officer.click('#end-confirm-yes'),
  ]);
  check('the end was sent with a refreshed token and accepted', ending.status() === 200
    && ending.request().headers().authorization !== `Bearer ${firstToken.token}`, ending.status());
  const endBody = JSON.parse(ending.request().postData());
  check('the end carries the follow-up deadline and person', endBody.follow_up_deadline === followUp
    && endBody.follow_up_person === FOLLOW_UP_PERSON, endBody);
  await officer.waitForSelector('#timeline-view:not([hidden]) [data-testid=timeline]');
  const kinds = await officer.$$eval('[data-testid=timeline] li', (lis) => lis.map((li) => li.dataset.kind));
  check('the timeline has joins, the admission, chat, the note and the end',
    ['joined', 'admitted', 'chat', 'note', 'ended'].every((k) => kinds.includes(k)), kinds);
  const admitted = await text(officer, '[data-testid=timeline] li[data-kind=admitted]');
  check('the admission is told in words', admitted.includes('请入') && admitted.includes('最高法 周法官') && !/user-\d/.test(admitted), admitted);
  check('the timeline\'s outcome is 释法明理', (await text(officer, '[data-testid=timeline-outcome]')) === '释法明理');
  check('the end is signed with the officer\'s name',
    (await text(officer, '[data-testid=timeline] li[data-kind=ended] .timeline-actor')) === '最高法 周法官',
    await text(officer, '[data-testid=timeline] li[data-kind=ended]'));
  check('the timeline shows the transcript and the follow-up',
    (await text(officer, '[data-testid=transcript-record]')) === (TRANSCRIPT_1 + TRANSCRIPT_2).trim()
    && (await text(officer, '[data-testid=timeline-follow-up]')).includes(FOLLOW_UP_PERSON), await text(officer, '[data-testid=timeline-follow-up]'));
  check('the status words are Chinese', (await text(officer, '[data-testid=timeline-status]')) === '已结束');
  check('quality reports are summed up, not listed one by one', await officer.isVisible('[data-testid=quality-summary]')
    && !kinds.includes('quality'), kinds);

  // ---- after the end, the host corrects the note (the record is append-only) ----
  const noteItem = `[data-testid=timeline] li[data-event-id="${note.id}"]`;
  await officer.click(`${noteItem} [data-testid=correct-button]`);
  check('the correction form opens with the focus in it', await officer.evaluate(() => document.activeElement?.dataset.testid === 'correction-input'));
  await officer.keyboard.insertText(CORRECTION);
  const [corrected] = await Promise.all([
    officer.waitForResponse((r) => r.url().endsWith(`/sessions/${booking.session_id}/corrections`)),
    officer.click(`${noteItem} [data-testid=correction-submit]`),
  ]);
  const correction = await corrected.json();
  check('POST /corrections answers 201, pointing at the note', corrected.status() === 201 && correction.data?.corrects === note.id, correction);
  await officer.waitForSelector(`${noteItem} [data-testid=correction]:has-text("${CORRECTION}")`);
  check('the correction is shown under the note it corrects', (await text(officer, `${noteItem} .timeline-text`)) === NOTE
    && (await text(officer, `${noteItem} [data-testid=correction]`)).includes('最高法 周法官'), await text(officer, noteItem));
  await shot(officer, '13-officer-timeline-correction-zh');

  // ---- the petitioner reads the transcript, signs it and rates the reception ----
  await pet.waitForSelector('[data-testid=ended-screen]:not([hidden])');
  check('the petitioner sees the end and its outcome', (await text(pet, '#ended-heading')) === '接访已结束'
    && (await text(pet, '#ended-outcome')) === '处理结果：释法明理', await text(pet, '#step-ended'));
  check('the petitioner\'s camera is off', await pet.evaluate(() => !document.querySelector('#local-video').srcObject
    || document.querySelector('#local-video').srcObject.getTracks().every((tr) => tr.readyState === 'ended')));
  await pet.waitForSelector('[data-testid=transcript-text]:not([hidden])');
  check('the petitioner reads the transcript as the officer wrote it',
    (await pet.textContent('[data-testid=transcript-text]')) === (TRANSCRIPT_1 + TRANSCRIPT_2).trim());
  const fontPx = await pet.$eval('[data-testid=transcript-text]', (el) => parseFloat(getComputedStyle(el).fontSize));
  check('in large type', fontPx >= 24, fontPx);
  check('two big buttons say what they do', (await text(pet, '#transcript-confirm')) === '确认无误并签字'
    && (await text(pet, '#transcript-refuse')) === '拒绝签字' && await pet.isHidden('#record-rating'));
  await shot(pet, '14-petitioner-transcript-zh');
  await pet.click('#transcript-confirm');
  await pet.waitForSelector('#decision-check:not([hidden])');
  check('the choice is asked once more before it counts', /确定吗/.test(await text(pet, '#decision-question'))
    && (await text(pet, '#decision-yes')) === '确定，签字', await text(pet, '#decision-check'));
  await shot(pet, '15-petitioner-confirm-check-zh');
  const [decided] = await Promise.all([
    pet.waitForResponse((r) => r.url().endsWith(`/sessions/${booking.session_id}/transcript/decision`)),
    pet.click('#decision-yes'),
  ]);
  check('POST /transcript/decision answers 200, confirmed', decided.status() === 200
    && (await decided.json()).decision === 'confirmed');
  await pet.waitForSelector('#decision-result:not([hidden])');
  check('the result is shown', (await text(pet, '#decision-result')).includes('您已确认笔录无误并签字'), await text(pet, '#decision-result'));
  await pet.waitForSelector('#record-rating:not([hidden])');
  check('then the rating: 满意 / 基本满意 / 不满意',
    JSON.stringify(await pet.$$eval('[data-testid=rating-button]', (bs) => bs.map((b) => b.textContent.trim())))
    === JSON.stringify(['满意', '基本满意', '不满意']));
  await shot(pet, '16-petitioner-signed-rating-zh');
  const [rated] = await Promise.all([
    pet.waitForResponse((r) => r.url().endsWith(`/sessions/${booking.session_id}/rating`)),
    pet.click('[data-testid=rating-button][data-value="satisfied"]'),
  ]);
  check('POST /rating answers 204', rated.status() === 204, rated.status());
  await pet.waitForSelector('#record-thanks:not([hidden])');
  check('a thank-you with the rating', (await text(pet, '#rating-result')).includes('满意') && await pet.isHidden('#record-rating'),
    await text(pet, '#record-thanks'));
  await shot(pet, '17-petitioner-thanks-zh');

  // ---- the record, read through the API with the officer's token ----
  const officerToken = (await officer.evaluate(() => JSON.parse(sessionStorage.getItem('courtlink.staff')))).token;
  const { status: got, data: record } = await apiCall('GET', `/sessions/${booking.session_id}`, { token: officerToken });
  const tr = record?.transcript || {};
  check('GET /sessions/{id}: the transcript is confirmed, with the SHA-256 of its text', got === 200
    && tr.decision === 'confirmed' && tr.text === (TRANSCRIPT_1 + TRANSCRIPT_2).trim()
    && tr.sha256 === createHash('sha256').update(tr.text, 'utf8').digest('hex') && Boolean(tr.decided_at), { got, tr });
  check('satisfaction is set; the follow-up is kept', record.satisfaction === 'satisfied'
    && record.follow_up_deadline === followUp && record.follow_up_person === FOLLOW_UP_PERSON,
  { satisfaction: record.satisfaction, follow_up_deadline: record.follow_up_deadline, follow_up_person: record.follow_up_person });
  const reports = record.events.filter((e) => e.kind === 'quality');
  const reporters = new Set(reports.map((e) => e.actor));
  check('quality events from both pages reached the timeline', reporters.has('petitioner') && [...reporters].some((a) => /^user-\d+$/.test(a))
    && reports.every((e) => e.data.rtt_ms >= 0 && e.data.packet_loss >= 0 && e.data.packet_loss <= 1 && e.data.bitrate_kbps >= 0),
  reports.map((e) => [e.actor, e.data]));
  check('the note, its correction, the decision and the rating are on the timeline',
    record.events.some((e) => e.kind === 'correction' && e.data.corrects === note.id && e.data.text === CORRECTION)
    && record.events.some((e) => e.kind === 'transcript_decided' && e.data.sha256 === tr.sha256)
    && record.events.some((e) => e.kind === 'rated' && e.data.satisfaction === 'satisfied'), record.events.map((e) => e.kind));

  // ---- the officer's timeline, opened again, shows the signature and the rating ----
  await officer.click('#timeline-back');
  await officer.waitForSelector(`[data-testid=session-item][data-session-id="${booking.session_id}"] .status-ended`);
  check('back in the list, the session is 已结束 (ended)',
    (await text(officer, `[data-testid=session-item][data-session-id="${booking.session_id}"] [data-testid=session-status]`)) === '已结束');
  await officer.click(`[data-testid=session-view][data-session-id="${booking.session_id}"]`);
  await officer.waitForSelector('[data-testid=transcript-decision][data-decision="confirmed"]');
  check('the officer sees the signature and the rating', (await text(officer, '[data-testid=timeline-satisfaction]')) === '满意'
    && (await text(officer, '[data-testid=transcript-sha256]')) === tr.sha256);
  await shot(officer, '18-officer-timeline-signed-zh');

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
    rowText.includes('释法明理') && rowText.includes(OUTCOME_NOTE) && !/\bexplained_law\b/.test(rowText)
    && (await coord.getAttribute(row, 'data-outcome')) === 'explained_law', rowText);
  await coord.waitForSelector(`[data-testid=session-item][data-session-id="${booking.session_id}"] .status-ended`);
  check('today\'s sessions show it ended', true);
  // At 1366 px the ledger fits its panel, and its short columns stay on one line each (they wrapped
  // 来访（本院） a character a line when the case's column was narrow).
  const fit = await coord.evaluate(() => {
    const table = document.querySelector('[data-testid=ledger-table]');
    const panel = table.closest('.panel');
    // The most lines any one text of a cell takes (来访（本院） is one text; a badge beside it
    // is another, and may sit on a line of its own).
    const lines = (cell) => {
      const walker = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT);
      let most = 0;
      for (let node = walker.nextNode(); node; node = walker.nextNode()) {
        const range = document.createRange();
        range.selectNodeContents(node);
        const tops = [...range.getClientRects()].map((r) => r.top).sort((x, y) => x - y);
        most = Math.max(most, tops.filter((top, i) => i === 0 || top - tops[i - 1] > 10).length);
      }
      return most;
    };
    const short = [...table.querySelectorAll('tbody tr')].flatMap((tr) => [...tr.children].slice(0, 3));
    return {
      inside: table.getBoundingClientRect().right <= panel.getBoundingClientRect().right + 0.5,
      wrapped: short.filter((cell) => lines(cell) > (cell.cellIndex === 0 ? 2 : 1)).map((cell) => cell.innerText),
    };
  });
  check('the ledger fits the case panel at 1366 px, its short columns unwrapped', fit.inside && fit.wrapped.length === 0, JSON.stringify(fit));
  await shot(coord, '19-coordinator-ledger-zh');

  // ---- the case: masked phone, 四包四定, the statutory clocks ----
  await coord.click(`[data-testid=case-item][data-case-id="${caseId}"]`);
  check('the phone number is masked', /^1\d{2}\*{4}\d{4}$/.test(await text(coord, '[data-testid=case-phone]')), await text(coord, '[data-testid=case-phone]'));
  const four = await text(coord, '[data-testid=case-four]');
  check('四包四定: lead, deadline, measures and goal', ['包案领导', '化解时限', '化解措施', '化解目标'].every((w) => four.includes(w))
    && !four.includes('—'), four);
  const clocks = await text(coord, '[data-testid=case-clocks]');
  // The demo's first case is answered and its review decided: the court owes nothing now.
  check('the statutory clocks: acceptance and handling shown; answered, so nothing due; not overdue',
    ['受理告知期限', '办理期限', '下一个期限'].every((w) => clocks.includes(w)) && !clocks.includes('还剩')
    && (await coord.getAttribute('[data-testid=case-clocks]', 'data-overdue')) === 'false', clocks);

  // ---- the ID number: a warning, then an audited read, gone when the dialog closes ----
  await coord.click('[data-testid=identity-read]');
  await coord.waitForSelector('[data-testid=identity-dialog][open]');
  check('the dialog warns that the read is recorded', /审计日志/.test(await text(coord, '[data-testid=identity-warning]')));
  const [read] = await Promise.all([
    coord.waitForResponse((r) => r.url().endsWith(`/cases/${caseId}/identity-reads`)),
    coord.click('[data-testid=identity-confirm]'),
  ]);
  const idNumber = (await read.json()).petitioner_id_number;
  await coord.waitForSelector('[data-testid=identity-number]:not([hidden])');
  check('POST /identity-reads: the full number is shown', read.status() === 200 && /^\d{17}[\dX]$/.test(idNumber)
    && (await text(coord, '[data-testid=identity-number]')) === idNumber, idNumber);
  await shot(coord, '20-coordinator-identity-zh');
  await coord.keyboard.press('Escape');
  await coord.waitForSelector('[data-testid=identity-dialog]', { state: 'detached' });
  check('closed: the number is no longer on the page', !(await coord.content()).includes(idNumber));

  // ---- the extension: at most 30 days, once, applied only when a person in charge approves ----
  // (The first case is answered; 西湖's third case is still in handling.)
  const handling = coord.locator('[data-testid=case-item]').nth(2);
  const handlingId = await handling.getAttribute('data-case-id');
  await handling.click();
  await coord.waitForSelector('[data-testid=extension-open]');
  const before = await text(coord, '[data-testid=case-handling-due]');
  check('a case in handling: the handling period runs, with days left',
    (await text(coord, '[data-testid=case-clocks]')).includes('还剩'), await text(coord, '[data-testid=case-clocks]'));
  await coord.click('[data-testid=extension-open]');
  await coord.fill('[data-testid=extension-days]', '45');
  await coord.fill('[data-testid=extension-reason]', '涉及多个部门，需协调处理。');
  await coord.click('[data-testid=extension-submit]');
  check('more than 30 days is caught on the page', /1到30/.test(await text(coord, '[data-testid=extension-error]')));
  await coord.fill('[data-testid=extension-days]', '15');
  const [asked] = await Promise.all([
    coord.waitForResponse((r) => r.url().endsWith(`/cases/${handlingId}/extension`)),
    coord.click('[data-testid=extension-submit]'),
  ]);
  const request = await asked.json();
  check('POST /extension answers 202: 15 days asked for, pending', asked.status() === 202 && request.days === 15 && request.status === 'pending', JSON.stringify(request));
  await coord.waitForSelector('[data-testid=case-extension-pending]');
  check('a request alone moves nothing', (await text(coord, '[data-testid=case-handling-due]')) === before);
  const head = await apiLogin('zj.supervisor');
  const approval = await apiCall('POST', `/extensions/${request.id}/decision`, { token: head, body: { approve: true, note: '同意延期' } });
  check('the person in charge approves', approval.status === 200 && approval.data.status === 'approved', JSON.stringify(approval));
  await coord.reload();
  await coord.click(`[data-testid=case-item][data-case-id="${handlingId}"]`);
  await coord.waitForSelector('[data-testid=case-extension]');
  check('approved: the handling period moved; no second extension is offered',
    (await text(coord, '[data-testid=case-handling-due]')) !== before && (await text(coord, '[data-testid=case-extension]')).includes('15')
    && (await coord.$$('[data-testid=extension-open]')).length === 0, await text(coord, '[data-testid=case-clocks]'));
  await shot(coord, '21-coordinator-case-clocks-zh');
});
