// Records and statistics for a higher court, and the coordinator's day at a glance. The server
// was given generated history (tests/browser.rs) as well as the demo data.
//
// Supervisor: from the session list to the records page; statistics for this month with two SVG
// charts drawn by the app (titled images, a bar per rate, a group per court) and the same
// figures in a table; CSV and XLSX exported through fetch with the token and saved as files; the
// session log filtered by status, paged, a bad period explained; a session's timeline; English.
// Coordinator: today at a glance — today's sessions, cases at risk with no session booked (one
// leaves the list once booked), deadlines coming due; then its own court's records, where a
// session's recordings are played.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  ARTIFACTS, run, newPage, check, shot, text, login, apiCall, apiLogin, catalogues, shanghaiDay, usableNow, unlabelledControls,
} from './lib.mjs';

await run('records', async () => {
  const { zh, en } = await catalogues();

  // ---- the supervisor's statistics ----
  const page = await newPage('supervisor');
  await login(page, 'spc.supervisor');
  await page.waitForURL(/records\.html/);
  await page.waitForSelector('[data-testid=chart-rates]');
  check('a supervisor signs in to the records page, with the day\'s sessions one link away',
    (await text(page, '#stats-heading')) === zh['records.stats.heading']
    && (await text(page, '#back-link')) === zh['records.today']
    && (await page.getAttribute('#back-link', 'href')) === 'officer.html');
  check('every filter is labelled', (await unlabelledControls(page)).length === 0, await unlabelledControls(page));

  const rates = await page.$eval('[data-testid=chart-rates]', (svg) => ({
    role: svg.getAttribute('role'),
    title: svg.querySelector('title')?.textContent,
    rows: svg.querySelectorAll('.chart-row').length,
    bars: svg.querySelectorAll('rect.chart-bar').length,
    inline: svg.closest('figure') !== null,
  }));
  check('the rates chart is an inline SVG image with a title and one row per rate',
    rates.role === 'img' && rates.title === zh['records.chart.rates'] && rates.rows === 5 && rates.bars > 0 && rates.inline, rates);
  const booked = Number(await text(page, '[data-testid=key-figures] [data-figure=booked]'));
  check('this month has booked sessions', booked > 0, booked);
  const courts = await page.$eval('[data-testid=chart-courts]', (svg) => svg.querySelectorAll('.chart-group').length);
  // The courts chart's tallest bar reaches the top of the plot when its value is the axis's top
  // (a month of one session each): its number must still sit below the legend.
  const overlaps = await page.evaluate(async () => {
    const { groupedBars } = await import('/js/charts.js');
    const svg = groupedBars({
      title: 't', desc: 'd', testid: 'chart-probe',
      series: [{ key: 'a', label: '预约场次' }, { key: 'b', label: '已接谈' }, { key: 'c', label: '未到场' }],
      groups: [{ label: '甲法院', values: { a: 1, b: 1, c: 0 } }, { label: '乙法院', values: { a: 0, b: 0, c: 0 } }],
    });
    document.body.append(svg);
    const legend = Math.max(...[...svg.querySelectorAll('.chart-legend')].map((t) => t.getBoundingClientRect().bottom));
    const over = [...svg.querySelectorAll('.chart-value')].filter((t) => t.getBoundingClientRect().top < legend).map((t) => t.textContent);
    svg.remove();
    return over;
  });
  check('no bar\'s value is drawn over the legend (the tallest bar\'s value touched it)', overlaps.length === 0, overlaps);
  const tableRows = await page.$$eval('[data-testid=stats-row]', (rows) => rows.length);
  check('one group of bars per court, and the same courts (plus the total) in the table', courts > 1 && tableRows === courts + 1,
    { courts, tableRows });
  const total = await page.$eval('[data-testid=stats-row]:last-child', (tr) => tr.children[1].textContent);
  check('the table\'s total matches the key figure', Number(total) === booked, { total, booked });
  // The table is wider than the panel at 1366 px: the page says so, and the court's column stays
  // in view while the figures scroll under it (its last columns were cut at the panel's edge
  // with nothing to say that more followed).
  const wide = await page.$eval('[data-testid=stats-table]', (table) => {
    const wrap = table.parentElement;
    const overflows = wrap.scrollWidth > wrap.clientWidth + 1;
    wrap.scrollLeft = wrap.scrollWidth;
    const name = table.querySelector('tbody th[scope=row]').getBoundingClientRect().left;
    return { overflows, hint: !document.querySelector('[data-testid=stats-wide-hint]').hidden,
      pinned: Math.abs(name - wrap.getBoundingClientRect().left) < 2, scrolled: wrap.scrollLeft > 0 };
  });
  check('a table wider than its panel says so, and keeps the court column in view when scrolled',
    wide.overflows === wide.hint && (!wide.overflows || (wide.pinned && wide.scrolled)), wide);
  await page.$eval('[data-testid=stats-table]', (table) => { table.parentElement.scrollLeft = 0; });
  await shot(page, '01-records-statistics');
  await page.locator('#stats-panel').screenshot({ path: join(ARTIFACTS, '01b-records-charts.png') });

  // ---- export ----
  const [csv] = await Promise.all([page.waitForEvent('download'), page.click('[data-testid=export-csv]')]);
  const csvText = readFileSync(await csv.path(), 'utf8');
  check('CSV exported as a file', csv.suggestedFilename().endsWith('.csv') && csvText.split('\n').length > 2,
    { name: csv.suggestedFilename(), start: csvText.slice(0, 80) });
  const [xlsx] = await Promise.all([page.waitForEvent('download'), page.click('[data-testid=export-xlsx]')]);
  const bytes = readFileSync(await xlsx.path());
  check('XLSX exported as a workbook (a zip)', xlsx.suggestedFilename().endsWith('.xlsx') && bytes[0] === 0x50 && bytes[1] === 0x4b,
    xlsx.suggestedFilename());
  await page.waitForFunction(() => document.querySelector('#export-state')?.dataset.file?.endsWith('.xlsx'));
  check('the page says what was downloaded', (await text(page, '#export-state')).includes(xlsx.suggestedFilename()));

  // ---- the session log ----
  await page.waitForSelector('[data-testid=log-row]');
  const first = await page.$$eval('[data-testid=log-row]', (rows) => rows.length);
  check('the log lists sessions', first > 0, first);
  await page.selectOption('#log-status', 'ended');
  await page.click('[data-testid=log-search]');
  await page.waitForFunction((want) => {
    const badges = [...document.querySelectorAll('[data-testid=log-row] .badge')];
    return badges.length > 0 && badges.every((b) => b.textContent === want);
  }, zh['session.status.ended']);
  check('filtered by status: only ended sessions', true);
  if (await page.isVisible('[data-testid=log-more]')) {
    const before = await page.$$eval('[data-testid=log-row]', (rows) => rows.length);
    await page.click('[data-testid=log-more]');
    await page.waitForFunction((n) => document.querySelectorAll('[data-testid=log-row]').length > n, before);
    check('the next page is added below', true);
  }
  const sessionId = await page.$eval('[data-testid=log-row]', (tr) => tr.dataset.sessionId);
  await page.focus(`[data-testid=log-timeline][data-session-id="${sessionId}"]`);
  await page.keyboard.press('Enter');
  await page.waitForSelector('[data-testid=timeline-panel]:not([hidden]) [data-testid=timeline-status]');
  check('a session\'s timeline opens from the keyboard, with its status',
    (await text(page, '[data-testid=timeline-status]')) === zh['session.status.ended']
    && await page.evaluate(() => document.activeElement?.id === 'timeline-panel'));
  await shot(page, '02-records-log-timeline');
  await page.click('#timeline-close');

  await page.fill('#log-from', '2026-06-30');
  await page.fill('#log-to', '2026-06-01');
  await page.click('[data-testid=log-search]');
  await page.waitForSelector('#log-error:not([hidden])');
  check('a period that ends before it starts is explained', (await text(page, '#log-error .alert-message')) === zh['error.invalid_input']
    && (await text(page, '#log-error .alert-next')) === zh['error.invalid_input.next']);

  await page.click('#lang-switch');
  const enTitle = await page.$eval('[data-testid=chart-rates] title', (el) => el.textContent);
  check('English: headings and the chart follow the switch',
    (await text(page, '#stats-heading')) === en['records.stats.heading'] && enTitle === en['records.chart.rates'], enTitle);
  // The line about the file saved before the switch stayed in Chinese (walk, 2026-12-06).
  const savedLine = await text(page, '#export-state');
  check('English: the line about the saved file follows the switch',
    savedLine.startsWith(en['records.export.done'].split('{name}')[0]) && savedLine.endsWith('.xlsx'), savedLine);
  // In English the courts chart's last legend ("Did not come") ran past the chart's edge, and
  // the rates' labels were cut to "First-visit clo…" (walk, 2026-12-06).
  const englishCharts = await page.evaluate(() => [...document.querySelectorAll('[data-testid=chart-rates], [data-testid=chart-courts]')]
    .map((svg) => {
      const edge = svg.getBoundingClientRect().right;
      return {
        chart: svg.dataset.testid,
        past: [...svg.querySelectorAll('.chart-legend, .chart-label')].filter((t) => t.getBoundingClientRect().right > edge + 0.5).map((t) => t.textContent),
        cut: [...svg.querySelectorAll('.chart-legend, .chart-row .chart-label')].filter((t) => t.textContent.endsWith('…')).map((t) => t.textContent),
      };
    }));
  // A court with one court below it: the narrowest courts chart, in English.
  englishCharts.push(await page.evaluate(async (labels) => {
    const { groupedBars } = await import('/js/charts.js');
    const svg = groupedBars({
      title: 't', desc: 'd', testid: 'chart-probe',
      series: labels.map((label, i) => ({ key: `s${i}`, label })),
      groups: [{ label: 'A court', values: { s0: 1, s1: 1, s2: 0 } }, { label: 'B court', values: { s0: 0, s1: 0, s2: 0 } }],
    });
    document.body.append(svg);
    const box = svg.getBoundingClientRect();
    // What lies beyond the viewBox is not drawn: compare with the box the SVG is drawn in.
    const past = [...svg.querySelectorAll('.chart-legend')].filter((t) => t.getBoundingClientRect().right > box.right + 0.5).map((t) => t.textContent);
    svg.remove();
    return { chart: 'probe, two courts', past, cut: [] };
  }, [en['records.fig.booked'], en['records.fig.held'], en['records.fig.no_show']]));
  check('English: every legend and label of the charts is whole and inside its chart',
    englishCharts.length === 3 && englishCharts.every((c) => c.past.length === 0 && c.cut.length === 0), englishCharts);
  await shot(page, '03-records-en');
  await page.click('#lang-switch');

  // ---- the coordinator's day at a glance ----
  const coord = await newPage('coordinator');
  await login(coord, 'xihu.coord');
  await coord.waitForURL(/coordinator\.html/);
  await coord.waitForFunction(() => /^\d+$/.test(document.querySelector('[data-testid=glance-risk-count]')?.textContent || ''));
  const riskCount = Number(await text(coord, '[data-testid=glance-risk-count]'));
  check('at a glance: cases at risk with no session booked', riskCount > 0, riskCount);
  check('at a glance: today\'s sessions and deadlines are counted',
    /^\d+$/.test(await text(coord, '[data-testid=glance-today-count]')) && /^\d+$/.test(await text(coord, '[data-testid=glance-due-count]')));
  await shot(coord, '04-coordinator-glance');

  const riskCase = Number(await coord.$eval('[data-testid=glance-risk-item]', (li) => li.dataset.caseId));
  await coord.click(`[data-testid=glance-risk-item][data-case-id="${riskCase}"] button`);
  await coord.waitForSelector(`.case-item[data-case-id="${riskCase}"][aria-pressed="true"]`);
  check('"book" opens that case for booking', true);

  const token = await apiLogin('xihu.coord');
  const [slots, rooms] = await Promise.all(['/slots', '/local-rooms'].map((p) => apiCall('GET', p, { token }).then((r) => r.data)));
  const slot = slots.filter((s) => usableNow(s.ends_at, 60)).sort((a, b) => a.starts_at.localeCompare(b.starts_at))[0];
  const booking = await apiCall('POST', '/bookings', { token, body: { slot_id: slot.id, case_id: riskCase, local_room_id: rooms[1].id } });
  check('(set-up) a session booked for that case', booking.status === 201, booking);
  await coord.click('#sessions-refresh');
  await coord.waitForFunction((n) => document.querySelector('[data-testid=glance-risk-count]')?.textContent === String(n), riskCount - 1);
  check('once booked, the case leaves the list', !(await coord.$(`[data-testid=glance-risk-item][data-case-id="${riskCase}"]`)));
  if (shanghaiDay(Date.parse(slot.starts_at)) === shanghaiDay()) {
    check('a session booked for today is counted today', Number(await text(coord, '[data-testid=glance-today-count]')) >= 1);
  }

  // ---- the coordinator's own court's records, where its sessions' recordings are played ----
  await coord.click('[data-testid=records-link]');
  await coord.waitForURL(/records\.html/);
  await coord.waitForSelector('[data-testid=log-row]');
  const ownCourt = await coord.$$eval('[data-testid=log-row]', (rows) => rows.map((tr) => tr.children[2]?.textContent || ''));
  check('a coordinator reaches the records page, back-linked to its own page, with its court\'s sessions only',
    (await coord.getAttribute('#back-link', 'href')) === 'coordinator.html'
    && (await text(coord, '#back-link')) === zh['records.backCoord']
    && ownCourt.length > 0 && ownCourt.every((cell) => cell.startsWith('杭州市西湖区人民法院')), ownCourt.slice(0, 3));
  const ownSession = await coord.$eval('[data-testid=log-row]', (tr) => tr.dataset.sessionId);
  await coord.click(`[data-testid=log-timeline][data-session-id="${ownSession}"]`);
  await coord.waitForSelector('#recordings [data-testid=recordings-none], #recordings [data-testid=rec-video], #recordings [data-testid=recordings-error]');
  check('a session\'s recordings section opens for the coordinator, with no refusal',
    !(await coord.isVisible('#recordings [data-testid=recordings-error]')));
  await shot(coord, '05-coordinator-records');
});
