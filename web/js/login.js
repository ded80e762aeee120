// index.html: staff login, then to the page for the role.
import { t } from './i18n.js';
import { api, staffSession } from './api.js';
import { $, startPage, showError, showMessage, clearError } from './ui.js';

const PAGES = { coordinator: 'coordinator.html', officer: 'officer.html', supervisor: 'officer.html', admin: 'admin.html' };

function go(user) {
  const page = PAGES[user.role];
  if (page) {
    location.assign(page);
    return true;
  }
  return false;
}

startPage();

const form = $('#login-form');
const errorBox = $('#login-error');
const username = $('#login-username');
const password = $('#login-password');
const submit = $('#login-submit');

const existing = staffSession.get();
if (existing?.user && PAGES[existing.user.role]) {
  go(existing.user);
} else if (location.hash === '#expired') {
  showMessage(errorBox, 'login.expired', 'login.expired.next');
}

form.addEventListener('submit', async (event) => {
  event.preventDefault();
  clearError(errorBox);
  if (!username.value.trim() || !password.value) {
    showMessage(errorBox, 'login.missing', 'login.missing.next');
    (username.value.trim() ? password : username).focus();
    return;
  }
  submit.disabled = true;
  submit.textContent = t('login.working');
  try {
    const answer = await api('/auth/login', {
      method: 'POST', token: null, body: { username: username.value.trim(), password: password.value },
    });
    if (!PAGES[answer.user.role]) {
      showMessage(errorBox, 'login.noPage', 'login.noPage.next');
      return;
    }
    staffSession.save(answer);
    go(answer.user);
  } catch (err) {
    // Slowed down after wrong passwords: say what happened, when to try again and whom to call.
    if (['login_slowed', 'too_many_attempts'].includes(err?.code) && err.retryAfter > 0) {
      showMessage(errorBox, `error.login.${err.code}.wait`, 'error.login.slowed.next', { seconds: err.retryAfter });
      errorBox.dataset.code = err.code;
    } else {
      showError(errorBox, err, 'login');
    }
    password.select();
    password.focus();
  } finally {
    submit.disabled = false;
    submit.textContent = t('login.submit');
  }
});
