// The petitioner's device check on a phone-sized page: the microphone level meter moves with
// Chromium's fake microphone, the speaker test plays a tone and asks "did you hear it?" (both
// answers), and a refused microphone and camera is explained in words — in Chinese and English.
import { BASE, run, newPage, check, shot, text, catalogues, unlabelledControls } from './lib.mjs';

await run('device_check', async () => {
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
  check('refused: the microphone check says it cannot hear, and why is above',
    (await text(refused, '[data-testid=mic-result]')) === zh['device.mic.missing']
    && (await text(refused, '#device-message .alert-message')) === zh['media.denied']);
  await shot(refused, '03-device-check-refused');
});
