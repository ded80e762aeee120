// Small DOM helpers shared by the pages.
import { t, applyI18n, initLangSwitch, onLangChange } from './i18n.js';
import { api, ApiError, errorInfo, staffSession, keepStaffTokenFresh } from './api.js';

export const $ = (selector, root = document) => root.querySelector(selector);
export const $$ = (selector, root = document) => [...root.querySelectorAll(selector)];

/** h('button', {class: 'primary', onclick: fn, 'data-testid': 'x'}, 'text', child…) */
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === 'class') el.className = value;
    else if (key === 'text') el.textContent = value;
    else if (key.startsWith('on') && typeof value === 'function') el.addEventListener(key.slice(2), value);
    else if (key === 'value' || key === 'checked' || key === 'selected' || key === 'disabled' || key === 'hidden') {
      el[key] = value;
    } else el.setAttribute(key, value === true ? '' : String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
  return el;
}

// Alert boxes re-render themselves after a language switch.
const liveBoxes = new Set();
onLangChange(() => {
  for (const box of liveBoxes) {
    if (box.isConnected && !box.hidden && box.courtlinkRender) box.courtlinkRender();
  }
});

function setBox(box, render) {
  box.courtlinkRender = render;
  liveBoxes.add(box);
  render();
  box.hidden = false;
}

/** Show an error in an alert box: the user's words, what to do next, and a small detail. */
export function showError(box, err, context) {
  setBox(box, () => {
    const info = errorInfo(err, context);
    box.replaceChildren(...[
      h('p', { class: 'alert-message' }, info.message),
      info.next ? h('p', { class: 'alert-next' }, info.next) : null,
      info.detail ? h('p', { class: 'alert-detail' }, info.detail) : null,
    ].filter(Boolean));
    box.dataset.code = info.code;
  });
  if (!(err instanceof ApiError)) console.error(err);
}

/** Show a message from the catalogue: `key`, optionally `nextKey` (what to do), with `params`. */
export function showMessage(box, key, nextKey, params) {
  setBox(box, () => {
    box.replaceChildren(...[
      h('p', { class: 'alert-message' }, t(key, params)),
      nextKey ? h('p', { class: 'alert-next' }, t(nextKey, params)) : null,
    ].filter(Boolean));
    box.dataset.key = key;
  });
  delete box.dataset.code;
}

/**
 * A file input drawn by the page: a button and the chosen file's name in the page's language.
 * The browser's own control speaks the browser's language ("Choose File / No file chosen" in an
 * English Chromium, whatever the page says). The real input stays on top of the drawing,
 * transparent, so a click, a drop, the keyboard, its label and `setInputFiles` all still reach it.
 */
export function filePicker(input) {
  const button = h('span', { class: 'file-pick-button', 'aria-hidden': 'true' });
  const name = h('span', { class: 'file-pick-name', 'data-testid': 'file-pick-name' });
  const render = () => {
    const files = [...(input.files || [])];
    button.textContent = t(input.multiple ? 'file.chooseMany' : 'file.choose');
    name.textContent = files.length === 0 ? t('file.none')
      : files.length === 1 ? files[0].name
      : t('file.several', { count: files.length });
  };
  input.addEventListener('change', render);
  // A form's reset clears the input without a change event.
  queueMicrotask(() => input.form?.addEventListener('reset', () => setTimeout(render)));
  // Drawn again in each language until the page has dropped the field (it was on the page
  // and is no longer): then it stops listening, so panels drawn again do not pile up listeners.
  let shown = false;
  const off = onLangChange(() => {
    if (input.isConnected) shown = true;
    else if (shown) return off();
    return render();
  });
  render();
  return h('span', { class: 'file-pick' }, input, button, name);
}

export function clearError(box) {
  box.hidden = true;
  box.replaceChildren();
  box.courtlinkRender = null;
  liveBoxes.delete(box);
  delete box.dataset.code;
  delete box.dataset.key;
}

/** Announce a short status through the page's polite live region (#status). */
export function announce(text) {
  const region = document.getElementById('status');
  if (!region) return;
  region.textContent = '';
  // A fresh text node after a tick so that screen readers read repeats too.
  setTimeout(() => {
    region.textContent = text;
  }, 50);
}

/** Common start of every page: catalogue texts and the language switch. */
export function startPage() {
  applyI18n();
  const button = document.getElementById('lang-switch');
  if (button) initLangSwitch(button);
}

/**
 * Staff pages: the stored login, or a redirect to the login page.
 * `roles` lists the roles allowed here.
 */
export function requireStaff(roles) {
  const session = staffSession.get();
  if (!session || !session.user) {
    location.replace('index.html');
    return null;
  }
  if (!roles.includes(session.user.role)) {
    location.replace('index.html');
    return null;
  }
  // An officer's reception can outlast the token: refresh it while the page is open.
  keepStaffTokenFresh();
  return session;
}

/** Fill the staff header (court, name, logout). */
export function staffHeader(user) {
  const who = document.getElementById('who');
  const render = () => {
    if (who) {
      who.textContent = t('header.who', { name: user.display_name || user.username, court: user.court?.name || '' });
    }
  };
  render();
  const logout = document.getElementById('logout');
  if (logout) {
    logout.addEventListener('click', async () => {
      // Revoke the token on the server first; a network failure must not keep anyone signed in here.
      logout.disabled = true;
      try {
        await api('/auth/logout', { method: 'POST' });
      } catch {
        // Ignored: the page forgets the token either way.
      }
      staffSession.clear();
      location.replace('index.html');
    });
  }
  return render;
}

/** A 401 on a staff page means the login ran out: go back to the login page and say why. */
export function handleAuthError(err) {
  if (err instanceof ApiError && err.status === 401 && err.code === 'unauthenticated') {
    staffSession.clear();
    location.replace('index.html#expired');
    return true;
  }
  return false;
}

/**
 * Ask the signed-in user for their password again in a dialog (staff tokens run out while a
 * reception may still be going on). Resolves true once a fresh token is stored.
 */
export function reauthenticate(user) {
  return new Promise((resolve) => {
    const error = h('div', { class: 'alert', role: 'alert', hidden: true });
    const password = h('input', {
      id: 'reauth-password', 'data-testid': 'reauth-password', type: 'password', autocomplete: 'current-password',
    });
    const submit = h('button', { type: 'submit', class: 'primary', 'data-testid': 'reauth-submit' }, t('reauth.submit'));
    const cancel = h('button', { type: 'button', class: 'secondary', value: 'cancel' }, t('reauth.cancel'));
    const form = h('form', { method: 'dialog', class: 'stack', novalidate: true },
      h('h2', {}, t('reauth.heading')),
      h('p', {}, t('reauth.body', { name: user.display_name || user.username })),
      h('div', { class: 'field' },
        h('label', { for: 'reauth-password' }, t('login.password')),
        password),
      error,
      h('div', { class: 'button-row' }, submit, cancel));
    const dialog = h('dialog', { class: 'reauth', 'data-testid': 'reauth-dialog', 'aria-labelledby': 'reauth-heading' }, form);
    document.body.append(dialog);
    const finish = (ok) => {
      dialog.close();
      dialog.remove();
      resolve(ok);
    };
    cancel.addEventListener('click', () => finish(false));
    dialog.addEventListener('cancel', (e) => {
      e.preventDefault();
      finish(false);
    });
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      clearError(error);
      if (!password.value) {
        showMessage(error, 'login.missing');
        password.focus();
        return;
      }
      submit.disabled = true;
      try {
        const answer = await api('/auth/login', {
          method: 'POST', token: null, body: { username: user.username, password: password.value },
        });
        staffSession.save(answer);
        finish(true);
      } catch (err) {
        showError(error, err, 'login');
        password.select();
      } finally {
        submit.disabled = false;
      }
    });
    dialog.showModal();
    password.focus();
  });
}

/** Run `fn`; if the login ran out, ask for the password and run it once more. */
export async function withReauth(user, fn) {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof ApiError && err.status === 401 && err.code === 'unauthenticated' && await reauthenticate(user)) {
      return fn();
    }
    throw err;
  }
}
