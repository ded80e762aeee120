// An application with several preferred slots (issue 18, item 13): the host court (杭州中院,
// set to review applications by the server test before this runs) is chosen on the calendar; the
// coordinator holds one slot, adds two more from the list by keyboard (up to 10, in order of
// preference), moves one up, and applies. The request carries the three in that order; the
// court's applications show them, and so does the host officer's review queue.
import { run, newPage, login, check, shot, text, apiLogin, apiCall, lateSundayInBeijing } from './lib.mjs';

const COURT = '杭州市中级人民法院';
const focused = (page) => page.evaluate(() => ({ testid: document.activeElement?.dataset?.testid || '', id: document.activeElement?.id || '' }));
const items = (page, selector) => page.$$eval(`${selector} > li`, (lis) => lis.map((li) => li.dataset.slotId || li.dataset.from));

await run('preferred_slots', async () => {
  const token = await apiLogin('xihu.coord');
  const cases = (await apiCall('GET', '/cases', { token })).data;
  const slots = (await apiCall('GET', '/slots', { token })).data;
  const court = slots.find((s) => s.court.name === COURT)?.court;
  check('the intermediate court has open slots', Boolean(court));

  const coord = await newPage('coordinator');
  await login(coord, 'xihu.coord');
  await coord.waitForURL(/coordinator\.html/);
  await coord.waitForSelector(`[data-testid=sched-court] option[value="${court.id}"]`, { state: 'attached' });
  await coord.selectOption('[data-testid=sched-case]', String(cases[0].id));
  if (!(await coord.inputValue('[data-testid=sched-room]'))) {
    const first = await coord.$eval('[data-testid=sched-room] option:nth-child(2)', (o) => o.value);
    await coord.selectOption('[data-testid=sched-room]', first);
  }
  await coord.selectOption('[data-testid=sched-court]', String(court.id));
  // In the last half hour of a Sunday (Beijing) the week shown has no slot left.
  if (lateSundayInBeijing()) await coord.click('[data-testid=sched-next]');
  await coord.waitForFunction(() => document.querySelectorAll('[data-testid=cal-slot][data-court-level=intermediate]').length >= 4);
  // A slot an hour or more ahead: the others stay open to pick.
  const held = await coord.evaluate(() => [...document.querySelectorAll('[data-testid=cal-slot]')]
    .filter((b) => Date.parse(b.dataset.startsAt) > Date.now() + 3600e3)
    .sort((x, y) => x.dataset.startsAt.localeCompare(y.dataset.startsAt))[0]?.dataset.slotId);
  check('a slot to hold', Boolean(held));
  await coord.focus(`[data-testid=cal-slot][data-slot-id="${held}"]`);
  await coord.keyboard.press('Enter');
  await coord.waitForSelector('[data-testid=apply-form]');
  check('the court reviews: the application form', await coord.isVisible('[data-testid=apply-form]'));
  check('the held slot is the first preferred time', JSON.stringify(await items(coord, '[data-testid=pref-list]')) === JSON.stringify([held]));

  // Two more, by keyboard: ↓ picks the next open slot in the list, Enter adds it.
  for (let n = 2; n <= 3; n += 1) {
    await coord.focus('[data-testid=pref-add]');
    await coord.keyboard.press('ArrowDown');
    await coord.keyboard.press('Enter');
    await coord.waitForFunction((k) => document.querySelectorAll('[data-testid=pref-list] > li').length === k, n);
  }
  let order = await items(coord, '[data-testid=pref-list]');
  check('three preferred times, the held one first', order.length === 3 && order[0] === held && new Set(order).size === 3, order);
  check('the focus stays on the list to add from', (await focused(coord)).testid === 'pref-add', await focused(coord));
  // The third is preferred to the second: move it up, by keyboard.
  await coord.focus(`[data-testid=pref-up][data-slot-id="${order[2]}"]`);
  await coord.keyboard.press('Enter');
  const moved = await items(coord, '[data-testid=pref-list]');
  check('上移 moves it up', JSON.stringify(moved) === JSON.stringify([order[0], order[2], order[1]]), moved);
  check('the focus follows the moved time', (await focused(coord)).id === `pref-up-${order[2]}` || (await focused(coord)).id === `pref-add`, await focused(coord));
  order = moved;
  check('nothing stray in the list of preferred times', !/\bnull\b|undefined/.test(await text(coord, '[data-testid=pref-fieldset]')));
  await shot(coord, '01-three-preferred-times');
  const wanted = await coord.$$eval('[data-testid=pref-list] > li', (lis) => lis.map((li) => li.dataset.from));

  await coord.fill('[data-testid=apply-reason]', '信访人要求当面向中院说明执行情况');
  const [sent] = await Promise.all([
    coord.waitForResponse((r) => r.url().endsWith('/api/v1/applications') && r.request().method() === 'POST'),
    coord.click('[data-testid=apply-submit]'),
  ]);
  const body = JSON.parse(sent.request().postData());
  check('sent: POST /applications answers 201', sent.status() === 201, `${sent.status()} ${await sent.text()}`);
  check('the request carries the three preferred times, in order',
    body.preferred.length === 3 && body.preferred.every((p, i) => Date.parse(p.from) === Date.parse(wanted[i])), [body.preferred, wanted]);
  const application = (await sent.json()).application;
  const appItem = `[data-testid=app-item][data-app-id="${application.id}"]`;
  await coord.waitForSelector(`${appItem} [data-testid=app-preferred]`);
  const shown = await items(coord, `${appItem} [data-testid=app-preferred]`);
  check('the application shows the three, in order', shown.length === 3 && shown.every((from, i) => Date.parse(from) === Date.parse(wanted[i])), shown);
  await shot(coord, '02-application-sent');

  // The host court's officer reads the same three in its review queue.
  const officer = await newPage('officer');
  await login(officer, 'hz.officer');
  await officer.waitForURL(/officer\.html/);
  const review = `[data-testid=review-item][data-app-id="${application.id}"] [data-testid=review-preferred]`;
  await officer.waitForSelector(review);
  const queued = await items(officer, review);
  check('the review queue shows the three preferred times, in order',
    queued.length === 3 && queued.every((from, i) => Date.parse(from) === Date.parse(wanted[i])), queued);
  check('in words', (await text(officer, review)).length > 0);
});
