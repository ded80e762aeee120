// The appointment notice (预约通知书): the coordinator opens notice.html for a booking, issues a
// fresh join code, and gets a printable page with the time and place in Beijing time, the host
// court, what to bring, the code and a QR code of the join link drawn in the page.
import {
  run, newPage, check, shot, text, login, apiBookNow, apiCall, catalogues, BASE,
} from './lib.mjs';

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
  check('before issuing there is no code and no QR', (await text(page, '[data-testid=notice-code]')) === zh['notice.code.none']
    && (await page.$$('[data-testid=notice-qr] svg')).length === 0);
  check('printing waits for a code', await page.isDisabled('[data-testid=print-notice]'));

  await page.click('[data-testid=issue-code]');
  await page.waitForFunction(() => /^\d{4}-\d{4}-\d{4}$/.test(document.querySelector('[data-testid=notice-code]').textContent.trim()));
  const code = await text(page, '[data-testid=notice-code]');
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
  const joined = await apiCall('POST', '/auth/join', { body: { code } });
  check('the printed code is the live one: it admits', joined.status === 200, joined);
  check('printing is offered', !(await page.isDisabled('[data-testid=print-notice]')));
  await shot(page, 'notice-screen');

  await page.emulateMedia({ media: 'print' });
  check('printed: the controls are left out', !(await page.isVisible('[data-testid=notice-controls]')));
  check('printed: the notice and its QR code are there', await page.isVisible('[data-testid=notice-qr] svg'));
  await shot(page, 'notice-print');
  await page.emulateMedia({ media: 'screen' });

  await page.click('[data-testid=lang-switch]');
  await page.waitForFunction((h) => document.querySelector('#notice-heading').textContent === h, en['notice.heading']);
  const timeEn = await text(page, '[data-testid=notice-time]');
  check('English: Beijing time and the same code', timeEn.includes('Beijing time') && (await text(page, '[data-testid=notice-code]')) === code, timeEn);
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
