// index.html: staff login, then to the page for the role.
import { t } from './i18n.js';
import { api, staffSession, refreshStaffToken } from './api.js';
import { $, startPage, showError, showMessage, clearError } from './ui.js';

// A supervisor (负责人) lands on the records: the branch's figures, the extensions waiting for their
// approval and the overdue clocks are their day's work. Sessions they lead (领导包案) are one link
// away, on the officer's page.
const PAGES = { coordinator: 'coordinator.html', officer: 'officer.html', supervisor: 'records.html', admin: 'admin.html' };

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
const changeForm = $('#change-form');
const fresh = $('#change-new');
const again = $('#change-again');

function enter(answer) {
  if (!PAGES[answer.user.role]) {
    showMessage(errorBox, 'login.noPage', 'login.noPage.next');
    return;
  }
  staffSession.save(answer);
  go(answer.user);
}

// The password was right, but an administrator set it: one screen to set one's own, then in.
function askForOwnPassword() {
  form.hidden = true;
  changeForm.hidden = false;
  fresh.focus();
}

changeForm.addEventListener('submit', async (event) => {
  event.preventDefault();
  clearError(errorBox);
  if (!fresh.value) {
    showMessage(errorBox, 'login.change.missing', 'login.change.rule');
    fresh.focus();
    return;
  }
  if (fresh.value !== again.value) {
    showMessage(errorBox, 'login.change.mismatch', 'login.change.mismatch.next');
    again.select();
    again.focus();
    return;
  }
  const button = $('#change-submit');
  button.disabled = true;
  try {
    enter(await api('/auth/password', {
      method: 'POST', token: null,
      body: { username: username.value.trim(), password: password.value, new_password: fresh.value },
    }));
  } catch (err) {
    showError(errorBox, err, 'login');
    fresh.select();
    fresh.focus();
  } finally {
    button.disabled = false;
  }
});

// Signed in today already (another tab, or before the browser was closed): the sign-in's refresh
// cookie gives this tab a token of its own, without the password.
const existing = staffSession.get();
if (existing?.user && PAGES[existing.user.role]) {
  go(existing.user);
} else {
  refreshStaffToken().then((renewed) => {
    const session = renewed ? staffSession.get() : null;
    if (session?.user && PAGES[session.user.role]) {
      go(session.user);
    } else if (location.hash === '#expired') {
      showMessage(errorBox, 'login.expired', 'login.expired.next');
    }
  });
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
    enter(await api('/auth/login', {
      method: 'POST', token: null, body: { username: username.value.trim(), password: password.value },
    }));
  } catch (err) {
    if (err?.code === 'password_change_required') {
      askForOwnPassword();
      return;
    }
    // Slowed down after wrong passwords: say what happened, when to try again and whom to call.
    // 503 busy: too many passwords being checked at once on the server; not a wrong password.
    if (['login_slowed', 'too_many_attempts', 'busy'].includes(err?.code) && err.retryAfter > 0) {
      const next = err.code === 'busy' ? 'error.busy.next' : 'error.login.slowed.next';
      showMessage(errorBox, `error.login.${err.code}.wait`, next, { seconds: err.retryAfter });
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
