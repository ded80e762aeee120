// The appointment notice (预约通知书): the coordinator opens notice.html for a booking and gets a
// printable page (one A4 sheet) with the time and place in Beijing time, the host court, what to
// bring, the code the petitioner already holds and a QR code of the join link drawn in the page.
// Printing again keeps the code; a new code is asked about first (issue 18 item 1).
import {
  run, newPage, check, shot, text, login, apiBookNow, apiCall, catalogues, BASE,
} from './lib.mjs';
import { writeFileSync } from 'node:fs';

run('notice', async () => {
  // A booking whose joining window is open, so that the printed code can be tried: a wrong code
  // and a code outside its window get the same answer (issue 15).
  const booking = await apiBookNow('xihu.coord', 'supreme');
  const { zh, en } = await catalogues();
  const page = await newPage('coordinator');
  await login(page, 'xihu.coord');
  await page.waitForURL(/coordinator\.html/);

  await page.goto(`${BASE}/notice.html#booking=${booking.id}`);
  await page.waitForSelector('[data-testid=notice]:not([hidden])');
  const facts = await (await fetch(`${BASE}/api/v1/bookings/${booking.id}/notice`, {
    headers: { authorization: `Bearer ${await page.evaluate(() => JSON.parse(sessionStorage.getItem('courtlink.staff')).token)}` },
  })).json();
  const time = await text(page, '[data-testid=notice-time]');
  check('the time is shown in Beijing time', time.includes(`${facts.local_start}—${facts.local_end}`) && time.includes('北京时间'), time);
  const [y, m, d] = facts.local_date.split('-').map(Number);
  check('the date is spelled out', time.includes(`${y}年${m}月${d}日`), time);
  check('the place is the local court and room', (await text(page, '[data-testid=notice-place]')) === `${facts.local_court_name}${facts.local_room_name}`);
  check('the host court is named', (await text(page, '[data-testid=notice-host]')).startsWith(facts.host_court_name));
  check('the case number is shown', (await text(page, '[data-testid=notice-case]')) === facts.case_number);
  // The notice carries the code the petitioner was already given: printing changes nothing.
  const code = await text(page, '[data-testid=notice-code]');
  check('the notice shows the code already given, without a new one', code === booking.join_code, `${code} / ${booking.join_code}`);
  check('printing is the main action, offered at once', !(await page.isDisabled('[data-testid=print-notice]'))
    && (await page.getAttribute('[data-testid=print-notice]', 'class')) === 'primary');
  const link = await text(page, '[data-testid=notice-link]');
  check('the link is this server’s join page with the code', link === `${BASE}/join.html#code=${code}`, link);
  check('the code is not in the page URL', !page.url().includes(code.slice(0, 4) + '-'), page.url());
  const same = await page.evaluate(async (l) => {
    const qr = await import('/js/qr.js');
    const drawn = document.querySelector('[data-testid=notice-qr] svg path').getAttribute('d');
    const expected = new DOMParser().parseFromString(qr.toSvg(qr.encode(l)), 'image/svg+xml').querySelector('path').getAttribute('d');
    return drawn === expected && drawn.length > 100;
  }, link);
  check('the QR code encodes the join link', same);
  await shot(page, 'notice-screen');

  await page.emulateMedia({ media: 'print' });
  check('printed: the controls are left out', !(await page.isVisible('[data-testid=notice-controls]')));
  check('printed: the notice and its QR code are there', await page.isVisible('[data-testid=notice-qr] svg'));
  const screenSize = page.viewportSize();
  await page.setViewportSize({ width: 794, height: 1123 }); // an A4 sheet at 96 dpi
  await shot(page, 'notice-print');
  await page.setViewportSize(screenSize);
  // What the printer gets: one A4 sheet (Chromium's own PDF, of the print media emulated here).
  const printed = await page.pdf({ format: 'A4', printBackground: true });
  if (process.env.COURTLINK_ARTIFACTS) writeFileSync(`${process.env.COURTLINK_ARTIFACTS}/notice.pdf`, printed);
  const pdf = printed.toString('latin1');
  const sheets = (pdf.match(/\/Type\s*\/Page(?![s\w])/g) || []).length;
  check('printed: the notice fits one A4 sheet', sheets === 1, `${sheets} pages`);
  await page.emulateMedia({ media: 'screen' });

  // Printing again (the page opened again) keeps the code, and the code still admits.
  await page.reload();
  await page.waitForSelector('[data-testid=notice]:not([hidden])');
  await page.waitForFunction((c) => document.querySelector('[data-testid=notice-code]').textContent.trim() === c, code);
  check('printed again: the same code', true);
  const joined = await apiCall('POST', '/auth/join', { body: { code } });
  check('the printed code is the live one: it admits', joined.status === 200, joined);

  // The petitioner is in the waiting room with that code when a new one is made.
  const pet = await newPage('petitioner', 'phone');
  await pet.goto(new URL(`/join.html#code=${code}`, BASE).href);
  await pet.waitForSelector('#device-next:not([disabled])');
  await pet.click('#device-next');
  await pet.waitForSelector('#step-code:not([hidden])');
  await pet.click('#join-button');
  await pet.waitForSelector('#call-state[data-state="waitingRoom"]');

  // A new code asks first; saying no keeps the code.
  await page.click('[data-testid=issue-code]');
  await page.waitForSelector('[data-testid=reissue-confirm]:not([hidden])');
  check('a new code is asked about first, in words', (await text(page, '#reissue-question')) === zh['notice.reissue.question']);
  await page.click('[data-testid=reissue-no]');
  check('saying no keeps the code', (await text(page, '[data-testid=notice-code]')) === code
    && !(await page.isVisible('[data-testid=reissue-confirm]')));
  await page.click('[data-testid=issue-code]');
  await page.click('[data-testid=reissue-yes]');
  await page.waitForFunction((c) => /^\d{4}-\d{4}-\d{4}$/.test(document.querySelector('[data-testid=notice-code]').textContent.trim())
    && document.querySelector('[data-testid=notice-code]').textContent.trim() !== c, code);
  const fresh = await text(page, '[data-testid=notice-code]');
  const old = await apiCall('POST', '/auth/join', { body: { code } });
  const renewed = await apiCall('POST', '/auth/join', { body: { code: fresh } });
  check('after a new code: the old one is refused, the new one admits', old.status === 401 && renewed.status === 200, `${old.status} ${renewed.status}`);
  // The old code's socket is closed at the next heartbeat (10 s); the page says what to do.
  await pet.waitForSelector('#step-left:not([hidden])', { timeout: 25000 });
  check('the petitioner on the old code is told to use the newest notice', (await text(pet, '#left-body')) === zh['join.left.revoked'], await text(pet, '#left-body'));
  await shot(pet, 'petitioner-code-replaced');
  await pet.context().close();

  await page.click('[data-testid=lang-switch]');
  await page.waitForFunction((h) => document.querySelector('#notice-heading').textContent === h, en['notice.heading']);
  const timeEn = await text(page, '[data-testid=notice-time]');
  check('English: Beijing time and the same code', timeEn.includes('Beijing time') && (await text(page, '[data-testid=notice-code]')) === fresh, timeEn);
  await shot(page, 'notice-english');

  // Another court's coordinator cannot open it.
  const other = await newPage('other');
  await login(other, 'shangcheng.coord');
  await other.waitForURL(/coordinator\.html/);
  await other.goto(`${BASE}/notice.html#booking=${booking.id}`);
  await other.waitForSelector('[data-testid=notice-error]:not([hidden])');
  check('another court is refused', (await other.getAttribute('[data-testid=notice-error]', 'data-code')) === 'forbidden');
  check('and sees no notice', !(await other.isVisible('[data-testid=notice]')));
});
