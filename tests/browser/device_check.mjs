// The petitioner's device check on a phone-sized page: the microphone level meter moves with
// Chromium's fake microphone, the speaker test plays a tone and asks "did you hear it?" (both
// answers), and a refused microphone and camera is explained in words — in Chinese and English.
import { BASE, run, newPage, check, shot, text, catalogues, unlabelledControls } from './lib.mjs';

/**
 * The petitioner's page as laid out now: whether it scrolls sideways, and where `selector` sits
 * (its box, and the font size of its text).
 */
async function layout(page, selector) {
  return page.evaluate((sel) => {
    const el = document.querySelector(sel);
    const box = el.getBoundingClientRect();
    return {
      sideways: document.documentElement.scrollWidth > document.documentElement.clientWidth,
      width: document.documentElement.clientWidth,
      left: box.left, right: box.right, height: box.height,
      fontPx: parseFloat(getComputedStyle(el).fontSize),
    };
  }, selector);
}

await run('device_check', async (browser) => {
  const { zh, en } = await catalogues();

  const page = await newPage('petitioner', 'phone');
  await page.goto(`${BASE}/join.html`);
  await page.waitForSelector('#device-next:not([disabled])');
  check('the device check is shown under the preview', (await text(page, '#device-check-heading')) === zh['device.heading']);
  check('the meter and every control are labelled', (await unlabelledControls(page)).length === 0
    && await page.$eval('#mic-meter', (m) => Boolean(document.querySelector(`label[for="${m.id}"]`))), await unlabelledControls(page));
  // Chromium's fake microphone plays a beep; the page's first gesture wakes the audio context.
  await page.click('[data-testid=speaker-test]');
  await page.waitForFunction(() => window.courtlinkDeviceCheck?.mic === 'heard', null, { timeout: 10000 });
  const level = Number(await page.$eval('#mic-meter', (m) => m.value));
  check('the microphone meter moves and says the microphone works',
    level > 0 && (await text(page, '[data-testid=mic-result]')) === zh['device.mic.heard'], level);
  await page.waitForSelector('[data-testid=speaker-question]:not([hidden])');
  check('after the tone the page asks whether it was heard, with the focus on the answer',
    await page.evaluate(() => document.activeElement?.id === 'speaker-yes'));
  await shot(page, '01-device-check-asked');
  await page.click('[data-testid=speaker-no]');
  check('"no" says what to do next', (await text(page, '[data-testid=speaker-result]')) === zh['device.speaker.notHeard']);
  await page.click('[data-testid=speaker-test]');
  await page.waitForSelector('[data-testid=speaker-question]:not([hidden])');
  await page.click('[data-testid=speaker-yes]');
  check('"yes" says the speaker works', (await text(page, '[data-testid=speaker-result]')) === zh['device.speaker.heard']);
  await page.click('#lang-switch');
  check('English: the check follows the switch', (await text(page, '[data-testid=speaker-result]')) === en['device.speaker.heard']
    && (await text(page, '[data-testid=mic-result]')) === en['device.mic.heard']);
  await shot(page, '02-device-check-en');

  const refused = await newPage('refused', 'phone', {
    init: () => {
      navigator.mediaDevices.getUserMedia = () => Promise.reject(new DOMException('refused', 'NotAllowedError'));
    },
  });
  await refused.goto(`${BASE}/join.html`);
  await refused.waitForSelector('#device-message:not([hidden])');
  check('refused: the page says why in words',
    (await text(refused, '#device-message .alert-message')) === zh['media.denied']);
  // One decision (the walk, docs/walk.md): try again first, or go on without; no dead 继续下一步
  // and no microphone check with nothing to check.
  const buttons = await refused.$$eval('.button-column button', (els) => els
    .filter((el) => el.offsetParent !== null)
    .map((el) => ({ id: el.id, disabled: el.disabled, primary: el.classList.contains('primary') })));
  check('refused: two choices, 重试 first and primary, then going on without; nothing disabled',
    buttons.length === 2 && buttons[0].id === 'device-retry' && buttons[0].primary
    && buttons[1].id === 'device-skip' && buttons.every((b) => !b.disabled)
    && await refused.isHidden('[data-testid=device-check]'), buttons);
  await shot(refused, '03-device-check-refused');

  // ---- small screens (issue 18): a 360 × 640 phone, and a 1280 × 720 screen at 200 % zoom,
  // which lays the page out at 640 × 360 CSS pixels. One decision per screen, large type, and
  // nothing to scroll sideways for, on each step the petitioner takes before the call. ----
  const sizes = [
    { name: 'phone-360x640', viewport: { width: 360, height: 640 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true },
    { name: 'zoom-200', viewport: { width: 640, height: 360 }, deviceScaleFactor: 2 },
  ];
  for (const size of sizes) {
    const { name, ...options } = size;
    const context = await browser.newContext({ ...options, locale: 'zh-CN', timezoneId: 'Asia/Shanghai' });
    const small = await context.newPage();
    small.setDefaultTimeout(15000);
    await small.goto(`${BASE}/join.html`);
    await small.waitForSelector('#device-next:not([disabled])');
    const next = await layout(small, '#device-next');
    check(`${name}: the device step fits the width, its button whole and large`,
      !next.sideways && next.left >= 0 && next.right <= next.width && next.height >= 44 && next.fontPx >= 18, next);
    await shot(small, `04-device-${name}`);
    await small.click('#device-next');
    await small.fill('#join-code-input', '1234');
    await small.click('#join-button');
    await small.waitForSelector('#join-error:not([hidden])');
    const join = await layout(small, '#join-button');
    const error = await layout(small, '#join-error');
    check(`${name}: the code step and its error fit the width, the button whole and large`,
      !join.sideways && join.right <= join.width && join.height >= 44 && join.fontPx >= 18
      && error.left >= 0 && error.right <= error.width && error.fontPx >= 16, { join, error });
    check(`${name}: the code step says what is wrong in words`, (await text(small, '#join-error .alert-message'))
      === zh['join.code.length'].replace('{count}', '12').replace('{typed}', '4'));
    await shot(small, `05-code-error-${name}`);
    await context.close();
  }
});
