// Clocks, the calendar and extensions on the pages (docs/clocks.md), on the server's fixed clock
// (Tuesday 1 December 2026, tests/browser.rs sets COURTLINK_NOW): the admin uploads a bad
// calendar file for 2027 and reads its errors by line, allows the unloaded year after a
// confirmation (cancelled once with Escape), then loads the example file; the coordinator sees a
// case's acceptance overdue, records the acceptance from the case (shown back, then confirmed),
// sees the handling clock overdue instead and asks for an extension; the supervisor of the high
// court above sees the same clock on its overdue list, is told that a note is required, approves
// with a note after a confirmation, and the clock leaves the list; English.
import { readFileSync } from 'node:fs';
import { run, newPage, check, shot, text, login, catalogues, unlabelledControls, apiCall, apiLogin, apartOnOneLine, BASE, ARTIFACTS } from './lib.mjs';

const STARTED = Date.now();
const FIXED = process.env.COURTLINK_NOW ? Date.parse(process.env.COURTLINK_NOW) : STARTED;
const now = () => FIXED + (Date.now() - STARTED);
async function onClock(page) {
  if (process.env.COURTLINK_NOW) await page.clock.install({ time: now() });
  return page;
}

// GB 11643 check digits, for a made-up person.
function idNumber(n) {
  const w = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
  const body = `33010619790707${String(n).padStart(3, '0')}`;
  const sum = [...body].reduce((s, d, i) => s + Number(d) * w[i], 0);
  return body + '10X98765432'[sum % 11];
}

const fill = (template, params) => template.replace(/\{(\w+)\}/g, (_, k) => String(params[k]));
const CASE = '（2026）浙0106信301号';
const SECOND = '（2026）浙0106信302号';
const THIRD = '（2026）浙0106信303号';

run('clocks', async () => {
  const { zh, en } = await catalogues();

  // ---- before 2027's calendar is loaded: a clock that ends in 2027 is provisional ----
  const early = await apiLogin('xihu.coord');
  const today = new Date(now()).toISOString().slice(0, 10);
  const third = await apiCall('POST', '/cases', {
    token: early,
    body: {
      case_number: THIRD, petitioner_name: '郑九', petitioner_id_number: idNumber(303), matter: '要求解除查封。',
      subject: '查封异议', channel: 'letter', case_class: 'petition', received_at: new Date(now()).toISOString(),
    },
  });
  const thirdAccepted = await apiCall('POST', `/cases/${third.data?.id}/clock-events`, { token: early, body: { event: 'accepted', on: today } });
  check('set-up: a case accepted today, its handling clock ending in 2027', third.status === 201 && thirdAccepted.status === 200,
    [third.status, thirdAccepted.status]);
  const early_page = await onClock(await newPage('coordinator-early'));
  await login(early_page, 'xihu.coord');
  await early_page.waitForURL(/coordinator\.html/);
  await early_page.click(`[data-testid=case-item][data-case-number="${THIRD}"]`);
  await early_page.waitForSelector('[data-testid=case-clocks]');
  check('the clock that ends in an unloaded year is marked provisional, in words',
    (await text(early_page, '[data-testid=case-provisional]')) === zh['clock.provisional']);
  await early_page.close();

  // ---- the admin: the calendar of 2027 ----
  const admin = await onClock(await newPage('admin'));
  await login(admin, 'admin');
  await admin.waitForURL(/admin\.html/);
  await admin.waitForSelector('[data-testid=cal-year-row][data-year="2027"][data-state="missing"]');
  check('2026 is loaded, 2027 is not, and the admin is warned about it',
    (await admin.$('[data-testid=cal-year-row][data-year="2026"][data-state="loaded"]')) !== null
    && (await admin.$('[data-testid=calendar-warning][data-year="2027"]')) !== null);
  check('every control of the calendar panel is labelled', (await unlabelledControls(admin)).length === 0, await unlabelledControls(admin));
  check('the year to load is the one missing', (await admin.inputValue('[data-testid=cal-year]')) === '2027');
  // The example's button and the upload's used to touch, the second a line lower (walk, 2026-12-06).
  check('the two buttons of the upload form stand apart, on one line',
    ...(await apartOnOneLine(admin, '[data-testid=cal-example]', '[data-testid=cal-upload]')));

  const [example] = await Promise.all([admin.waitForEvent('download'), admin.click('[data-testid=cal-example]')]);
  const exampleText = readFileSync(await example.path(), 'utf8');
  check('the example file downloads beside the form, marked as an example',
    exampleText.startsWith('# EXAMPLE ONLY') && exampleText.includes('day,kind,name,follows_weekday'), exampleText.slice(0, 60));

  const bad = 'day,kind,name,follows_weekday\n2027-01-01,holiday,元旦,\n2027-01-01,holiday,元旦,\n2027-01-06,workday,调休,3\n';
  await admin.setInputFiles('[data-testid=cal-file]', { name: '2027.csv', mimeType: 'text/csv', buffer: Buffer.from(bad) });
  await admin.focus('[data-testid=cal-upload]');
  await admin.keyboard.press('Enter');
  await admin.waitForSelector('[data-testid=cal-error][data-code="calendar_invalid"]');
  const rows = await admin.$$eval('[data-testid=cal-row-error]', (els) => els.map((e) => [e.dataset.row, e.dataset.code, e.textContent.trim()]));
  check('a bad file is refused as a whole, each problem named by its line in Chinese',
    JSON.stringify(rows) === JSON.stringify([
      ['3', 'calendar_duplicate_day', fill(zh['calendar.row.calendar_duplicate_day'], { row: 3 })],
      ['4', 'calendar_makeup_not_weekend', fill(zh['calendar.row.calendar_makeup_not_weekend'], { row: 4 })],
    ]) && (await text(admin, '[data-testid=cal-error] .alert-message')) === zh['error.calendar_invalid'], rows);
  check('nothing was loaded', (await admin.$('[data-testid=cal-year-row][data-year="2027"][data-state="missing"]')) !== null);
  await shot(admin, '01-calendar-bad-file');
  // The panel alone, as docs/screens/admin-calendar-bad-file.png shows it.
  await admin.locator('#calendar-panel').screenshot({ path: `${ARTIFACTS}/calendar-panel.png` });

  // Allowing the unloaded year is a deliberate override: asked first; Escape leaves it.
  const allow = '[data-testid=cal-year-row][data-year="2027"] [data-testid=cal-allow]';
  await admin.focus(allow);
  await admin.keyboard.press('Enter');
  await admin.waitForSelector('[data-testid=confirm-dialog]');
  check('the override is explained before it is made',
    (await text(admin, '[data-testid=confirm-dialog] h2')) === fill(zh['calendar.admin.allowHeading'], { year: 2027 })
    && (await text(admin, '[data-testid=confirm-dialog]')).includes(zh['calendar.admin.allowWhy']));
  await shot(admin, '02-allow-confirm');
  await admin.keyboard.press('Escape');
  await admin.waitForSelector('[data-testid=confirm-dialog]', { state: 'detached' });
  check('Escape cancels: nothing allowed, the keyboard back on the button',
    (await admin.$('[data-testid=cal-year-row][data-year="2027"][data-state="missing"]')) !== null
    && await admin.evaluate(() => document.activeElement?.dataset.testid === 'cal-allow'));
  await admin.keyboard.press('Enter');
  await admin.click('[data-testid=confirm-yes]');
  await admin.waitForSelector('[data-testid=cal-year-row][data-year="2027"][data-state="allowed"]');
  check('allowed: the year takes slots, and the warning says so',
    (await text(admin, '[data-testid=calendar-warning][data-year="2027"]')).includes(fill(zh['calendar.warning.allowed'], { year: 2027 }))
    && (await text(admin, '[data-testid=cal-notice]')).startsWith(fill(zh['calendar.admin.allowDone'], { year: 2027 })));

  // The example file loads (a test of the format, not 2027's real schedule).
  await admin.click('[data-testid=cal-year-row][data-year="2027"] [data-testid=cal-load-year]');
  check('"load this year" puts the keyboard on the file', await admin.evaluate(() => document.activeElement?.dataset.testid === 'cal-file'));
  await admin.setInputFiles('[data-testid=cal-file]', {
    name: '2027.example.csv', mimeType: 'text/csv', buffer: readFileSync(new URL('../../config/calendar/2027.example.csv', import.meta.url)),
  });
  await admin.click('[data-testid=cal-upload]');
  await admin.waitForSelector('[data-testid=cal-year-row][data-year="2027"][data-state="loaded"]');
  check('the year is loaded, the errors and the warning are gone',
    (await admin.$('[data-testid=cal-row-error]')) === null
    && await admin.isHidden('[data-testid=calendar-warnings]')
    && (await text(admin, '[data-testid=cal-notice]')).startsWith(fill(zh['calendar.admin.loadedDone'], { year: 2027 })));
  await shot(admin, '03-calendar-loaded');
  const thirdNow = await apiCall('GET', `/cases/${third.data?.id}`, { token: early });
  check('once 2027 is loaded, that clock is provisional no more', thirdNow.data?.clocks?.provisional === false, thirdNow.data?.clocks);

  // ---- the coordinator: a case whose acceptance is overdue ----
  const coordToken = await apiLogin('xihu.coord');
  const received = new Date(now() - 80 * 86400e3).toISOString();
  const opened = await apiCall('POST', '/cases', {
    token: coordToken,
    body: {
      case_number: CASE, petitioner_name: '周七', petitioner_id_number: idNumber(301), matter: '要求支付拖欠的工程款。',
      subject: '工程款执行', channel: 'letter', case_class: 'petition', received_at: received,
    },
  });
  check('set-up: a letter received 80 days ago is on the ledger', opened.status === 201, opened);

  const coord = await onClock(await newPage('coordinator'));
  await login(coord, 'xihu.coord');
  await coord.waitForURL(/coordinator\.html/);
  const row = (clock) => `[data-testid=overdue-row][data-case-number="${CASE}"][data-clock="${clock}"]`;
  await coord.waitForSelector(row('acceptance'));
  check('the acceptance clock is on the court\'s overdue list, in words',
    (await text(coord, row('acceptance'))).includes(zh['clock.name.acceptance']));
  await coord.focus(`${row('acceptance')} [data-testid=overdue-open]`);
  await coord.keyboard.press('Enter');
  await coord.waitForSelector(`[data-testid=case-detail] >> text=${CASE}`);
  await coord.click('[data-testid=clock-event-open]');
  await coord.waitForSelector('[data-testid=clock-event-form]');
  check('the step form opens on its first field, every control labelled',
    await coord.evaluate(() => document.activeElement?.id === 'clock-event')
    && (await unlabelledControls(coord)).length === 0, await unlabelledControls(coord));
  const offered = await coord.$$eval('[data-testid=clock-event] option', (os) => os.map((o) => o.value));
  check('an unaccepted case is offered acceptance or the answer', JSON.stringify(offered) === '["accepted","answered"]', offered);
  await coord.fill('[data-testid=clock-event-on]', '2026-09-20');
  await coord.press('[data-testid=clock-event-on]', 'Enter');
  await coord.waitForSelector('[data-testid=clock-event-confirming]');
  check('the step is shown back to be confirmed; nothing is saved yet',
    (await text(coord, '[data-testid=clock-event-confirming]')).includes(zh['clock.event.accepted'])
    && (await coord.$(row('acceptance'))) !== null);
  await shot(coord, '04-clock-event-confirm');
  check('no empty value is shown as "null" or "undefined"', !/\bnull\b|undefined/.test(await coord.innerText('main')));
  await coord.keyboard.press('Enter');
  await coord.waitForSelector(row('handling'));
  check('recorded: the acceptance clock stopped and left the list; the handling clock is overdue instead',
    (await coord.$(row('acceptance'))) === null);

  // The extension is asked for where the clock is shown.
  await coord.click('[data-testid=extension-open]');
  await coord.fill('[data-testid=extension-days]', '30');
  await coord.fill('[data-testid=extension-reason]', '涉及多个被执行人，需协调');
  await coord.click('[data-testid=extension-submit]');
  await coord.waitForSelector('[data-testid=case-extension-pending]');
  check('asked for: pending approval, and the clock has not moved', (await coord.$(row('handling'))) !== null);
  await shot(coord, '05-extension-asked');

  // Set-up: a second case, accepted and asked to be extended through the API.
  const second = await apiCall('POST', '/cases', {
    token: coordToken,
    body: {
      case_number: SECOND, petitioner_name: '吴八', petitioner_id_number: idNumber(302), matter: '要求返还保证金。',
      subject: '保证金返还', channel: 'letter', case_class: 'petition', received_at: new Date(now() - 40 * 86400e3).toISOString(),
    },
  });
  const secondId = second.data?.id;
  const accepted = await apiCall('POST', `/cases/${secondId}/clock-events`, {
    token: coordToken, body: { event: 'accepted', on: new Date(now() - 35 * 86400e3).toISOString().slice(0, 10) },
  });
  const asked = await apiCall('POST', `/cases/${secondId}/extension`, { token: coordToken, body: { days: 10, reason: '补充调查' } });
  check('set-up: a second case asked to be extended', second.status === 201 && accepted.status === 200 && asked.status === 202,
    [second.status, accepted.status, asked.status]);

  // ---- the supervisor above approves ----
  const head = await onClock(await newPage('supervisor'));
  await login(head, 'zj.supervisor');
  // The supervisor's sign-in lands on the records page, where approvals wait.
  await head.waitForURL(/records\.html/);
  const item = `[data-testid=ext-item][data-case-number="${CASE}"]`;
  await head.waitForSelector(item);
  await head.waitForSelector(row('handling'));
  check('the supervisor sees the request with its reason, and the clock on its branch\'s list',
    (await text(head, `${item} [data-testid=ext-reason]`)).includes('涉及多个被执行人，需协调'));
  check('every control of the supervisor\'s page is labelled', (await unlabelledControls(head)).length === 0, await unlabelledControls(head));
  await head.click(`${item} [data-testid=ext-approve]`);
  await head.waitForSelector(`${item} [data-testid=ext-error]:not([hidden])`);
  check('a decision needs its note (审批意见)',
    (await text(head, `${item} [data-testid=ext-error] .alert-message`)) === zh['clocks.ext.needNote']
    && await head.evaluate(() => document.activeElement?.dataset.testid === 'ext-note'));
  await head.keyboard.type('同意延长30日，抓紧协调');
  await head.click(`${item} [data-testid=ext-approve]`);
  await head.waitForSelector('[data-testid=confirm-dialog]');
  check('the approval is confirmed first, saying where the clock moves',
    (await text(head, '[data-testid=confirm-dialog]')).includes('同意延长30日，抓紧协调'));
  await shot(head, '06-approve-confirm');
  await head.click('[data-testid=confirm-yes]');
  await head.waitForSelector(item, { state: 'detached' });
  await head.waitForSelector(row('handling'), { state: 'detached' });
  check('approved: the request is decided and the clock left the overdue list',
    (await text(head, '[data-testid=ext-notice]')) === fill(zh['clocks.ext.approved'], { case: CASE, days: 30 }));
  await shot(head, '07-approved');

  // Another person in charge decides the second request meanwhile: the page says so in words.
  const spc = await apiLogin('spc.supervisor');
  const refused = await apiCall('POST', `/extensions/${asked.data.id}/decision`, { token: spc, body: { approve: false, note: '理由不足' } });
  check('set-up: the SPC\'s supervisor refuses the second request', refused.status === 200, refused);
  const other = `[data-testid=ext-item][data-case-number="${SECOND}"]`;
  await head.fill(`${other} [data-testid=ext-note]`, '同意');
  await head.click(`${other} [data-testid=ext-approve]`);
  await head.click('[data-testid=confirm-yes]');
  await head.waitForSelector('[data-testid=ext-panel-error][data-code="extension_decided"]');
  await head.waitForSelector(other, { state: 'detached' });
  check('a request decided meanwhile is refused in words, and leaves the list',
    (await text(head, '[data-testid=ext-panel-error] .alert-message')) === zh['error.decide.extension_decided']
    && (await head.$('[data-testid=ext-none]')) !== null);
  await shot(head, '08-decided-meanwhile');

  // The coordinator's list changed too.
  await coord.click('[data-testid=overdue-refresh]');
  await coord.waitForSelector(row('handling'), { state: 'detached' });
  check('the coordinator\'s overdue list no longer has the case', true);
  await coord.click(`[data-testid=case-item][data-case-number="${CASE}"]`);
  await coord.waitForSelector('[data-testid=case-extension-decision][data-status="approved"]');
  const decision = await text(coord, '[data-testid=case-extension-decision]');
  check('the case shows who approved the extension and why, and no longer a pending request',
    decision.includes('浙江高院 王院长') && decision.includes('同意延长30日，抓紧协调')
    && (await coord.$('[data-testid=case-extension-pending]')) === null, decision);

  // English.
  await head.click('[data-testid=lang-switch]');
  await head.waitForFunction((words) => document.body.innerText.includes(words), en['clocks.ext.heading']);
  check('the supervisor\'s panels speak English', (await text(head, '#clocks-panel h2')) === en['clocks.overdue.headingBranch']);
  await shot(head, '09-english');
}, { limitSeconds: 90 });
