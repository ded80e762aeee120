// admin.html: the administrator's courts, rooms and staff accounts — its own court and every
// court below it. Nothing is deleted here: accounts are disabled, rooms renamed.
import { t, tEnum, onLangChange, formatDateTime } from './i18n.js';
import { api, ApiError } from './api.js';
import { $, h, startPage, requireStaff, staffHeader, showError, showMessage, clearError, handleAuthError, announce, withReauth } from './ui.js';
import { mountCalendarAdmin } from './clocks-ui.js';

/** The shortest password the server accepts (routes/admin.rs MIN_PASSWORD_CHARS). */
export const MIN_PASSWORD_CHARS = 10;
const ROLES = ['coordinator', 'officer', 'supervisor', 'admin'];
const LEVELS = ['supreme', 'high', 'intermediate', 'basic'];

const auth = requireStaff(['admin']);
if (auth) main(auth);

function main({ user }) {
  startPage();
  const rerenderHeader = staffHeader(user);
  const state = { courts: [], users: [] };
  const pageError = $('#page-error');
  const notice = $('#notice');

  const call = (path, options) => withReauth(user, () => api(path, options));
  let calendar = null;
  let calendarStatus = null;

  function fail(box, err, context = 'admin') {
    if (handleAuthError(err)) return;
    showError(box, err, context);
  }

  function done(key, params) {
    showMessage(notice, key, null, params);
    announce(t(key, params));
  }

  async function load() {
    clearError(pageError);
    try {
      const [courts, users] = await Promise.all([call('/admin/courts'), call('/admin/users')]);
      state.courts = courts;
      state.users = users;
      render();
      // The national calendar's years (js/clocks-ui.js): loaded by the top court's admin only.
      if (!calendar) {
        const top = state.courts.find((c) => c.id === user.court?.id)?.parent_id == null;
        calendar = mountCalendarAdmin($('#calendar-panel'), {
          call,
          canLoad: top,
          onChanged: (status) => {
            calendarStatus = status;
            renderCalendarWarnings(status);
          },
        });
      }
      // Not awaited: what called load() says what it did as soon as the lists are drawn, not
      // after the calendar's own round trip.
      calendar.reload().catch((err) => fail(pageError, err));
    } catch (err) {
      fail(pageError, err);
    }
  }

  // A year whose holidays are not loaded (from 60 days before it starts): docs/clocks.md.
  function renderCalendarWarnings(status) {
    const box = $('#calendar-warnings');
    if (!box) return;
    const warnings = status?.warnings || [];
    box.replaceChildren(...warnings.map((w) => h('p', { 'data-testid': 'calendar-warning', 'data-year': String(w.year) },
      t('calendar.warning.calendar_year_missing', { year: w.year, days: Math.max(0, w.starts_in_days) }),
      w.allow_unloaded ? [' ', t('calendar.warning.allowed', { year: w.year })] : null)));
    box.hidden = warnings.length === 0;
  }

  function courtName(id) {
    return state.courts.find((c) => c.id === id)?.name || '';
  }

  function render() {
    renderUsers();
    renderCourts();
    renderForms();
  }

  // ---- users ----
  function stateText(u) {
    if (u.disabled) return t('admin.users.disabled');
    if (u.locked_until) return t('admin.users.locked', { until: formatDateTime(u.locked_until) });
    return t('admin.users.active');
  }

  function renderUsers() {
    const rows = state.users.map((u) => {
      const self = u.id === user.id;
      const roleSelect = h('select', {
        'data-testid': 'user-role',
        'aria-label': t('admin.users.roleOf', { name: u.display_name }),
        disabled: self,
        onchange: (e) => update(u, { role: e.target.value }, e.target),
      }, ROLES.map((r) => h('option', { value: r, selected: r === u.role }, tEnum('role.staff', r))));
      const toggle = h('button', {
        type: 'button',
        class: u.disabled ? 'secondary small' : 'danger small',
        'data-testid': 'user-toggle',
        disabled: self,
        'aria-label': t(u.disabled ? 'admin.users.enableLabel' : 'admin.users.disableLabel', { name: u.display_name }),
        onclick: (e) => update(u, { disabled: !u.disabled }, e.target),
      }, t(u.disabled ? 'admin.users.enable' : 'admin.users.disable'));
      const reset = h('button', {
        type: 'button',
        class: 'secondary small',
        'data-testid': 'user-reset',
        'aria-label': t('admin.users.resetLabel', { name: u.display_name }),
        onclick: () => resetPassword(u),
      }, t('admin.users.reset'));
      const unlock = u.locked_until ? h('button', {
        type: 'button',
        class: 'secondary small',
        'data-testid': 'user-unlock',
        'aria-label': t('admin.users.unlockLabel', { name: u.display_name }),
        onclick: () => unlockUser(u),
      }, t('admin.users.unlock')) : null;
      return h('tr', { 'data-testid': 'user-row', 'data-username': u.username, 'data-user-id': u.id },
        h('th', { scope: 'row' }, u.username),
        h('td', {}, u.display_name, self ? h('span', { class: 'muted' }, ` (${t('admin.users.you')})`) : null),
        h('td', {}, u.court.name),
        h('td', {}, roleSelect),
        h('td', { 'data-testid': 'user-state' }, stateText(u)),
        h('td', {}, h('div', { class: 'button-row' }, toggle, reset, unlock)));
    });
    $('#user-rows').replaceChildren(...rows);
  }

  async function update(u, change, control) {
    clearError(pageError);
    control.disabled = true;
    try {
      const updated = await call(`/admin/users/${u.id}`, { method: 'PATCH', body: change });
      Object.assign(u, updated);
      if ('disabled' in change) done(updated.disabled ? 'admin.done.disabled' : 'admin.done.enabled', { name: u.display_name });
      else done('admin.done.role', { name: u.display_name, role: tEnum('role.staff', updated.role) });
    } catch (err) {
      fail(pageError, err);
    } finally {
      renderUsers();
      // The table was drawn afresh: keep the keyboard on the same control of the same row.
      const row = document.querySelector(`tr[data-user-id="${u.id}"]`);
      const again = row?.querySelector(`[data-testid="${control.dataset.testid}"]`);
      if (again) again.focus();
    }
  }

  async function unlockUser(u) {
    clearError(pageError);
    try {
      await call(`/admin/users/${u.id}/unlock`, { method: 'POST' });
      u.locked_until = null;
      done('admin.done.unlocked', { name: u.display_name });
      renderUsers();
    } catch (err) {
      fail(pageError, err);
    }
  }

  function resetPassword(u) {
    askText({
      heading: t('admin.reset.heading', { name: u.display_name, username: u.username }),
      label: t('admin.reset.label'),
      hint: t('admin.password.hint'),
      type: 'password',
      submitText: t('admin.reset.submit'),
      check: (value) => (value.length < MIN_PASSWORD_CHARS ? 'admin.password.short' : null),
      submit: (value) => call(`/admin/users/${u.id}/password`, { method: 'POST', body: { password: value } }),
    }).then((ok) => {
      if (!ok) return;
      u.locked_until = null;
      renderUsers();
      done('admin.done.reset', { name: u.display_name });
    });
  }

  // ---- courts and rooms ----
  function roomItem(court, room, kind) {
    return h('li', { class: 'room-item', 'data-testid': 'room-item', 'data-room-kind': kind },
      h('span', {}, room.name), ' ',
      h('button', {
        type: 'button',
        class: 'secondary small',
        'aria-label': t('admin.rooms.renameLabel', { name: room.name }),
        onclick: () => askText({
          heading: t('admin.rooms.renameHeading', { court: court.name }),
          label: t('admin.rooms.name'),
          value: room.name,
          submitText: t('admin.rename.submit'),
          submit: (name) => call(`/admin/rooms/${kind}/${room.id}`, { method: 'PATCH', body: { name } }),
        }).then((ok) => ok && load().then(() => done('admin.done.renamed'))),
      }, t('admin.rename')));
  }

  function roomForm(court) {
    const id = `room-${court.id}`;
    const error = h('div', { class: 'alert', role: 'alert', hidden: true });
    const kinds = court.level === 'basic' ? ['local'] : ['host', 'local'];
    const kind = h('select', { id: `${id}-kind`, 'data-testid': 'room-kind' },
      kinds.map((k) => h('option', { value: k }, t(`admin.rooms.kind.${k}`))));
    const name = h('input', { id: `${id}-name`, 'data-testid': 'room-name', autocomplete: 'off' });
    const form = h('form', { class: 'inline-form room-form', novalidate: true, 'data-testid': 'room-form' },
      h('label', { for: `${id}-kind` }, t('admin.rooms.kind')), kind,
      h('label', { for: `${id}-name` }, t('admin.rooms.name')), name,
      h('button', { type: 'submit', class: 'secondary', 'data-testid': 'room-add' }, t('admin.rooms.add')),
      error);
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      clearError(error);
      if (!name.value.trim()) {
        showMessage(error, 'admin.missing.name', 'admin.missing.next');
        name.focus();
        return;
      }
      try {
        await call(`/admin/courts/${court.id}/rooms`, { method: 'POST', body: { kind: kind.value, name: name.value.trim() } });
        const added = name.value.trim();
        await load();
        done('admin.done.roomAdded', { name: added, court: court.name });
      } catch (err) {
        fail(error, err);
        name.focus();
      }
    });
    return form;
  }

  function renderCourts() {
    $('#court-list').replaceChildren(...state.courts.map((c) => h('li', {
      class: 'card court-item', 'data-testid': 'court-item', 'data-court-id': c.id, 'data-court-name': c.name,
    },
    h('div', { class: 'panel-head' },
      h('h3', {}, c.name, ' ', h('span', { class: 'badge' }, tEnum('court.level', c.level))),
      h('button', {
        type: 'button',
        class: 'secondary small',
        'aria-label': t('admin.courts.renameLabel', { name: c.name }),
        onclick: () => askText({
          heading: t('admin.courts.renameHeading'),
          label: t('admin.newCourt.name'),
          value: c.name,
          submitText: t('admin.rename.submit'),
          submit: (name) => call(`/admin/courts/${c.id}`, { method: 'PATCH', body: { name } }),
        }).then((ok) => ok && load().then(() => done('admin.done.renamed'))),
      }, t('admin.rename'))),
    c.parent_id && courtName(c.parent_id) ? h('p', { class: 'muted' }, t('admin.courts.below', { parent: courtName(c.parent_id) })) : null,
    c.level !== 'basic' ? [
      h('p', { class: 'label' }, t('admin.rooms.kind.host')),
      c.host_rooms.length
        ? h('ul', { class: 'room-list' }, c.host_rooms.map((r) => roomItem(c, r, 'host')))
        : h('p', { class: 'empty' }, t('admin.rooms.none')),
    ] : null,
    h('p', { class: 'label' }, t('admin.rooms.kind.local')),
    c.local_rooms.length
      ? h('ul', { class: 'room-list' }, c.local_rooms.map((r) => roomItem(c, r, 'local')))
      : h('p', { class: 'empty' }, t('admin.rooms.none')),
    roomForm(c))));
  }

  // ---- the two creation forms ----
  function keep(select, build) {
    const before = select.value;
    select.replaceChildren(...build());
    if ([...select.options].some((o) => o.value === before)) select.value = before;
  }

  function renderForms() {
    keep($('#new-user-court'), () => state.courts.map((c) => h('option', { value: c.id }, c.name)));
    keep($('#new-user-role'), () => ROLES.map((r) => h('option', { value: r }, tEnum('role.staff', r))));
    keep($('#new-court-parent'), () => state.courts.filter((c) => c.level !== 'basic')
      .map((c) => h('option', { value: c.id }, c.name)));
    renderLevels();
  }

  function renderLevels() {
    const parent = state.courts.find((c) => String(c.id) === $('#new-court-parent').value);
    const below = parent ? LEVELS.slice(LEVELS.indexOf(parent.level) + 1) : [];
    keep($('#new-court-level'), () => below.map((l) => h('option', { value: l }, tEnum('court.level', l))));
  }
  $('#new-court-parent').addEventListener('change', renderLevels);

  $('#user-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    const box = $('#user-form-error');
    clearError(box);
    const username = $('#new-user-username');
    const name = $('#new-user-name');
    const password = $('#new-user-password');
    if (!/^[A-Za-z0-9._-]{3,64}$/.test(username.value.trim())) {
      showMessage(box, 'admin.newUser.badUsername', 'admin.newUser.usernameHint');
      username.focus();
      return;
    }
    if (!name.value.trim()) {
      showMessage(box, 'admin.missing.name', 'admin.missing.next');
      name.focus();
      return;
    }
    if (password.value.length < MIN_PASSWORD_CHARS) {
      showMessage(box, 'admin.password.short', 'admin.password.hint');
      password.focus();
      return;
    }
    const submit = $('#new-user-submit');
    submit.disabled = true;
    try {
      const created = await call('/admin/users', {
        method: 'POST',
        body: {
          court_id: Number($('#new-user-court').value),
          username: username.value.trim(),
          display_name: name.value.trim(),
          role: $('#new-user-role').value,
          password: password.value,
        },
      });
      username.value = '';
      name.value = '';
      password.value = '';
      await load();
      done('admin.done.userCreated', { name: created.display_name, username: created.username });
    } catch (err) {
      fail(box, err);
      if (err instanceof ApiError && err.code === 'username_taken') username.focus();
    } finally {
      submit.disabled = false;
    }
  });

  $('#court-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    const box = $('#court-form-error');
    clearError(box);
    const name = $('#new-court-name');
    if (!name.value.trim()) {
      showMessage(box, 'admin.missing.name', 'admin.missing.next');
      name.focus();
      return;
    }
    const submit = $('#new-court-submit');
    submit.disabled = true;
    try {
      const created = await call('/admin/courts', {
        method: 'POST',
        body: { name: name.value.trim(), level: $('#new-court-level').value, parent_id: Number($('#new-court-parent').value) },
      });
      name.value = '';
      await load();
      done('admin.done.courtCreated', { name: created.name });
    } catch (err) {
      fail(box, err);
      name.focus();
    } finally {
      submit.disabled = false;
    }
  });

  $('#users-refresh').addEventListener('click', load);

  /**
   * A small dialog with one text field. `submit(value)` is awaited: an error is shown in the
   * dialog, which stays open; resolves true once it succeeded, false when cancelled.
   */
  function askText({ heading, label, hint, value = '', type = 'text', submitText, check, submit }) {
    return new Promise((resolve) => {
      const opener = document.activeElement;
      const error = h('div', { class: 'alert', role: 'alert', hidden: true, 'data-testid': 'dialog-error' });
      const input = h('input', {
        id: 'ask-input', 'data-testid': 'dialog-input', type, value, autocomplete: type === 'password' ? 'new-password' : 'off',
        'aria-describedby': hint ? 'ask-hint' : null,
      });
      const ok = h('button', { type: 'submit', class: 'primary', 'data-testid': 'dialog-submit' }, submitText);
      const cancel = h('button', { type: 'button', class: 'secondary' }, t('admin.cancel'));
      const form = h('form', { method: 'dialog', class: 'stack', novalidate: true },
        h('h2', { id: 'ask-heading' }, heading),
        h('div', { class: 'field' }, h('label', { for: 'ask-input' }, label), input,
          hint ? h('p', { class: 'hint', id: 'ask-hint' }, hint) : null),
        error,
        h('div', { class: 'button-row' }, ok, cancel));
      const dialog = h('dialog', { class: 'reauth', 'data-testid': 'admin-dialog', 'aria-labelledby': 'ask-heading' }, form);
      document.body.append(dialog);
      const finish = (result) => {
        dialog.close();
        dialog.remove();
        if (opener && opener.isConnected) opener.focus();
        resolve(result);
      };
      cancel.addEventListener('click', () => finish(false));
      dialog.addEventListener('cancel', (e) => {
        e.preventDefault();
        finish(false);
      });
      form.addEventListener('submit', async (e) => {
        e.preventDefault();
        clearError(error);
        const text = type === 'password' ? input.value : input.value.trim();
        const problem = !text ? 'admin.missing.name' : check?.(text);
        if (problem) {
          showMessage(error, problem, problem === 'admin.password.short' ? 'admin.password.hint' : 'admin.missing.next');
          input.focus();
          return;
        }
        ok.disabled = true;
        try {
          await submit(text);
          finish(true);
        } catch (err) {
          if (handleAuthError(err)) return;
          showError(error, err, 'admin');
          input.focus();
        } finally {
          ok.disabled = false;
        }
      });
      dialog.showModal();
      input.focus();
    });
  }

  onLangChange(() => {
    rerenderHeader();
    render();
    calendar?.render();
    if (calendarStatus) renderCalendarWarnings(calendarStatus);
  });
  load();
}
