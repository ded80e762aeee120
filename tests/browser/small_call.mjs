// The petitioner's call screen and end screen at small sizes (issue 18: large type, one decision
// per screen): a 360 × 640 phone, and a 1280 × 720 screen at 200 % zoom (laid out at 640 × 360
// CSS pixels). On each: nothing to scroll sideways for, every button whole and at least 44 px
// high, every hint in an empty box whole, and text of at least 18 px. (device_check.mjs does the same for the steps before.)
import { BASE, run, newPage, check, shot, text, apiBookNow, officerJoins, admitPetitioner, QUICK_QUALITY, mediaReported } from './lib.mjs';

const PHONE = { width: 360, height: 640 };
const ZOOM = { width: 640, height: 360 };

/** What of the visible part of `root` breaks the rules, at the page's size now. */
async function misfits(page, root) {
  return page.evaluate((sel) => {
    const doc = document.documentElement;
    const width = doc.clientWidth;
    const bad = [];
    const shown = (el) => {
      const r = el.getBoundingClientRect();
      return r.width > 0 && r.height > 0 && !el.closest('[hidden]') && getComputedStyle(el).visibility !== 'hidden'
        && !el.closest('.visually-hidden');
    };
    const name = (el) => `${el.tagName.toLowerCase()}${el.id ? `#${el.id}` : ''}${el.dataset.testid ? `[${el.dataset.testid}]` : ''}`;
    for (const el of document.querySelectorAll(`${sel} button, ${sel} input, ${sel} select, ${sel} a`)) {
      if (!shown(el)) continue;
      const r = el.getBoundingClientRect();
      if (r.left < -0.5 || r.right > width + 0.5) bad.push(`${name(el)} cut: ${Math.round(r.left)}..${Math.round(r.right)} of ${width}`);
      if (r.height < 44) bad.push(`${name(el)} ${Math.round(r.height)} px high`);
      // A hint in an empty box is read whole, or not at all: it must fit the box.
      if (el.placeholder && !el.value) {
        const cs = getComputedStyle(el);
        const ctx = document.createElement('canvas').getContext('2d');
        ctx.font = `${cs.fontWeight} ${cs.fontSize} ${cs.fontFamily}`;
        const room = el.clientWidth - parseFloat(cs.paddingLeft) - parseFloat(cs.paddingRight);
        const need = ctx.measureText(el.placeholder).width;
        if (need > room + 0.5) bad.push(`${name(el)} hint "${el.placeholder}" cut: ${Math.round(need)} px in ${Math.round(room)}`);
      }
    }
    // Text that the petitioner reads: every element with words of its own.
    for (const el of document.querySelectorAll(`${sel} *`)) {
      if (!shown(el) || ['VIDEO', 'svg', 'AUDIO'].includes(el.tagName)) continue;
      const own = [...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
      const font = parseFloat(getComputedStyle(el).fontSize);
      if (own && font < 18) bad.push(`${name(el)} "${el.textContent.trim().slice(0, 20)}" at ${font} px`);
      const r = el.getBoundingClientRect();
      if (own && (r.left < -0.5 || r.right > width + 0.5)) bad.push(`${name(el)} text cut: ${Math.round(r.left)}..${Math.round(r.right)} of ${width}`);
    }
    return { sideways: doc.scrollWidth > width, width, scrollWidth: doc.scrollWidth, bad };
  }, root);
}

async function atBothSizes(page, root, label, shotName) {
  for (const [size, viewport] of [['phone-360x640', PHONE], ['zoom-200', ZOOM]]) {
    await page.setViewportSize(viewport);
    await page.waitForTimeout(200);
    const m = await misfits(page, root);
    if (m.bad.length || m.sideways) console.log(`  misfits: ${label} ${size}: ${JSON.stringify(m)}`);
    check(`${label} at ${size}: no sideways scroll, buttons whole and ≥ 44 px, type ≥ 18 px`, !m.sideways && m.bad.length === 0, m);
    await shot(page, `${shotName}-${size}`);
  }
}

await run('small_call', async () => {
  const booking = await apiBookNow('xihu.coord', 'supreme');
  const officer = await newPage('officer', 'desk', { init: QUICK_QUALITY });
  await officerJoins(officer, 'spc.officer', booking.session_id);

  // A phone at 360 × 640 (deviceScaleFactor 2, touch), then the same page at 640 × 360.
  const pet = await newPage('petitioner', 'phone', { init: QUICK_QUALITY });
  await pet.setViewportSize(PHONE);
  await pet.goto(new URL(booking.join_path, BASE).href);
  await pet.waitForSelector('#device-next:not([disabled])');
  await pet.click('#device-next');
  await pet.click('#join-button');
  await pet.waitForSelector('#call-state[data-state="waitingRoom"]');
  await atBothSizes(pet, '#step-call', 'the waiting room', '01-waiting');

  await officer.waitForSelector('#waiting-room:not([hidden]) [data-testid=admit-button][data-participant-id="petitioner"]');
  await admitPetitioner(officer, pet);
  await pet.waitForFunction(() => document.querySelector('#remote-videos video')?.videoWidth > 0, null, { timeout: 30000 });
  check('the call is on, with the judge in the picture', await pet.isVisible('#leave-button'));
  await atBothSizes(pet, '#step-call', 'the call screen', '02-call');

  // Leaving asks first: the question and its two answers fit too.
  await pet.click('#leave-button');
  await pet.waitForSelector('[data-testid=leave-confirm]:not([hidden])');
  await atBothSizes(pet, '#step-call', 'the leave question', '03-leave-question');
  await pet.click('#leave-no');

  // The officer ends the reception; the petitioner's end screen.
  await mediaReported(officer, pet);
  await officer.selectOption('#outcome-select', 'explained_law');
  await officer.click('#end-button');
  await officer.waitForSelector('[data-testid=end-confirm]:not([hidden])');
  await officer.click('#end-confirm-yes');
  await pet.waitForSelector('[data-testid=ended-screen]:not([hidden])');
  await pet.waitForFunction(() => /释法明理/.test(document.querySelector('#ended-outcome')?.textContent || ''));
  check('the end screen says the outcome', (await text(pet, '#ended-outcome')).includes('释法明理'));
  await pet.waitForSelector('#record-loading', { state: 'hidden' });
  await atBothSizes(pet, '#step-ended', 'the end screen', '04-ended');
});
