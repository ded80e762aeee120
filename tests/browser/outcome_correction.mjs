// Correcting a session's outcome (issue 18, item 3) on the officer's page. The server test has
// held and ended the session (释法明理) before this script runs (COURTLINK_SESSION_ID,
// COURTLINK_CASE_ID). The officer who recorded the outcome opens the session record, opens
// 更正处理结果 with the keyboard, is told that a reason is needed, sees what will be recorded
// before anything is, goes back to change and keeps what was typed, confirms; the record then
// shows the corrected outcome with the original struck through and labelled, the timeline the
// correction, and the case's ledger both entries. English too.
import { run, newPage, login, check, shot, text, apiLogin, apiCall } from './lib.mjs';

const SESSION = Number(process.env.COURTLINK_SESSION_ID);
const CASE = Number(process.env.COURTLINK_CASE_ID);
const REASON = '信访人在接谈中已表示息诉罢访，登记时误选为释法明理';
// Typed as a full sentence, as people do: the screens that quote it must not end it twice (。。).
const TYPED = `${REASON}。`;

const focused = (page) => page.evaluate(() => document.activeElement?.dataset?.testid || document.activeElement?.id || '');

await run('outcome_correction', async () => {
  check('the server test gave a session and its case', SESSION > 0 && CASE > 0, `${SESSION} ${CASE}`);
  const officerToken = await apiLogin('spc.officer');
  const outcomeNow = async () => (await apiCall('GET', `/sessions/${SESSION}`, { token: officerToken })).data.outcome;

  const officer = await newPage('officer');
  await login(officer, 'spc.officer');
  const view = `[data-testid=session-view][data-session-id="${SESSION}"]`;
  await officer.waitForSelector(view);
  await officer.click(view);
  await officer.waitForSelector('[data-testid=outcome-current]');
  check('the record shows the outcome as recorded', (await text(officer, '[data-testid=outcome-current]')) === '释法明理');
  check('no history before a correction', (await officer.locator('[data-testid=outcome-original]').count()) === 0);

  // By keyboard: the button, then Enter.
  await officer.focus('[data-testid=outcome-fix-open]');
  await officer.keyboard.press('Enter');
  await officer.waitForSelector('[data-testid=outcome-fix-form]:not([hidden])');
  check('the form opens on the list of outcomes', (await focused(officer)) === 'outcome-fix-select', await focused(officer));
  const offered = await officer.$$eval('[data-testid=outcome-fix-select] option', (os) => os.map((o) => o.value).filter(Boolean));
  check('offered: the outcomes that fit the case, not the current one, not 交办',
    offered.includes('withdrawn') && !offered.includes('explained_law') && !offered.includes('assign') && !offered.includes('review_filed'),
    offered);
  await officer.selectOption('[data-testid=outcome-fix-select]', 'withdrawn');
  await officer.click('[data-testid=outcome-fix-next]');
  await officer.waitForSelector('[data-testid=outcome-fix-error]:not([hidden])');
  check('an empty reason is explained in Chinese', (await text(officer, '[data-testid=outcome-fix-error]')) === '请写明更正理由。');
  check('and the reason box has the focus', (await focused(officer)) === 'outcome-fix-reason', await focused(officer));
  check('the confirmation is not shown yet', await officer.locator('[data-testid=outcome-fix-confirm-step]').isHidden());

  await officer.fill('[data-testid=outcome-fix-reason]', TYPED);
  await officer.keyboard.press('Tab');
  await officer.click('[data-testid=outcome-fix-next]');
  await officer.waitForSelector('[data-testid=outcome-fix-confirm-step]:not([hidden])');
  const confirmText = await text(officer, '[data-testid=outcome-fix-confirm-text]');
  check('the confirmation says what will be recorded: from, to and why',
    confirmText.includes('“释法明理”') && confirmText.includes('“息诉罢访”') && confirmText.includes(REASON) && confirmText.includes('原结果保留') && !confirmText.includes('。。'),
    confirmText);
  check('the confirm button has the focus', (await focused(officer)) === 'outcome-fix-confirm', await focused(officer));
  check('nothing is recorded before it is confirmed', (await outcomeNow()) === 'explained_law');
  await shot(officer, 'outcome-correction-confirm');

  // 返回修改: back to the fields, with what was typed.
  await officer.click('[data-testid=outcome-fix-back]');
  check('返回修改 hides the confirmation', await officer.locator('[data-testid=outcome-fix-confirm-step]').isHidden());
  check('and keeps the choice and the reason',
    (await officer.inputValue('[data-testid=outcome-fix-select]')) === 'withdrawn'
    && (await officer.inputValue('[data-testid=outcome-fix-reason]')) === TYPED);
  check('and puts the focus back on the list', (await focused(officer)) === 'outcome-fix-select', await focused(officer));
  check('still nothing recorded', (await outcomeNow()) === 'explained_law');

  await officer.click('[data-testid=outcome-fix-next]');
  await officer.waitForSelector('[data-testid=outcome-fix-confirm-step]:not([hidden])');
  await officer.keyboard.press('Enter');
  await officer.waitForSelector('[data-testid=outcome-original]');
  check('the server has the corrected outcome', (await outcomeNow()) === 'withdrawn');
  check('the record shows the corrected outcome', (await text(officer, '[data-testid=outcome-current]')) === '息诉罢访');
  check('labelled as corrected', (await text(officer, '[data-testid=outcome-corrected-badge]')) === '已更正');
  const original = officer.locator('[data-testid=outcome-original]');
  check('one original', (await original.count()) === 1);
  check('the original is labelled 原处理结果', (await original.locator('.label').textContent()).trim() === '原处理结果');
  check('the original is struck through', (await original.locator('del').textContent()).trim() === '释法明理'
    && (await original.locator('del').evaluate((e) => getComputedStyle(e).textDecorationLine)).includes('line-through'));
  check('with who and why', (await original.textContent()).includes(REASON) && (await original.textContent()).includes('周法官'));
  const item = officer.locator('[data-testid=timeline] [data-kind=outcome_corrected]');
  check('the timeline shows the correction', (await item.count()) === 1 && (await item.textContent()).includes('处理结果由“释法明理”更正为“息诉罢访”'),
    await item.textContent().catch(() => ''));
  check('the end stays on the timeline as it was written',
    (await officer.locator('[data-testid=timeline] [data-kind=ended]').textContent()).includes('释法明理'));
  await shot(officer, 'outcome-corrected');

  // The ledger shows both entries, the original marked as corrected.
  const coord = await apiLogin('xihu.coord');
  const ledger = (await apiCall('GET', `/cases/${CASE}`, { token: coord })).data.ledger;
  const first = ledger.find((e) => e.session_id === SESSION);
  const fix = ledger.find((e) => e.corrects === first?.id);
  check('the ledger keeps the original, marked corrected', first?.outcome === 'explained_law' && first.corrected_by === fix?.id, first);
  check('and the correction with its reason', fix?.outcome === 'withdrawn' && fix.correction_reason === TYPED, fix);

  // In English.
  await officer.click('#lang-switch');
  await officer.waitForFunction(() => document.documentElement.lang === 'en');
  check('in English: Corrected, Originally', (await text(officer, '[data-testid=outcome-corrected-badge]')) === 'Corrected'
    && (await officer.locator('[data-testid=outcome-original] .label').textContent()).trim() === 'Originally');
  await shot(officer, 'outcome-corrected-en');
});
