// The administrator's page: sign in and land on it; create an account (a short password and a
// taken user name caught first, in words); disable it (it can no longer sign in) and enable it;
// the first sign-in sets the owner's own password (a guessable one refused); change its role;
// reset its password in a dialog (a guessable one refused; the owner sets their own at the next
// sign-in); add a room and a
// court below; the administrator's own row cannot be disabled; every control labelled; English;
// other roles are sent away; an administrator of a high court sees nothing of the SPC.
import {
  BASE, run, newPage, check, shot, text, login, apiCall, apiLogin, catalogues, unlabelledControls,
} from './lib.mjs';

const NEW_PASSWORD = 'a-long-new-secret';
// The owner's own password, set at the first login (an administrator's is only a way to set it).
const OWN_PASSWORD = 'lake cup train september';

/** The login page with an administrator's password: one screen to set one's own, then in. */
async function firstLogin(page, username, given) {
  await login(page, username, given);
  await page.waitForSelector('[data-testid=change-form]:not([hidden])');
  await page.fill('[data-testid=change-new]', OWN_PASSWORD);
  await page.fill('[data-testid=change-again]', OWN_PASSWORD);
  await page.click('[data-testid=change-submit]');
}

async function signIn(username, password) {
  return apiCall('POST', '/auth/login', { body: { username, password } });
}

await run('admin', async () => {
  const { zh, en } = await catalogues();
  const page = await newPage('admin');
  await login(page, 'admin');
  await page.waitForURL(/admin\.html/);
  await page.waitForSelector('[data-testid=user-row][data-username="xihu.coord"]');
  check('the administrator lands on the admin page, with the accounts listed', (await text(page, 'h1')) === zh['admin.heading']);
  check('every control is labelled', (await unlabelledControls(page)).length === 0, await unlabelledControls(page));
  const own = '[data-testid=user-row][data-username="admin"]';
  check('the administrator cannot disable itself or change its own role',
    await page.isDisabled(`${own} [data-testid=user-toggle]`) && await page.isDisabled(`${own} [data-testid=user-role]`));
  await shot(page, '01-admin-accounts');

  // ---- a new account: a short password, then a good one ----
  const courtValue = await page.$eval('#new-user-court', (s) => [...s.options].find((o) => o.textContent === '杭州市西湖区人民法院').value);
  await page.selectOption('#new-user-court', courtValue);
  await page.fill('#new-user-username', 'xihu.coord2');
  await page.fill('#new-user-name', '西湖法院 新专干');
  await page.selectOption('#new-user-role', 'coordinator');
  await page.fill('#new-user-password', 'short');
  await page.press('#new-user-password', 'Enter');
  await page.waitForSelector('#user-form-error:not([hidden])');
  check('a short password is caught, in words', (await text(page, '#user-form-error .alert-message')) === zh['admin.password.short']);
  await page.fill('#new-user-password', NEW_PASSWORD);
  await page.click('#new-user-submit');
  const row = '[data-testid=user-row][data-username="xihu.coord2"]';
  await page.waitForSelector(row);
  check('the account is created and listed', (await text(page, `${row} [data-testid=user-state]`)) === zh['admin.users.active']);
  check('the page says so', (await text(page, '#notice')).includes('xihu.coord2'));
  check('the page says the owner sets their own password at the first sign-in', (await text(page, '#notice')) === zh['admin.done.userCreated'].replace('{name}', '西湖法院 新专干').replace('{username}', 'xihu.coord2'), await text(page, '#notice'));
  check('the administrator’s password alone does not let the account in',
    (await signIn('xihu.coord2', NEW_PASSWORD)).data?.code === 'password_change_required');

  // ---- the first sign-in: the owner sets their own password on one screen ----
  const newcomer = await newPage('newcomer');
  await login(newcomer, 'xihu.coord2', NEW_PASSWORD);
  await newcomer.waitForSelector('[data-testid=change-form]:not([hidden])');
  check('first sign-in: asked for an own password, and told why', (await text(newcomer, '#change-heading')) === zh['login.change.heading']
    && !(await newcomer.isVisible('#login-form')));
  check('first sign-in: every control labelled', (await unlabelledControls(newcomer)).length === 0, await unlabelledControls(newcomer));
  await newcomer.fill('[data-testid=change-new]', OWN_PASSWORD);
  await newcomer.fill('[data-testid=change-again]', 'lake cup train october');
  await newcomer.press('[data-testid=change-again]', 'Enter');
  await newcomer.waitForSelector('#login-error:not([hidden])');
  check('two different new passwords are caught on the page', (await text(newcomer, '#login-error .alert-message')) === zh['login.change.mismatch']);
  await newcomer.fill('[data-testid=change-new]', 'password123456');
  await newcomer.fill('[data-testid=change-again]', 'password123456');
  await newcomer.click('[data-testid=change-submit]');
  await newcomer.waitForSelector('#login-error[data-code="weak_password"]');
  check('a guessable password is refused, in words', (await text(newcomer, '#login-error .alert-message')) === zh['error.weak_password']);
  await shot(newcomer, '02a-first-sign-in-weak-password');
  await newcomer.fill('[data-testid=change-new]', OWN_PASSWORD);
  await newcomer.fill('[data-testid=change-again]', OWN_PASSWORD);
  await newcomer.click('[data-testid=change-submit]');
  await newcomer.waitForURL(/coordinator\.html/);
  check('the own password set, the owner is in', true);
  check('the own password now signs in, the administrator’s no longer',
    (await signIn('xihu.coord2', OWN_PASSWORD)).status === 200 && (await signIn('xihu.coord2', NEW_PASSWORD)).status === 401);
  await newcomer.context().close();

  await page.fill('#new-user-username', 'xihu.coord');
  await page.fill('#new-user-name', '重复');
  await page.fill('#new-user-password', NEW_PASSWORD);
  await page.click('#new-user-submit');
  await page.waitForSelector('#user-form-error[data-code="username_taken"]');
  check('a taken user name is explained, with what to do',
    (await text(page, '#user-form-error .alert-message')) === zh['error.username_taken']
    && (await text(page, '#user-form-error .alert-next')) === zh['error.username_taken.next']);
  await shot(page, '02-admin-username-taken');

  // ---- disable, enable, role ----
  await page.click(`${row} [data-testid=user-toggle]`);
  await page.waitForFunction((sel) => document.querySelector(sel)?.textContent.trim() === '已停用', `${row} [data-testid=user-state]`);
  check('disabled: the account is shown disabled', true);
  check('disabled: it can no longer sign in', (await signIn('xihu.coord2', OWN_PASSWORD)).status === 401);
  check('the toggle keeps the keyboard focus', await page.evaluate((sel) => document.activeElement === document.querySelector(sel), `${row} [data-testid=user-toggle]`));
  await page.keyboard.press('Enter');
  await page.waitForFunction((sel) => document.querySelector(sel)?.textContent.trim() === '正常', `${row} [data-testid=user-state]`);
  check('enabled again with the keyboard: it signs in', (await signIn('xihu.coord2', OWN_PASSWORD)).status === 200);
  await page.selectOption(`${row} [data-testid=user-role]`, 'officer');
  await page.waitForFunction(() => document.querySelector('#notice')?.dataset.key === 'admin.done.role');
  const relogin = await signIn('xihu.coord2', OWN_PASSWORD);
  check('the role is changed', relogin.data.user.role === 'officer', relogin.data.user);

  // ---- reset the password in a dialog ----
  await page.click(`${row} [data-testid=user-reset]`);
  await page.waitForSelector('[data-testid=admin-dialog]');
  check('the dialog is labelled and takes the focus', await page.evaluate(() => document.activeElement?.id === 'ask-input'));
  await page.fill('[data-testid=dialog-input]', '123');
  await page.press('[data-testid=dialog-input]', 'Enter');
  await page.waitForSelector('[data-testid=dialog-error]:not([hidden])');
  check('a short new password is caught in the dialog', (await text(page, '[data-testid=dialog-error] .alert-message')) === zh['admin.password.short']);
  await shot(page, '03-admin-reset-dialog');
  await page.fill('[data-testid=dialog-input]', '1234567890ab');
  await page.click('[data-testid=dialog-submit]');
  await page.waitForSelector('[data-testid=dialog-error][data-code="weak_password"]');
  check('a guessable new password is refused in the dialog, in words', (await text(page, '[data-testid=dialog-error] .alert-message')) === zh['error.weak_password']);
  await page.fill('[data-testid=dialog-input]', 'another-new-secret');
  await page.click('[data-testid=dialog-submit]');
  await page.waitForSelector('[data-testid=admin-dialog]', { state: 'detached' });
  check('the reset password lets the owner set their own at once; the old one no longer works',
    (await signIn('xihu.coord2', 'another-new-secret')).data?.code === 'password_change_required' && (await signIn('xihu.coord2', OWN_PASSWORD)).status === 401);

  // ---- rooms and courts ----
  const shangcheng = '[data-testid=court-item][data-court-name="杭州市上城区人民法院"]';
  check('a basic court is offered local rooms only',
    (await page.$$eval(`${shangcheng} [data-testid=room-kind] option`, (os) => os.map((o) => o.value))).join() === 'local');
  await page.fill(`${shangcheng} [data-testid=room-name]`, '视频接访室二');
  await page.click(`${shangcheng} [data-testid=room-add]`);
  await page.waitForFunction((sel) => [...document.querySelectorAll(`${sel} [data-testid=room-item]`)].some((li) => li.textContent.includes('视频接访室二')), shangcheng);
  check('a room is added to a court', true);
  await page.fill(`${shangcheng} [data-testid=room-name]`, '视频接访室二');
  await page.click(`${shangcheng} [data-testid=room-add]`);
  await page.waitForSelector(`${shangcheng} .alert[data-code="room_name_taken"]`);
  check('a second room of the same name is explained', (await text(page, `${shangcheng} .alert .alert-message`)) === zh['error.room_name_taken']);

  const hz = await page.$eval('#new-court-parent', (s) => [...s.options].find((o) => o.textContent === '杭州市中级人民法院').value);
  await page.selectOption('#new-court-parent', hz);
  check('below an intermediate court only a basic court is offered',
    (await page.$$eval('#new-court-level option', (os) => os.map((o) => o.value))).join() === 'basic');
  await page.fill('#new-court-name', '杭州市拱墅区人民法院');
  await page.click('#new-court-submit');
  await page.waitForSelector('[data-testid=court-item][data-court-name="杭州市拱墅区人民法院"]');
  check('a court is added below', (await text(page, '[data-testid=court-item][data-court-name="杭州市拱墅区人民法院"] .muted')).includes('杭州市中级人民法院'));
  await shot(page, '04-admin-courts');

  // ---- English ----
  await page.click('#lang-switch');
  check('English: the page follows the switch', (await text(page, 'h1')) === en['admin.heading']
    && (await text(page, `${row} [data-testid=user-state]`)) === en['admin.users.active']);
  await shot(page, '05-admin-en');
  await page.click('#lang-switch');

  // ---- other roles are sent away ----
  const coordinator = await newPage('coordinator');
  await login(coordinator, 'xihu.coord');
  await coordinator.waitForURL(/coordinator\.html/);
  await coordinator.goto(`${BASE}/admin.html`);
  await coordinator.waitForURL((u) => !u.pathname.endsWith('admin.html'));
  check('a coordinator opening the admin page is sent away', !coordinator.url().includes('admin.html'), coordinator.url());
  const coordToken = await apiLogin('xihu.coord');
  check('and the API refuses it', (await apiCall('GET', '/admin/users', { token: coordToken })).status === 403);

  // ---- an administrator of a high court ----
  const adminToken = await apiLogin('admin');
  const courts = (await apiCall('GET', '/admin/courts', { token: adminToken })).data;
  const zj = courts.find((c) => c.level === 'high');
  const made = await apiCall('POST', '/admin/users', {
    token: adminToken,
    body: { court_id: zj.id, username: 'zj.admin', display_name: '浙江高院 管理员', role: 'admin', password: NEW_PASSWORD },
  });
  check('(set-up) an administrator for the high court', made.status === 201, made);
  const lower = await newPage('zj-admin');
  await firstLogin(lower, 'zj.admin', NEW_PASSWORD);
  await lower.waitForURL(/admin\.html/);
  await lower.waitForSelector('[data-testid=court-item]');
  const names = await lower.$$eval('[data-testid=court-item]', (els) => els.map((e) => e.dataset.courtName));
  check('the high court\'s administrator sees its court and those below, not the SPC',
    names[0] === zj.name && !names.includes('最高人民法院') && names.includes('杭州市拱墅区人民法院'), names);
  const usernames = await lower.$$eval('[data-testid=user-row]', (els) => els.map((e) => e.dataset.username));
  check('nor any account of the SPC', !usernames.includes('admin') && !usernames.includes('spc.officer'), usernames);
  await shot(lower, '06-admin-high-court');

  // ---- the court's own reception rules and directory (issue 18 item 12) ----
  await lower.waitForFunction(() => document.querySelector('[data-testid=hs-horizon_days]')?.value !== '');
  const zjToken = await apiLogin('zj.officer');
  const before = (await apiCall('GET', `/host-courts/${zj.id}/settings`, { token: zjToken })).data;
  check('the rules on record are shown (the demo approves at once)',
    before.auto_approve === true && await lower.isChecked('[data-testid=hs-auto]')
    && (await lower.inputValue('[data-testid=hs-horizon_days]')) === String(before.horizon_days), before);
  await lower.fill('[data-testid=hs-horizon_days]', '999');
  await lower.focus('[data-testid=hs-save]');
  await lower.keyboard.press('Enter');
  await lower.waitForSelector('[data-testid=host-settings-error]:not([hidden])');
  check('a horizon out of range is explained in words, and the field takes the focus',
    (await text(lower, '[data-testid=host-settings-error]')).includes('1 到 180')
    && await lower.evaluate(() => document.activeElement?.dataset.testid === 'hs-horizon_days'));
  await lower.fill('[data-testid=hs-horizon_days]', '21');
  await lower.fill('[data-testid=hs-weekly_limit_per_local_court]', '3');
  await lower.check('[data-testid=hs-review]');
  await lower.click('[data-testid=hs-save]');
  await lower.waitForFunction((words) => document.querySelector('[data-testid=host-settings-state]')?.textContent === words, zh['hostSettings.saved']);
  const rules = (await apiCall('GET', `/host-courts/${zj.id}/settings`, { token: zjToken })).data;
  check('saved: reviewed, 21 days ahead, three a week per court below',
    rules.auto_approve === false && rules.horizon_days === 21 && rules.weekly_limit_per_local_court === 3, rules);
  check('the court\'s directory is kept on the same page', (await lower.$('[data-testid=directory-panel] form')) !== null);
  check('every control of the rules is labelled', (await unlabelledControls(lower)).length === 0, await unlabelledControls(lower));
  await lower.locator('[data-testid=host-settings-panel]').scrollIntoViewIfNeeded();
  await shot(lower, '07-admin-host-settings');
});
