// The host court's own room test (issue 18, item 5): the SPC's officer opens 联通测试, finds
// the court's own reception rooms offered (it has no local room), runs the same echo test from
// one — Chromium's fake camera and microphone go to CourtLink's own peer and come back — and
// sees the pass, and the latest result under the room; the server recorded it against that room.
import { BASE, run, newPage, check, shot, text, login, apiCall, apiLogin } from './lib.mjs';

await run('host_room_test', async () => {
  const page = await newPage('officer');
  await login(page, 'spc.officer');
  await page.waitForURL(/officer\.html/);
  await page.goto(`${BASE}/roomtest.html`);
  await page.waitForSelector('#room-select option', { state: 'attached' });
  const options = await page.$$eval('#room-select option', (os) => os.map((o) => ({ kind: o.dataset.kind, text: o.textContent, id: o.dataset.roomId })));
  check('the court\'s own reception rooms are offered, labelled as such',
    options.length > 0 && options.every((o) => o.kind === 'host' && o.text.endsWith('（本院接谈室）')), options);
  check('the test can be started', await page.isEnabled('#start-test') && await page.isVisible('#start-test'));
  check('the page no longer says there is nothing to test', await page.isHidden('[data-testid=no-rooms]'));
  const room = options.find((o) => o.text.startsWith('第二接谈室')) || options[0];
  await page.selectOption('#room-select', { label: room.text });
  await page.waitForSelector('#incoming-panel:not([hidden])');
  check('the rooms that will call are still shown below', true);
  await shot(page, '01-host-room-before');
  check('no empty picture boxes before the test', await page.locator('.roomtest-videos').isHidden());
  // By keyboard: the start button, Enter.
  await page.focus('#start-test');
  await page.keyboard.press('Enter');
  await page.waitForFunction(() => {
    const v = document.querySelector('#echo-video');
    return v && v.srcObject && v.readyState >= 2 && v.videoWidth > 0;
  }, null, { timeout: 30000 });
  check('the server\'s echo of the camera plays', true);
  await page.waitForSelector('#result:not([hidden])', { timeout: 40000 });
  const heading = await text(page, '#result-heading');
  check('the test passed', heading === '联通测试通过', `${heading} ${await text(page, '#result-reason')} ${await text(page, '#result-figures')}`);
  await page.waitForSelector('[data-testid="history-item"]');
  check('the room\'s latest result is listed under it', /通过/.test(await text(page, '[data-testid="history-item"]')), await text(page, '#history'));
  await shot(page, '02-host-room-passed');
  check('after it, the pictures are put away (no black boxes left)', await page.locator('.roomtest-videos').isHidden());
  // The pass is framed in green; the same box for a failure must not be (the suite cannot make a
  // room fail, so the failure's class is put on the box here and taken off again).
  const frames = await page.locator('#result').evaluate((box) => {
    const pass = getComputedStyle(box).borderTopColor;
    box.classList.add('result-failed');
    const failed = getComputedStyle(box).borderTopColor;
    box.classList.remove('result-failed');
    return { pass, failed };
  });
  check('a pass is framed in green, a failure in red', frames.pass === 'rgb(0, 112, 60)' && frames.failed === 'rgb(177, 14, 30)', frames);

  const token = await apiLogin('spc.officer');
  const rooms = (await apiCall('GET', '/connectivity/rooms', { token })).data;
  const listed = rooms.find((r) => r.kind === 'host' && String(r.id) === String(room.id));
  check('the server recorded the pass against the host room', listed?.tests[0]?.status === 'passed'
    && String(listed.tests[0].host_room_id) === String(room.id) && listed.tests[0].room_id === null, listed);
  check('with the page\'s own figures beside it', listed.tests[0].client_report?.frames_decoded > 0, listed.tests[0].client_report);
});
