// After five wrong passwords (issue 18, item 10; the trust issue's rule: the account is slowed
// down, never locked against its owner) the login page explains in Chinese what happened, when
// to try again (the server's Retry-After, in seconds) and whom to call — never a raw 429.
import { run, newPage, login, check, shot, text } from './lib.mjs';

await run('lockout', async () => {
  const page = await newPage('login');
  const answers = [];
  page.on('response', (r) => {
    if (r.url().endsWith('/api/v1/auth/login')) answers.push({ status: r.status(), retryAfter: r.headers()['retry-after'] });
  });
  for (let i = 1; i <= 5; i += 1) {
    await login(page, 'xihu.coord', `wrong-password-${i}`);
    await page.waitForFunction(() => !document.querySelector('#login-submit').disabled);
    for (let w = 0; w < 100 && answers.length < i; w += 1) await page.waitForTimeout(100);
  }
  check('five wrong passwords are refused as wrong', answers.length >= 5 && answers.slice(0, 5).every((a) => a.status === 401), answers);
  check('each said in Chinese', /用户名或密码不正确/.test(await text(page, '#login-error')), await text(page, '#login-error'));

  await login(page, 'xihu.coord', 'wrong-password-6');
  await page.waitForFunction(() => ['login_slowed', 'too_many_attempts'].includes(document.querySelector('#login-error')?.dataset.code));
  const last = answers[answers.length - 1];
  check('the sixth is slowed down: 429 with Retry-After', last.status === 429 && Number(last.retryAfter) > 0, last);
  const words = await text(page, '#login-error');
  const message = await text(page, '#login-error .alert-message');
  const next = await text(page, '#login-error .alert-next');
  check('what happened, in Chinese', /输错密码的次数过多|登录尝试过于频繁/.test(message), message);
  check('when to try again: the seconds the server gave', message.includes(`${last.retryAfter} 秒后再试`), [message, last.retryAfter]);
  check('whom to call', next.includes('系统管理员'), next);
  check('and that the owner is not locked out', next.includes('账号没有被锁定'), next);
  check('no raw status or English', !/429|Too Many|too_many|login_slowed/i.test(words), words);
  check('the password field has the focus again', await page.evaluate(() => document.activeElement?.id === 'login-password'));
  await shot(page, '01-slowed-down-zh');
});
