// A fresh install (demo.seed off): the server holds only what an administrator set up — two
// courts, a room each, an officer and a coordinator, the host court's booking rules, one slot —
// and no case at all (tests/browser.rs `fresh_install`). Through the pages: the coordinator
// opens a case, logs a letter and a visit, attaches a paper and fills in the court's directory,
// and books a reception; the officer reads the case file and holds the session with the
// petitioner; the held session lands on that case's ledger as a video reception counted as
// handled locally.
import {
  BASE, run, newPage, check, shot, text, login, expectVideo, admitPetitioner, QUICK_QUALITY, usableNow,
  unlabelledControls, mediaReported,
} from './lib.mjs';

const PASSWORD = process.env.COURTLINK_FRESH_PASSWORD;
const COORD = process.env.COURTLINK_FRESH_COORD;
const OFFICER = process.env.COURTLINK_FRESH_OFFICER;
const NUMBER = '（2026）测0101信1号';

function idNumber(n) {
  const w = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
  const body = `11010119800101${String(n).padStart(3, '0')}`;
  const sum = [...body].reduce((s, d, i) => s + Number(d) * w[i], 0);
  return body + '10X98765432'[sum % 11];
}

await run('fresh install', async () => {
  // ---- the coordinator opens the first case of the install ----
  const coord = await newPage('coordinator');
  await login(coord, COORD, PASSWORD);
  await coord.waitForURL(/coordinator\.html/);
  await coord.waitForSelector('#case-list li');
  check('a fresh install has no case', (await coord.$$('[data-testid=case-item]')).length === 0);
  await coord.click('[data-testid=new-case-open]');
  await coord.fill('[data-testid=new-case-number]', NUMBER);
  await coord.fill('[data-testid=new-case-name]', '钱七');
  await coord.fill('[data-testid=new-case-id]', idNumber(7));
  await coord.selectOption('[data-testid=new-case-channel]', 'phone');
  await coord.fill('[data-testid=new-case-matter]', '判决生效一年，执行款仍未到位。');
  await coord.fill('[data-testid=new-case-subject]', '执行款未到位');
  await coord.click('[data-testid=new-case-submit]');
  const item = `[data-testid=case-item][data-case-number="${NUMBER}"]`;
  await coord.waitForSelector(item);
  const caseId = await coord.getAttribute(item, 'data-case-id');
  await coord.waitForSelector('[data-testid=ledger-entry][data-channel="phone"]');
  check('the case is opened with its intake call on the ledger', true);

  // ---- a letter and a visit ----
  for (const [channel, summary] of [['letter', '来信补充执行情况'], ['local_visit', '来访，当面说明执行进展']]) {
    await coord.click('[data-testid=contact-open]');
    await coord.selectOption('[data-testid=contact-channel]', channel);
    await coord.fill('[data-testid=contact-summary]', summary);
    await coord.click('[data-testid=contact-submit]');
    await coord.waitForSelector(`[data-testid=ledger-entry][data-channel="${channel}"]`);
  }
  check('a letter and a visit are logged', (await coord.$$('[data-testid=ledger-entry]')).length === 3);

  // ---- a paper for the case file, and the court's directory ----
  // The file button is the page's own, in the page's language: the test Chromium runs in English
  // and its native control would say "Choose File / No file chosen".
  const picker = () => coord.$eval('[data-testid=attachment-form] .file-pick', (p) => p.innerText.replace(/\s+/g, ' ').trim());
  const pickerBefore = await picker();
  check('the file button speaks Chinese before a file is chosen', pickerBefore === '选择文件 未选择文件', pickerBefore);
  await coord.setInputFiles('[data-testid=attachment-file]', {
    name: '判决书.pdf', mimeType: 'application/pdf', buffer: Buffer.from('%PDF-1.4\n% 判决书\n%%EOF\n'),
  });
  const pickerChosen = await picker();
  check('…and names the chosen file', pickerChosen === '选择文件 判决书.pdf', pickerChosen);
  await coord.click('[data-testid=attachment-submit]');
  await coord.waitForSelector('[data-testid=attachment-item]');
  await coord.waitForFunction(() => document.querySelector('[data-testid=attachment-form] [data-testid=file-pick-name]')?.textContent === '未选择文件');
  check('…and is empty again once the file is on the case', true);
  check('the attachment is on the case', (await text(coord, '[data-testid=attachment-item]')).includes('判决书.pdf'));
  const attachmentLine = await text(coord, '[data-testid=attachment-item]');
  check('its type and size are in words (PDF 文件, 字节), not application/pdf and B',
    attachmentLine.includes('PDF 文件') && /\d+ 字节/.test(attachmentLine) && !attachmentLine.includes('application/'), attachmentLine);
  await coord.fill('[data-testid=directory-contact-name]', '孙专干');
  await coord.fill('[data-testid=directory-contact-phone]', '0571-8600 1111');
  await coord.fill('[data-testid=directory-tech-name]', '李工');
  await coord.fill('[data-testid=directory-tech-phone]', '0571-8600 2222');
  const [saved] = await Promise.all([
    coord.waitForResponse((r) => r.url().includes('/directory') && r.request().method() === 'PUT'),
    coord.click('[data-testid=directory-save]'),
  ]);
  check('the directory is saved', saved.status() === 200, saved.status());
  check('every control on the page is labelled, the new forms too', (await unlabelledControls(coord)).length === 0,
    await unlabelledControls(coord));
  await shot(coord, '01-case-ledger-attachment-directory');

  // ---- the coordinator books the one slot, on the calendar (the one booking panel) ----
  await coord.click(item);
  await coord.waitForFunction((id) => document.querySelector('[data-testid=sched-case]')?.value === id, caseId);
  if (!(await coord.inputValue('[data-testid=sched-room]'))) {
    const first = await coord.$eval('[data-testid=sched-room] option:nth-child(2)', (o) => o.value);
    await coord.selectOption('[data-testid=sched-room]', first);
  }
  const slotButton = '[data-testid=cal-slot][data-court-level="high"]';
  await coord.waitForSelector(slotButton);
  const endsAt = await coord.getAttribute(slotButton, 'data-ends-at');
  check('the slot the administrator published is offered, open now', usableNow(endsAt), endsAt);
  await coord.click(slotButton);
  await coord.waitForSelector('[data-testid=sched-book]');
  const [response] = await Promise.all([
    coord.waitForResponse((r) => r.url().endsWith('/api/v1/bookings') && r.request().method() === 'POST'),
    coord.click('[data-testid=sched-book]'),
  ]);
  const booking = await response.json();
  check('booked: POST /bookings answers 201', response.status() === 201, booking);
  check('for the case just opened', String(booking.case_id) === caseId, booking);
  await coord.waitForSelector('[data-testid=sched-result]');
  const link = await coord.getAttribute('[data-testid=sched-join-link]', 'href');
  await coord.waitForSelector('[data-testid=sched-result-contacts] [data-testid=booking-contact]');
  check('the booking result names the host court\'s persons (none recorded yet)',
    /测试省高级人民法院/.test(await text(coord, '[data-testid=sched-result-contacts]')), await text(coord, '[data-testid=sched-result-contacts]'));
  // The panel is drawn again after a booking (the week and the lists reload, a language switch).
  // Each redraw shows the persons at once: read in the same task as the redraw, no fetch between.
  const redrawn = await coord.evaluate(() => {
    const read = () => document.querySelector('[data-testid=sched-result-contacts]')?.textContent.trim() || '';
    const lang = document.querySelector('#lang-switch');
    lang.click();
    const english = read();
    lang.click();
    return { english, chinese: read() };
  });
  check('…and keeps them through a redraw, in either language, without blanking',
    redrawn.english.length > 0 && /测试省高级人民法院/.test(redrawn.chinese), redrawn);
  await coord.waitForSelector(`[data-testid=session-item][data-session-id="${booking.session_id}"] [data-testid=booking-contact]`);
  check('the booking shows the courts\' contact persons',
    (await text(coord, `[data-testid=session-item][data-session-id="${booking.session_id}"] [data-testid=booking-contacts]`)).includes('孙专干 0571-8600 1111'));

  // ---- the officer reads the case file, then holds the session ----
  const officer = await newPage('officer', 'desk', { init: QUICK_QUALITY });
  await login(officer, OFFICER, PASSWORD);
  await officer.waitForURL(/officer\.html/);
  await officer.click(`[data-testid=session-casefile][data-session-id="${booking.session_id}"]`);
  await officer.waitForSelector('#casefile-box [data-testid=case-file]');
  const contacts = await officer.$$eval('#casefile-box [data-testid=case-file-contact]', (li) => li.map((x) => x.dataset.channel));
  check('before the session the officer reads the earlier contacts', ['phone', 'letter', 'local_visit'].every((c) => contacts.includes(c)), contacts);
  check('and the attachment', (await text(officer, '#casefile-box [data-testid=attachment-item]')).includes('判决书.pdf'));
  await shot(officer, '02-officer-case-file');
  await officer.click('#casefile-back');
  const join = `[data-testid=session-join][data-session-id="${booking.session_id}"]`;
  await officer.click(join);
  await officer.waitForFunction(() => window.courtlinkCall && window.courtlinkCall.you);
  await officer.waitForSelector('#call-casefile-box [data-testid=case-file]');
  check('during the session the case file is beside the call', true);

  const pet = await newPage('petitioner', 'phone', { init: QUICK_QUALITY });
  await pet.goto(link);
  await pet.waitForSelector('#device-next:not([disabled])');
  await pet.click('#device-next');
  await pet.waitForSelector('#step-code:not([hidden])');
  await pet.click('#join-button');
  await pet.waitForSelector('#call-state[data-state="waitingRoom"]');
  await officer.waitForSelector('#waiting-room:not([hidden]) [data-testid=admit-button][data-participant-id="petitioner"]');
  await admitPetitioner(officer, pet);
  await expectVideo(officer, 'officer');
  await expectVideo(pet, 'petitioner');
  // Frames decoded are not yet a reception: both sides must have reported media after the
  // admission, or the end is refused 409 reception_not_held (it was, in a CI run).
  await mediaReported(officer, pet);

  await officer.selectOption('#outcome-select', 'explained_law');
  await officer.fill('#end-note', '已释法明理，告知执行进展。');
  await officer.click('#end-button');
  await officer.click('#end-confirm-yes');
  await officer.waitForSelector('#timeline-view:not([hidden])');
  check('the officer ends the held session', true);

  // ---- the held session is on the case's ledger ----
  await coord.reload();
  await coord.waitForSelector(item);
  await coord.click(item);
  const video = `[data-testid=ledger-entry][data-session-id="${booking.session_id}"]`;
  await coord.waitForSelector(video);
  check('the held session lands on the case: a video reception with the high court, counted as local',
    (await coord.getAttribute(video, 'data-channel')) === 'video_high'
    && (await coord.getAttribute(video, 'data-counted-as')) === 'local'
    && (await coord.getAttribute(video, 'data-outcome')) === 'explained_law');
  await shot(coord, '03-ledger-with-the-session');

  // ---- the appointment notice prints whom to call ----
  await coord.goto(`${BASE}/notice.html#booking=${booking.id}`);
  await coord.waitForSelector('#notice:not([hidden])');
  check('the notice names the court\'s contact and technical-support persons',
    /孙专干/.test(await text(coord, '#notice-contacts')) && /0571-8600 2222/.test(await text(coord, '#notice-contacts')),
    await text(coord, '#notice-contacts'));
}, { limitSeconds: 150 });
