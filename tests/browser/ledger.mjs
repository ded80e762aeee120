// The ledger on the coordinator's page (docs/ledger.md), by keyboard where a person would: open a
// case (a bad identity number caught in words; the same petitioner offered, then confirmed as
// new); log a letter, then a visit with an outcome that is confirmed before it is saved; correct
// the letter (both stay, the first marked); change the class with a reason, after which the
// outcomes offered change; log its 终结, after which it reads as concluded; every control
// labelled; the English page.
import { run, newPage, check, shot, text, login, catalogues, unlabelledControls } from './lib.mjs';

// GB 11643 check digits, for made-up people.
function idNumber(n) {
  const w = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
  const body = `33010619850303${String(n).padStart(3, '0')}`;
  const sum = [...body].reduce((s, d, i) => s + Number(d) * w[i], 0);
  return body + '10X98765432'[sum % 11];
}

await run('ledger', async () => {
  const { zh, en } = await catalogues();
  const page = await newPage('coordinator');
  await login(page, 'xihu.coord');
  await page.waitForURL(/coordinator\.html/);
  await page.waitForSelector('[data-testid=case-item]');

  // ---- open a case ----
  await page.focus('[data-testid=new-case-open]');
  await page.keyboard.press('Enter');
  await page.waitForSelector('[data-testid=new-case-form]');
  check('the form opens with the keyboard, on its first field',
    await page.evaluate(() => document.activeElement?.dataset.testid === 'new-case-number'));
  check('every control is labelled', (await unlabelledControls(page)).length === 0, await unlabelledControls(page));
  // It opened in the case list's column, whose fields showed a dozen characters (walk, 2026-12-06).
  const fieldWidth = (await page.locator('[data-testid=new-case-number]').boundingBox()).width;
  check('the form opens in a dialog, its fields wide enough for a case number',
    await page.evaluate(() => document.querySelector('[data-testid=new-case-dialog]')?.matches(':modal')) && fieldWidth >= 320, fieldWidth);
  await page.keyboard.type('（2026）浙0106信101号');
  await page.fill('[data-testid=new-case-name]', '赵六');
  const bad = `${idNumber(101).slice(0, 17)}${idNumber(101).endsWith('1') ? '2' : '1'}`;
  await page.fill('[data-testid=new-case-id]', bad);
  await page.selectOption('[data-testid=new-case-channel]', 'letter');
  await page.fill('[data-testid=new-case-matter]', '要求返还被执行的房屋。');
  await page.fill('[data-testid=new-case-subject]', '执行异议');
  await page.press('[data-testid=new-case-subject]', 'Enter');
  await page.waitForSelector('[data-testid=new-case-error][data-code="invalid_id_number"]');
  check('a wrong identity number is explained in words, with what to do',
    (await text(page, '[data-testid=new-case-error] .alert-message')) === zh['error.invalid_id_number']
    && (await text(page, '[data-testid=new-case-error] .alert-next')) === zh['error.invalid_id_number.next']);
  await page.fill('[data-testid=new-case-id]', idNumber(101));
  await page.click('[data-testid=new-case-submit]');
  const item = '[data-testid=case-item][data-case-number="（2026）浙0106信101号"]';
  await page.waitForSelector(item);
  await page.waitForSelector('[data-testid=case-class][data-class="petition"]');
  check('the case is opened, listed and shown', (await text(page, '[data-testid=case-class]')).startsWith(zh['case.class.petition']));
  // The case's file (and its ledger) is drawn after the case itself: wait for it, then count.
  await page.waitForSelector('[data-testid=ledger-entry][data-channel="letter"]');
  check('the contact that brought it in is on the ledger',
    (await page.$$('[data-testid=ledger-entry][data-channel="letter"]')).length === 1);
  check('the identity number is not on the page', !(await page.content()).includes(idNumber(101)));
  await shot(page, '01-case-opened');

  // The same petitioner again: offered, then confirmed as new.
  await page.click('[data-testid=new-case-open]');
  await page.fill('[data-testid=new-case-number]', '（2026）浙0106信102号');
  await page.fill('[data-testid=new-case-name]', '赵六');
  await page.fill('[data-testid=new-case-id]', idNumber(101));
  await page.fill('[data-testid=new-case-matter]', '另一件事：要求赔偿。');
  await page.fill('[data-testid=new-case-subject]', '国家赔偿');
  await page.click('[data-testid=new-case-submit]');
  await page.waitForSelector('[data-testid=new-case-match]');
  check('an existing case of the same petitioner is offered, with a way to open it',
    (await text(page, '[data-testid=new-case-match]')).includes('（2026）浙0106信101号')
    && (await page.$('[data-testid=new-case-match] [data-testid=new-case-use]')) !== null);
  await shot(page, '02-same-matter-offered');
  await page.click('[data-testid=new-case-confirm]');
  await page.waitForSelector('[data-testid=case-item][data-case-number="（2026）浙0106信102号"]');
  check('confirmed as a new matter, it is opened', true);

  // ---- log a letter and a visit on the first case ----
  await page.click(item);
  await page.waitForSelector('[data-testid=contact-open]');
  await page.focus('[data-testid=contact-open]');
  await page.keyboard.press('Enter');
  await page.waitForSelector('[data-testid=contact-form]');
  check('every control of the contact form is labelled', (await unlabelledControls(page)).length === 0, await unlabelledControls(page));
  await page.selectOption('[data-testid=contact-channel]', 'letter');
  await page.fill('[data-testid=contact-summary]', '来信补充材料');
  await page.click('[data-testid=contact-submit]');
  await page.waitForFunction(() => document.querySelectorAll('[data-testid=ledger-entry][data-channel="letter"]').length === 2);
  check('a letter is logged', true);

  await page.click('[data-testid=contact-open]');
  await page.selectOption('[data-testid=contact-channel]', 'local_visit');
  await page.fill('[data-testid=contact-summary]', '来访，当面释法');
  const offered = await page.$$eval('[data-testid=contact-outcome] option', (os) => os.map((o) => o.value));
  check('a petition case is offered only the outcomes that fit it',
    offered.includes('explained_law') && offered.includes('not_within_scope') && !offered.includes('into_procedure'), offered);
  await page.selectOption('[data-testid=contact-outcome]', 'explained_law');
  await page.click('[data-testid=contact-submit]');
  await page.waitForSelector('[data-testid=contact-confirm]:not([hidden])');
  check('the outcome is shown back to be confirmed before it is saved',
    (await text(page, '[data-testid=contact-confirm]')).includes(zh['outcome.explained_law'])
    && (await page.$$('[data-testid=ledger-entry][data-channel="local_visit"]')).length === 0);
  await page.keyboard.press('Enter');
  await page.waitForSelector('[data-testid=ledger-entry][data-channel="local_visit"][data-outcome="explained_law"]');
  check('confirmed, the visit is logged with its outcome', true);
  await shot(page, '03-letter-and-visit');

  // ---- correct the letter ----
  const letter = await page.$$eval('[data-testid=ledger-entry][data-channel="letter"]', (rows) => rows.map((r) => r.dataset.entryId));
  const newest = letter[0];
  await page.click(`[data-testid=ledger-entry][data-entry-id="${newest}"] [data-testid=ledger-correct]`);
  await page.waitForSelector('[data-testid=contact-reason]');
  check('the correction starts on its reason', await page.evaluate(() => document.activeElement?.dataset.testid === 'contact-reason'));
  await page.keyboard.type('材料名称写错');
  await page.fill('[data-testid=contact-summary]', '来信补充证据材料');
  await page.click('[data-testid=contact-submit]');
  await page.waitForSelector('[data-testid=ledger-correction]');
  check('the original stays and is marked; the correction says why',
    (await page.$(`[data-testid=ledger-entry][data-entry-id="${newest}"] [data-testid=ledger-corrected]`)) !== null
    && (await text(page, '[data-testid=ledger-correction]')).includes('材料名称写错'));

  // ---- change the class ----
  await page.click('[data-testid=class-open]');
  await page.waitForSelector('[data-testid=class-form]');
  await page.click('[data-testid=class-submit]');
  await page.waitForSelector('[data-testid=class-error]:not([hidden])');
  check('a change of class needs its reason', true);
  await page.fill('[data-testid=class-reason]', '对生效判决不服，属涉诉');
  await page.click('[data-testid=class-submit]');
  await page.waitForSelector('[data-testid=case-class][data-class="litigation"]');
  await page.waitForSelector('[data-testid=class-changes]');
  check('the class is changed, with the change on the case', (await text(page, '[data-testid=class-changes]')).includes('对生效判决不服'));
  await page.click('[data-testid=contact-open]');
  const now = await page.$$eval('[data-testid=contact-outcome] option', (os) => os.map((o) => o.value));
  check('a litigation case is offered the procedure outcomes', now.includes('into_procedure') && !now.includes('not_within_scope'), now);
  await shot(page, '04-class-changed');

  // ---- 终结: the case reads as concluded, and the page says before any booking that it is
  // received no more ----
  check('no conclusion is shown while the case is open', (await page.$$('[data-testid=case-concluded]')).length === 0);
  await page.selectOption('[data-testid=contact-channel]', 'letter');
  await page.fill('[data-testid=contact-summary]', '依法终结，书面告知');
  await page.selectOption('[data-testid=contact-outcome]', 'concluded');
  await page.click('[data-testid=contact-submit]');
  await page.waitForSelector('[data-testid=contact-confirm]:not([hidden])');
  await page.keyboard.press('Enter');
  await page.waitForSelector('[data-testid=case-concluded]');
  check('a concluded case says so, in words, before any booking',
    (await text(page, '[data-testid=case-concluded]')) === zh['case.concludedHint']
    && (await text(page, '#case-detail')).includes(zh['case.status.concluded']));

  // ---- English ----
  await page.click('#lang-switch');
  await page.waitForFunction((label) => document.querySelector('[data-testid=contact-open], [data-testid=contact-submit]')
    && document.body.textContent.includes(label), en['ledger.factsHeading']);
  check('the ledger reads in English', (await text(page, '#case-detail')).includes(en['ledger.factsHeading']));
  await shot(page, '05-english');
});
