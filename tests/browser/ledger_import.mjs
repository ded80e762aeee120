// Importing a court's Excel ledger on the coordinator's page (docs/ledger.md, "Importing"): the
// template downloads with the headers; a file of three rows — two new, one with a wrong identity
// number — is previewed as one table with each row's fate and
// reason; 确认导入 creates the two; the same file again creates nothing and says why. By keyboard.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ARTIFACTS, run, newPage, check, shot, text, login, catalogues } from './lib.mjs';

// GB 11643 check digits, for made-up people.
function idNumber(n) {
  const w = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
  const body = `33010619790505${String(n).padStart(3, '0')}`;
  const sum = [...body].reduce((s, d, i) => s + Number(d) * w[i], 0);
  return body + '10X98765432'[sum % 11];
}

await run('ledger_import', async () => {
  const { zh } = await catalogues();
  const page = await newPage('coordinator');
  await login(page, 'xihu.coord');
  await page.waitForURL(/coordinator\.html/);
  await page.waitForSelector('[data-testid=case-item]');
  const casesBefore = await page.$$eval('[data-testid=case-item]', (l) => l.length);

  await page.focus('[data-testid=import-open]');
  await page.keyboard.press('Enter');
  await page.waitForSelector('[data-testid=import-form]');
  check('the form opens on its file field',
    await page.evaluate(() => document.activeElement?.dataset.testid === 'import-file'));

  // The template: the header row alone, UTF-8 with a BOM so that Excel shows the Chinese.
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('[data-testid=import-template-csv]')]);
  const template = readFileSync(await download.path());
  const header = template.toString('utf8').replace(/^\uFEFF/, '').trim();
  check('the CSV template has a BOM and the headers', template[0] === 0xef && header.includes('身份证号码') && header.includes('案件编号'), header);

  const columns = header.split(',').map((c) => c.replace(/\*$/, '').trim());
  const row = (values) => columns.map((c) => values[c] ?? '').join(',');
  const rows = [
    { 案件编号: '（2026）浙0106信导1号', 案件类别: '信访', 信访人姓名: '孙一', 身份证号码: idNumber(1), 信访事项: '要求解决拖欠工资', 内容摘要: '劳动报酬', 来源渠道: '来信', 登记日期: '2026-03-15' },
    { 案件编号: '（2026）浙0106信导2号', 案件类别: '信访', 信访人姓名: '孙二', 身份证号码: '330106197905050000', 信访事项: '要求重新鉴定', 内容摘要: '鉴定异议', 来源渠道: '来访' },
    { 案件编号: '（2026）浙0106信导4号', 案件类别: '信访', 信访人姓名: '孙四', 身份证号码: idNumber(4), 信访事项: '对判决不服', 内容摘要: '判决异议', 来源渠道: '网上信访', 登记日期: '2026/4/1' },
  ];
  const file = join(ARTIFACTS, '台账.csv');
  writeFileSync(file, `\uFEFF${columns.join(',')}\n${rows.map(row).join('\n')}\n`);
  await page.setInputFiles('[data-testid=import-file]', file);
  await page.focus('[data-testid=import-preview-submit]');
  await page.keyboard.press('Enter');
  await page.waitForSelector('[data-testid=import-preview]:not([hidden])');
  const fates = await page.$$eval('[data-testid^=import-row-]', (trs) => trs.map((tr) => [Number(tr.dataset.row), tr.dataset.testid.replace('import-row-', '')]));
  check('each row with its fate, numbered as Excel shows them (header = row 1)',
    JSON.stringify(fates) === JSON.stringify([[2, 'created'], [3, 'refused'], [4, 'created']]), fates);
  const refused = await text(page, '[data-testid=import-row-refused] td:last-child');
  check('the refused row says why, in words', refused.length > 0 && !/[a-z_]{6,}/.test(refused), refused);
  check('the summary counts them', (await text(page, '[data-testid=import-summary]')).includes('2'));
  check('the preview has the focus', await page.evaluate(() => document.activeElement?.dataset.testid === 'import-preview'));
  await shot(page, '01-import-preview');

  await page.focus('[data-testid=import-confirm]');
  await page.keyboard.press('Enter');
  await page.waitForSelector('[data-testid=import-form]', { state: 'detached' }).catch(() => {});
  await page.waitForFunction((n) => document.querySelectorAll('[data-testid=case-item]').length === n + 2, casesBefore, { timeout: 15000 });
  check('确认导入 creates the two new cases', true);

  // The same file again: nothing new, and why.
  await page.click('[data-testid=import-open]');
  await page.waitForSelector('[data-testid=import-form]');
  await page.setInputFiles('[data-testid=import-file]', file);
  await page.click('[data-testid=import-preview-submit]');
  await page.waitForSelector('[data-testid=import-preview]:not([hidden])');
  const again = await page.$$eval('[data-testid^=import-row-]', (trs) => trs.map((tr) => tr.dataset.testid.replace('import-row-', '')));
  check('importing again creates nothing: both matched, the bad row still refused',
    JSON.stringify(again) === JSON.stringify(['matched', 'refused', 'matched']), again);
  const matched = await text(page, '[data-testid=import-row-matched] td:last-child');
  check('a matched row names the case it matches', matched.includes('（2026）浙0106信导1号'), matched);
  check('nothing to confirm', await page.isDisabled('[data-testid=import-confirm]'));
  check('the page names the fates in Chinese', (await text(page, '[data-testid=import-preview]')).includes(zh['import.fate.matched']));
  await shot(page, '02-import-again');
});
