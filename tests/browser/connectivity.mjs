// The room terminal's connectivity test (联通测试) in a real browser, and the petitioner's line
// test while waiting: 西湖's coordinator logs in,
// opens roomtest.html, picks a room and presses 开始联通测试; Chromium's fake camera and
// microphone go to CourtLink's own peer and come back; the page shows a pass with the figures in
// words, the echoed video plays, and the server recorded the pass with the page's own report.
import {
  BASE, run, newPage, check, shot, text, login, apiCall, apiLogin, apiBookNow,
} from './lib.mjs';

await run('connectivity', async () => {
  const page = await newPage('room-terminal');
  await login(page, 'xihu.coord');
  await page.waitForURL(/coordinator\.html/);
  await page.goto(`${BASE}/roomtest.html`);
  await page.waitForSelector('#room-select option', { state: 'attached' });
  check('the page is in Chinese', (await text(page, '#start-test')) === '开始联通测试', await text(page, '#start-test'));
  const options = await page.$$eval('#room-select option', (os) => os.map((o) => o.textContent));
  check('the court\'s rooms are offered', options.includes('视频接访室一') && options.includes('视频接访室二'), options);
  await page.selectOption('#room-select', { label: '视频接访室二' });
  await shot(page, '01-before');
  await page.click('#start-test');
  await page.waitForFunction(() => /正在连接|正在测量/.test(document.querySelector('#progress')?.textContent || ''),
    null, { timeout: 15000 });
  check('progress is shown', true);
  // While measuring, the echo comes back: the echoed video decodes frames.
  await page.waitForFunction(() => /正在测量/.test(document.querySelector('#progress')?.textContent || ''),
    null, { timeout: 15000 });
  await page.waitForFunction(() => {
    const v = document.querySelector('#echo-video');
    return v && v.srcObject && v.readyState >= 2 && v.videoWidth > 0;
  }, null, { timeout: 15000 });
  check('the server\'s echo of the camera plays', true);
  await shot(page, '02-measuring');
  await page.waitForSelector('#result:not([hidden])', { timeout: 40000 });
  const heading = await text(page, '#result-heading');
  const figures = await text(page, '#result-figures');
  const reason = await text(page, '#result-reason');
  await shot(page, '03-result');
  check('the test passed', heading === '联通测试通过', `${heading} ${reason} ${figures}`);
  check('the figures are in words', /往返时延 \d+ 毫秒，丢包率 [\d.]+%，抖动 \d+ 毫秒，码率 \d+ kbit\/s/.test(figures), figures);
  check('and so is how each end was reached (no raw ICE type such as host)',
    /（服务器端 (直连|经路由器转换|经中继服务器)，本机 (直连|经路由器转换|经中继服务器)）/.test(figures) && !/host|srflx|relay/.test(figures), figures);
  await page.waitForSelector('[data-testid="history-item"]');
  check('the room\'s history lists it', /通过/.test(await text(page, '#history')), await text(page, '#history'));

  // The server's record: passed, measured on its side, with the page's report beside it.
  const token = await apiLogin('xihu.coord');
  const rooms = (await apiCall('GET', '/connectivity/rooms', { token })).data;
  const room = rooms.find((r) => r.name === '视频接访室二');
  const test = room.tests[0];
  check('the server recorded a pass of a media test', test.status === 'passed' && test.kind === 'media', test);
  check('the server measured bitrate and round trip', test.figures.bitrate_kbps > 50 && test.figures.rtt_ms >= 0, test.figures);
  check('the page reported its own figures', test.client_report && test.client_report.frames_decoded > 0, test.client_report);

  // English.
  await page.click('#lang-switch');
  check('the result is shown in English too', (await text(page, '#result-heading')) === 'Connectivity test passed',
    await text(page, '#result-heading'));

  // The petitioner's line test while waiting: the same echo test, tied to their session by the
  // join token, on a phone-sized screen.
  const booking = await apiBookNow('shangcheng.coord', 'high');
  const pet = await newPage('petitioner-line', 'phone');
  await pet.goto(new URL(booking.join_path, BASE).href);
  await pet.waitForSelector('#device-next:not([disabled])');
  await pet.click('#device-next');
  await pet.waitForSelector('#step-code:not([hidden])');
  await pet.click('#join-button');
  await pet.waitForSelector('#call-state[data-state="waitingRoom"]');
  await pet.waitForSelector('#line-test:not([hidden])');
  check('the line test is offered while waiting', (await text(pet, '#line-test-start')) === '开始测试网络',
    await text(pet, '#line-test'));
  await shot(pet, '04-petitioner-line-offered');
  await pet.click('#line-test-start');
  await pet.waitForSelector('#line-test-result[data-status="running"]');
  await pet.waitForSelector('#line-test-result[data-status="passed"], #line-test-result[data-status="failed"]',
    { timeout: 40000 });
  const result = await text(pet, '#line-test-result');
  await shot(pet, '05-petitioner-line-result');
  check('the petitioner\'s line passes, said in plain words', result === '网络良好，可以正常视频。', result);
  check('the petitioner is still waiting, the call untouched',
    (await pet.getAttribute('#call-state', 'data-state')) === 'waitingRoom');
}, { limitSeconds: 150 });
