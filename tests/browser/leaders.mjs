// 领导包案 (issue 16): the coordinator names the court's leader on today's session from the list,
// by keyboard; the leader signs in, finds the session in their own day with a button to take part,
// joins with camera and microphone and is told to wait; the SPC's officer admits them from the
// waiting room, and the timeline says who was named.
import {
  run, newPage, check, shot, text, login, apiBookNow, apiCall, apiLogin, catalogues, BASE,
} from './lib.mjs';

run('leaders', async () => {
  const { zh } = await catalogues();
  const booking = await apiBookNow('xihu.coord', 'supreme');
  const sid = booking.session_id;

  // ---- the coordinator names the leader, with the keyboard ----
  const coord = await newPage('coordinator');
  await login(coord, 'xihu.coord');
  await coord.waitForURL(/coordinator\.html/);
  const item = `[data-testid=session-item][data-session-id="${sid}"]`;
  await coord.waitForSelector(`${item} [data-testid=leader-control]`);
  await coord.focus(`${item} [data-testid=leader-control] summary`);
  await coord.keyboard.press('Enter');
  await coord.waitForFunction((sel) => document.querySelector(sel)?.options.length > 0
    && document.querySelector(sel).value !== '', `${item} [data-testid=leader-select]`);
  const chosen = await coord.$eval(`${item} [data-testid=leader-select]`, (s) => s.selectedOptions[0].textContent);
  check('the court\'s leader is offered', chosen === '西湖法院 李副院长', chosen);
  check('the list has the focus, ready for the keyboard',
    await coord.evaluate((sel) => document.activeElement === document.querySelector(sel), `${item} [data-testid=leader-select]`));
  await coord.keyboard.press('Tab');
  await coord.keyboard.press('Enter');
  await coord.waitForSelector(`${item} [data-testid=session-leaders]`);
  check('the session now names its leader',
    (await text(coord, `${item} [data-testid=session-leaders]`)).includes('李副院长'));
  await shot(coord, '01-coordinator-named-leader');

  // ---- the leader's day ----
  const leader = await newPage('leader');
  await login(leader, 'xihu.leader');
  // A supervisor lands on the records (their figures and approvals); the day's sessions, the one
  // they lead among them, are the first link there.
  await leader.waitForURL(/records\.html/);
  check('the leader, a supervisor, lands on the records with a link to the day\'s sessions',
    (await text(leader, '#back-link')) === zh['records.today']);
  await leader.click('#back-link');
  await leader.waitForURL(/officer\.html/);
  const lead = `[data-testid=session-lead][data-session-id="${sid}"]`;
  await leader.waitForSelector(lead);
  check('the leader is offered to take part, not to listen in',
    (await text(leader, lead)) === zh['officer.list.lead']
    && (await leader.$(`[data-testid=session-observe][data-session-id="${sid}"]`)) === null);

  // ---- the SPC's officer, then the leader joins and waits ----
  const officer = await newPage('officer');
  await login(officer, 'spc.officer');
  await officer.waitForURL(/officer\.html/);
  await officer.click(`[data-testid=session-join][data-session-id="${sid}"]`);
  await officer.waitForFunction(() => window.courtlinkCall && window.courtlinkCall.you);

  await leader.click(lead);
  await leader.waitForFunction(() => window.courtlinkCall && window.courtlinkCall.state === 'waiting');
  await leader.waitForSelector('#call-notice:not([hidden])');
  check('the leader is told to wait', (await text(leader, '#call-notice')).includes(zh['leader.waiting']));
  const you = await leader.evaluate(() => window.courtlinkCall.you);
  check('the leader takes part as leader', you.role === 'leader', you);
  check('a leader neither ends the session nor writes its record',
    await leader.isHidden('#end-form') && await leader.isHidden('#transcript-panel'));
  await shot(leader, '02-leader-waits');

  const admit = `[data-testid=admit-button][data-participant-id="${you.id}"]`;
  await officer.waitForSelector(admit);
  await officer.click(admit);
  await leader.waitForFunction(() => window.courtlinkCall.state === 'admitted');
  await leader.waitForSelector('#call-notice', { state: 'hidden' });
  check('admitted by the host, the leader is in the call', true);

  const token = await apiLogin('spc.officer');
  const { data } = await apiCall('GET', `/sessions/${sid}`, { token });
  const kinds = data.events.map((e) => e.kind);
  check('the timeline names the leader and their admission',
    kinds[0] === 'leader_added' && data.events[0].data.name === '西湖法院 李副院长' && kinds.includes('admitted'), kinds);

  // ---- the officer's 联通测试 page (issue 18 item 5): the rooms that will call the SPC ----
  await officer.click('[data-testid=roomtest-link]').catch(async () => officer.goto(`${BASE}/roomtest.html`));
  await officer.waitForURL(/roomtest\.html/);
  await officer.waitForSelector('[data-testid=incoming-room]');
  // Not an empty, disabled test any more: the court's own reception rooms (host_room_test.mjs
  // runs one).
  check('an officer is offered the court\'s own reception rooms to test', await officer.isHidden('[data-testid=no-rooms]')
    && await officer.isVisible('[data-testid=start-test]')
    && (await officer.$$eval('#room-select option', (os) => os.every((o) => o.dataset.kind === 'host') && os.length > 0)));
  const incoming = await officer.$$eval('[data-testid=incoming-room]', (els) => els.map((e) => ({ state: e.dataset.state, text: e.textContent })));
  check('the room that will call is listed, never tested, with whom to call',
    incoming.length === 1 && incoming[0].state === 'untested' && incoming[0].text.includes('杭州市西湖区人民法院')
    && incoming[0].text.includes(zh['roomtest.incoming.noSupport']), incoming);
  await shot(officer, '03-officer-connectivity');
});
