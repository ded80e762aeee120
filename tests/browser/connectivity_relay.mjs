// The room terminal's connectivity test reports whether the room reaches the court's TURN relay
// over UDP and over TCP (tests/browser.rs runs it twice, against a real coturn):
//   COURTLINK_RELAY_EXPECT=reached  the relay answers on both: "can be reached: UDP and TCP";
//   COURTLINK_RELAY_EXPECT=blocked  the relay URLs lead nowhere (as behind a firewall): the page
//                                    says so, names the likely cause and the court's technical
//                                    support person recorded for a campaign.
// Either way the server keeps what the page found beside the test.
import {
  BASE, run, newPage, check, shot, text, login, apiCall, apiLogin,
} from './lib.mjs';

const EXPECT = process.env.COURTLINK_RELAY_EXPECT;
if (!['reached', 'blocked'].includes(EXPECT)) {
  console.error('COURTLINK_RELAY_EXPECT must be reached or blocked (tests/browser.rs sets it)');
  process.exit(2);
}

await run(`connectivity test with the relay ${EXPECT}`, async () => {
  // 西湖 has recorded its technical-support person for the high court's campaign.
  const officer = await apiLogin('zj.officer');
  const opened = await apiCall('POST', '/connectivity/campaigns', {
    token: officer,
    body: { title: '2026年第四季度视频接访联通测试', deadline: new Date(Date.now() + 7 * 86400e3).toISOString() },
  });
  check('the high court opens a campaign', opened.status === 201, opened);
  const coordinator = await apiLogin('xihu.coord');
  const contacts = await apiCall('PUT', `/connectivity/campaigns/${opened.data.id}/contacts`, {
    token: coordinator,
    body: { contact_name: '王立', contact_phone: '0571-8800 1234', tech_name: '陈技', tech_phone: '0571-8800 5678' },
  });
  check('西湖 records its contact and technical-support persons', contacts.status === 204, contacts);

  const page = await newPage('room-terminal');
  await login(page, 'xihu.coord');
  await page.waitForURL(/coordinator\.html/);
  await page.goto(`${BASE}/roomtest.html`);
  await page.waitForSelector('#room-select option', { state: 'attached' });
  await page.selectOption('#room-select', { label: '视频接访室一' });
  await page.click('#start-test');
  await page.waitForSelector('#result:not([hidden])', { timeout: 60000 });
  await page.waitForSelector('#result-relay:not([hidden])');
  const line = await text(page, '#result-relay');
  const state = await page.getAttribute('#result-relay', 'data-state');
  await shot(page, `01-result-relay-${EXPECT}`);
  if (EXPECT === 'reached') {
    check('the relay is reached over UDP and TCP', state === 'ok' && /UDP和TCP/.test(line), `${state}: ${line}`);
    check('no support call is asked for', !/技术保障人员/.test(line), line);
    check('and the pass is a plain pass', (await text(page, '#result-heading')) === '联通测试通过', await text(page, '#result-heading'));
  } else {
    check('no relay is reached', state === 'none', `${state}: ${line}`);
    const heading = await text(page, '#result-heading');
    const border = await page.locator('#result').evaluate((e) => getComputedStyle(e).borderTopColor);
    check('and the result is not an all-green pass: it warns in its heading and its colour',
      heading === '联通测试通过，但中继线路有问题' && border === 'rgb(154, 52, 18)', `${heading} ${border}`);
    check('the page names the likely cause', /防火墙/.test(line), line);
    check('the page names the technical-support person', /陈技/.test(line) && /0571-8800 5678/.test(line), line);
  }
  // The room's history keeps the verdict: a pass with the relay blocked is not a plain 通过 there either.
  const wantStatus = EXPECT === 'reached' ? '通过' : '通过，但中继不通';
  await page.waitForFunction((want) => document.querySelector('[data-testid=history-item] strong')?.textContent === want, wantStatus,
    { timeout: 10000 }).catch(() => {});
  check('the room\'s history says the same as the result', (await text(page, '[data-testid=history-item] strong')) === wantStatus,
    await text(page, '#history'));
  await page.click('#lang-switch');
  const english = await text(page, '#result-relay');
  check('the relay line in English too', EXPECT === 'reached'
    ? /reached over UDP and TCP/.test(english)
    : /cannot be reached/.test(english) && /technical support, 陈技/.test(english), english);

  // The server keeps the page's relay findings with the test.
  const rooms = (await apiCall('GET', '/connectivity/rooms', { token: coordinator })).data;
  const test = rooms.find((r) => r.name === '视频接访室一').tests[0];
  const relay = (test.client_report && test.client_report.relay) || [];
  const want = EXPECT === 'reached';
  check('the record holds the relay check per transport',
    relay.length === 2 && relay.every((r) => r.reached === want)
      && relay.map((r) => r.transport).sort().join() === 'tcp,udp', test.client_report);
});
