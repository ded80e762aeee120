// The petition ledger for the coordinator (docs/ledger.md): open a case, with the check for the
// same matter; log a contact or a correction, with a confirm step before an outcome is saved;
// change a case's class with a reason. Forms are plain <form>s: every control has a label, Tab
// moves through them, Enter submits, Escape (Cancel) closes.
import { t, tEnum, formatDateTime, getLang } from './i18n.js';
import { api, staffSession } from './api.js';
import { h, filePicker, showError, showMessage, clearError, handleAuthError, announce, withReauth } from './ui.js';

/** How a case comes in at the local court. */
export const INTAKE_CHANNELS = ['local_visit', 'letter', 'phone', 'online'];
/** What a coordinator logs by hand (video receptions are written by the session). */
export const CONTACT_CHANNELS = ['local_visit', 'letter', 'phone', 'online', 'to_province', 'to_beijing'];

let seq = 0;
const uid = (name) => `ledger-${name}-${++seq}`;

function field(label, control, hint) {
  const id = control.id || uid('f');
  control.id = id;
  const hintId = hint ? `${id}-hint` : null;
  if (hintId) control.setAttribute('aria-describedby', hintId);
  return h('div', { class: 'field' },
    h('label', { for: id }, label), control,
    hint ? h('p', { class: 'hint', id: hintId }, hint) : null);
}

function select(values, prefix, { empty, testid } = {}) {
  return h('select', { 'data-testid': testid },
    empty ? h('option', { value: '' }, empty) : null,
    values.map((v) => h('option', { value: v }, tEnum(prefix, v))));
}

const text = (testid, props = {}) => h('input', { type: 'text', 'data-testid': testid, autocomplete: 'off', ...props });
const optional = (v) => (v.trim() ? v.trim() : undefined);

/**
 * The form to open a case. `isOwnCase(id)` says whether a matching case is one of this court's
 * (then it can be opened instead); `onOpened(detail)` and `onPick(id)` carry on; `onCancel`.
 */
export function openCaseForm({ user, isOwnCase, onOpened, onPick, onCancel }) {
  const number = text('new-case-number', { maxlength: '64', required: true });
  const name = text('new-case-name', { maxlength: '64', required: true });
  const idNumber = text('new-case-id', { maxlength: '18', required: true, inputmode: 'text', spellcheck: 'false' });
  const count = h('input', { type: 'number', min: '1', max: '10000', step: '1', value: '1', 'data-testid': 'new-case-count', inputmode: 'numeric' });
  const representative = text('new-case-representative', { maxlength: '64' });
  const klass = select(['petition', 'litigation'], 'case.class', { testid: 'new-case-class' });
  const originalNumber = text('new-case-original-number', { maxlength: '64' });
  const originalCourt = text('new-case-original-court', { maxlength: '64' });
  const originalKind = text('new-case-original-kind', { maxlength: '32' });
  const channel = select(INTAKE_CHANNELS, 'ledger.channel', { testid: 'new-case-channel' });
  const matter = h('textarea', { rows: '4', maxlength: '4000', 'data-testid': 'new-case-matter', required: true });
  const subject = text('new-case-subject', { maxlength: '200', required: true });
  const error = h('div', { class: 'alert', role: 'alert', 'data-testid': 'new-case-error', hidden: true });
  const matches = h('div', { class: 'card stack', 'data-testid': 'new-case-matches', hidden: true, tabindex: '-1' });
  const submit = h('button', { type: 'submit', class: 'primary', 'data-testid': 'new-case-submit' }, t('ledger.open.submit'));
  const cancel = h('button', { type: 'button', class: 'secondary', onclick: () => onCancel() }, t('ledger.cancel'));

  const form = h('form', { class: 'card stack ledger-form', 'data-testid': 'new-case-form', novalidate: true },
    h('h3', {}, t('ledger.open.heading')),
    h('p', { class: 'hint' }, t('ledger.open.hint')),
    field(t('ledger.open.number'), number),
    field(t('ledger.open.name'), name),
    field(t('ledger.open.idNumber'), idNumber, t('ledger.open.idHint')),
    field(t('ledger.open.count'), count, t('ledger.open.countHint')),
    field(t('ledger.open.representative'), representative),
    field(t('ledger.open.class'), klass, t('ledger.open.classHint')),
    field(t('ledger.open.originalNumber'), originalNumber),
    field(t('ledger.open.originalCourt'), originalCourt),
    field(t('ledger.open.originalKind'), originalKind),
    field(t('ledger.open.channel'), channel),
    field(t('ledger.open.matter'), matter, t('ledger.open.matterHint')),
    field(t('ledger.open.subject'), subject),
    error, matches,
    h('div', { class: 'button-row' }, submit, cancel));
  form.addEventListener('keydown', (e) => {
    if (e.key === 'Escape') {
      e.preventDefault();
      onCancel();
    }
  });

  const body = (confirmNew) => ({
    case_number: number.value.trim(),
    petitioner_name: name.value.trim(),
    petitioner_id_number: idNumber.value.trim(),
    petitioner_count: Number(count.value) || 1,
    representative: optional(representative.value),
    case_class: klass.value,
    original_case_number: optional(originalNumber.value),
    original_court: optional(originalCourt.value),
    original_case_kind: optional(originalKind.value),
    channel: channel.value,
    matter: matter.value.trim(),
    subject: subject.value.trim(),
    confirm_new: confirmNew || undefined,
  });

  async function send(confirmNew) {
    clearError(error);
    for (const [control, key] of [[number, 'ledger.open.number'], [name, 'ledger.open.name'], [idNumber, 'ledger.open.idNumber'],
      [matter, 'ledger.open.matter'], [subject, 'ledger.open.subject']]) {
      if (!control.value.trim()) {
        showMessage(error, 'ledger.required', null, { field: t(key) });
        control.focus();
        return;
      }
    }
    submit.disabled = true;
    try {
      const detail = await withReauth(user, () => api('/cases', { method: 'POST', body: body(confirmNew) }));
      // The number leaves the page once it is stored.
      idNumber.value = '';
      announce(t('ledger.open.done', { number: detail.case_number }));
      onOpened(detail);
    } catch (err) {
      submit.disabled = false;
      if (handleAuthError(err)) return;
      if (err.code === 'possible_duplicate' && Array.isArray(err.body?.matches)) {
        showMatches(err.body.matches);
        return;
      }
      showError(error, err);
    }
  }

  function showMatches(list) {
    matches.hidden = false;
    matches.replaceChildren(
      h('h4', {}, t('ledger.match.heading')),
      h('p', { class: 'hint' }, t('ledger.match.hint')),
      h('ul', { class: 'case-list' }, list.map((m) => h('li', { 'data-testid': 'new-case-match', 'data-case-id': m.id },
        h('span', {}, `${m.case_number} · ${m.court?.name || ''} · ${tEnum('case.status', m.status)} · ${tEnum('case.class', m.case_class)} · ${t(`ledger.match.on.${m.matched_on === 'petitioner' ? 'petitioner' : 'original_case'}`)}`),
        isOwnCase(m.id)
          ? [' ', h('button', { type: 'button', class: 'secondary small', 'data-testid': 'new-case-use', onclick: () => onPick(m.id) }, t('ledger.match.use'))]
          : null))),
      h('button', { type: 'button', class: 'primary', 'data-testid': 'new-case-confirm', onclick: () => send(true) }, t('ledger.match.confirmNew')));
    matches.focus();
  }

  form.addEventListener('submit', (e) => {
    e.preventDefault();
    send(false);
  });
  setTimeout(() => number.focus(), 0);
  return form;
}

/**
 * The form to log a contact on case `c`, or (with `correcting`, an entry) a correction of one.
 * An outcome is shown back for confirmation before it is saved.
 */
export function contactForm(c, { user, outcomes, courtsAbove, correcting, onLogged, onCancel }) {
  const channel = select(CONTACT_CHANNELS, 'ledger.channel', { testid: 'contact-channel' });
  if (correcting && CONTACT_CHANNELS.includes(correcting.channel)) channel.value = correcting.channel;
  const at = h('input', { type: 'datetime-local', 'data-testid': 'contact-at' });
  const receivedBy = text('contact-received-by', { maxlength: '64', placeholder: user.display_name || '' });
  const organ = select(['court', 'provincial_organ', 'central_organ'], 'ledger.organ', { testid: 'contact-organ' });
  const court = h('select', { 'data-testid': 'contact-court' },
    h('option', { value: '' }, t('ledger.contact.ownCourt')),
    (courtsAbove || []).map((x) => h('option', { value: String(x.id) }, x.name)));
  const summary = h('textarea', { rows: '3', maxlength: '2000', 'data-testid': 'contact-summary' });
  if (correcting) summary.value = correcting.note || '';
  const outcome = select(outcomes || [], 'outcome', { empty: t('ledger.contact.noOutcome'), testid: 'contact-outcome' });
  const initiated = h('input', { type: 'checkbox', 'data-testid': 'contact-initiated' });
  const reason = h('textarea', { rows: '2', maxlength: '500', 'data-testid': 'contact-reason' });
  const error = h('div', { class: 'alert', role: 'alert', 'data-testid': 'contact-error', hidden: true });
  const confirmBox = h('div', { class: 'notice', 'data-testid': 'contact-confirm', role: 'status', hidden: true });
  const submit = h('button', { type: 'submit', class: 'primary', 'data-testid': 'contact-submit' }, t('ledger.contact.submit'));
  const cancel = h('button', { type: 'button', class: 'secondary', onclick: () => onCancel() }, t('ledger.cancel'));
  const organField = field(t('ledger.contact.organ'), organ);
  const courtField = field(t('ledger.contact.court'), court, t('ledger.contact.courtHint'));
  let confirming = false;

  const fromAbove = () => channel.value === 'to_province' || channel.value === 'to_beijing';
  function sync() {
    organField.hidden = !fromAbove();
    courtField.hidden = !fromAbove() || organ.value !== 'court';
    if (!fromAbove()) organ.value = 'court';
    confirming = false;
    confirmBox.hidden = true;
    submit.textContent = t('ledger.contact.submit');
  }
  channel.addEventListener('change', sync);
  organ.addEventListener('change', sync);
  outcome.addEventListener('change', sync);

  const form = h('form', { class: 'card stack ledger-form', 'data-testid': 'contact-form', novalidate: true },
    h('h4', {}, correcting ? t('ledger.contact.correctHeading', { at: correcting.at ? formatDateTime(correcting.at) : '' }) : t('ledger.contact.heading')),
    field(t('ledger.channel'), channel),
    field(t('ledger.contact.at'), at, t('ledger.contact.atHint')),
    field(t('ledger.contact.receivedBy'), receivedBy),
    organField, courtField,
    field(t('ledger.contact.summary'), summary),
    field(t('ledger.contact.outcome'), outcome, t('ledger.contact.outcomeHint')),
    h('div', { class: 'field checkbox' }, h('label', {}, initiated, ' ', t('ledger.contact.initiated'))),
    correcting ? field(t('ledger.contact.reason'), reason) : null,
    error, confirmBox,
    h('div', { class: 'button-row' }, submit, cancel));
  form.addEventListener('keydown', (e) => {
    if (e.key === 'Escape') {
      e.preventDefault();
      onCancel();
    }
  });
  sync();

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearError(error);
    if (!summary.value.trim()) {
      showMessage(error, 'ledger.required', null, { field: t('ledger.contact.summary') });
      summary.focus();
      return;
    }
    if (correcting && !reason.value.trim()) {
      showMessage(error, 'ledger.required', null, { field: t('ledger.contact.reason') });
      reason.focus();
      return;
    }
    // An outcome is confirmed before it is saved.
    if (outcome.value && !confirming) {
      confirming = true;
      confirmBox.hidden = false;
      confirmBox.textContent = t('ledger.contact.confirm', { outcome: tEnum('outcome', outcome.value) });
      submit.textContent = t('ledger.contact.confirmSubmit');
      submit.focus();
      return;
    }
    const body = {
      channel: channel.value,
      summary: summary.value.trim(),
      at: at.value ? new Date(at.value).toISOString() : undefined,
      received_by: optional(receivedBy.value),
      outcome: outcome.value || undefined,
      court_initiated: initiated.checked || undefined,
      corrects: correcting ? correcting.id : undefined,
      reason: correcting ? reason.value.trim() : undefined,
    };
    if (fromAbove()) {
      body.receiving_organ = organ.value;
      if (organ.value === 'court' && court.value) body.receiving_court_id = Number(court.value);
    }
    submit.disabled = true;
    try {
      const detail = await withReauth(user, () => api(`/cases/${encodeURIComponent(c.id)}/contacts`, { method: 'POST', body }));
      announce(t(correcting ? 'ledger.contact.corrected' : 'ledger.contact.done'));
      onLogged(detail);
    } catch (err) {
      submit.disabled = false;
      confirming = false;
      confirmBox.hidden = true;
      submit.textContent = t('ledger.contact.submit');
      if (!handleAuthError(err)) showError(error, err);
    }
  });
  setTimeout(() => (correcting ? reason : channel).focus(), 0);
  return form;
}

/** The form to change a case's class (诉访分离), with the reason it needs. */
export function classForm(c, { user, onChanged, onCancel }) {
  const other = c.case_class === 'litigation' ? 'petition' : 'litigation';
  const reason = h('textarea', { rows: '2', maxlength: '500', 'data-testid': 'class-reason' });
  const error = h('div', { class: 'alert', role: 'alert', hidden: true, 'data-testid': 'class-error' });
  const submit = h('button', { type: 'submit', class: 'primary', 'data-testid': 'class-submit' },
    t('ledger.class.submit', { to: tEnum('case.class', other) }));
  const cancel = h('button', { type: 'button', class: 'secondary', onclick: () => onCancel() }, t('ledger.cancel'));
  const form = h('form', { class: 'card stack ledger-form', 'data-testid': 'class-form', novalidate: true },
    h('h4', {}, t('ledger.class.heading')),
    h('p', { class: 'hint' }, t('ledger.class.hint')),
    field(t('ledger.class.reason'), reason),
    error,
    h('div', { class: 'button-row' }, submit, cancel));
  form.addEventListener('keydown', (e) => {
    if (e.key === 'Escape') {
      e.preventDefault();
      onCancel();
    }
  });
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearError(error);
    if (!reason.value.trim()) {
      showMessage(error, 'ledger.required', null, { field: t('ledger.class.reason') });
      reason.focus();
      return;
    }
    submit.disabled = true;
    try {
      const detail = await withReauth(user, () => api(`/cases/${encodeURIComponent(c.id)}/class`, {
        method: 'POST', body: { case_class: other, reason: reason.value.trim() },
      }));
      announce(t('ledger.class.done', { to: tEnum('case.class', other) }));
      onChanged(detail);
    } catch (err) {
      submit.disabled = false;
      if (!handleAuthError(err)) showError(error, err);
    }
  });
  setTimeout(() => reason.focus(), 0);
  return form;
}

/** Downloads an answer of the API (with the staff token) as a file. */
async function download(path, filename) {
  const token = staffSession.get()?.token;
  const response = await fetch(`/api/v1${path}`, { headers: token ? { Authorization: `Bearer ${token}` } : {}, cache: 'no-store' });
  if (!response.ok) throw new Error(`${response.status}`);
  const url = URL.createObjectURL(await response.blob());
  const a = h('a', { href: url, download: filename });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

/**
 * 导入台账: choose a CSV or XLSX file → preview (every row: created, matched with an existing
 * case, or refused, with its row number and reason) → 确认导入 (the same file again, with the
 * preview's plan: nothing is written if the ledger changed in between). docs/ledger.md.
 */
export function importForm({ user, onImported, onCancel }) {
  const file = h('input', { id: uid('import-file'), type: 'file', accept: '.csv,.xlsx,text/csv,application/vnd.openxmlformats-officedocument.spreadsheetml.sheet', 'data-testid': 'import-file' });
  const error = h('div', { class: 'alert', role: 'alert', 'data-testid': 'import-error', hidden: true });
  const result = h('div', { class: 'stack', 'data-testid': 'import-preview', tabindex: '-1', hidden: true });
  const previewButton = h('button', { type: 'submit', class: 'primary', 'data-testid': 'import-preview-submit' }, t('import.preview'));
  const cancel = h('button', { type: 'button', class: 'secondary', onclick: () => onCancel() }, t('import.cancel'));
  const templateButton = (format) => h('button', {
    type: 'button',
    class: 'secondary small',
    'data-testid': `import-template-${format}`,
    onclick: () => download(`/cases/import/template?format=${format}`, `台账导入模板.${format}`).catch((err) => showError(error, err)),
  }, t(`import.template.${format}`));

  const form = h('form', { class: 'card stack ledger-form', 'data-testid': 'import-form', novalidate: true },
    h('h3', {}, t('import.heading')),
    h('p', { class: 'hint' }, t('import.hint')),
    h('div', { class: 'button-row' }, templateButton('csv'), templateButton('xlsx')),
    h('div', { class: 'field' }, h('label', { for: file.id }, t('import.file')), filePicker(file)),
    error, result,
    h('div', { class: 'button-row' }, previewButton, cancel));
  form.addEventListener('keydown', (e) => {
    if (e.key === 'Escape') {
      e.preventDefault();
      onCancel();
    }
  });

  function reasonOf(r) {
    return getLang() === 'en' ? (r.message_en || r.message) : r.message;
  }

  function render(report, chosen) {
    const lines = [
      ...report.created.map((r) => ({ row: r.row, fate: 'created', reason: `${r.case_number} · ${r.petitioner_name} · ${r.petitioner_id_number}` })),
      ...report.matched.map((r) => ({
        row: r.row,
        fate: 'matched',
        reason: r.matches.map((m) => t('import.matchedWith', { number: m.case_number, court: m.court_name })).join('；'),
      })),
      ...report.refused.map((r) => ({ row: r.row, fate: 'refused', reason: reasonOf(r) })),
    ].sort((a, b) => a.row - b.row);
    const confirm = h('button', {
      type: 'button',
      class: 'primary',
      'data-testid': 'import-confirm',
      disabled: report.created.length === 0,
      onclick: () => commit(chosen, report.plan, confirm),
    }, t('import.confirm'));
    result.hidden = false;
    result.replaceChildren(
      h('p', { 'data-testid': 'import-summary' }, t('import.summary', {
        rows: report.rows, created: report.created.length, matched: report.matched.length, refused: report.refused.length,
      })),
      h('table', { class: 'import-table' },
        h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, t('import.row')), h('th', { scope: 'col' }, t('import.fate')), h('th', { scope: 'col' }, t('import.reason')))),
        h('tbody', {}, lines.map((l) => h('tr', { 'data-testid': `import-row-${l.fate}`, 'data-row': String(l.row) },
          h('td', {}, String(l.row)), h('td', {}, t(`import.fate.${l.fate}`)), h('td', {}, l.reason))))),
      confirm);
    result.focus();
  }

  async function commit(chosen, plan, button) {
    clearError(error);
    button.disabled = true;
    try {
      const report = await withReauth(user, () => api(`/cases/import/commit?plan=${encodeURIComponent(plan)}`, { method: 'POST', body: chosen }));
      announce(t('import.done', { created: report.created.length }));
      onImported(report);
    } catch (err) {
      button.disabled = false;
      if (handleAuthError(err)) return;
      showError(error, err);
    }
  }

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearError(error);
    const chosen = file.files?.[0];
    if (!chosen) {
      showMessage(error, 'ledger.required', null, { field: t('import.file') });
      file.focus();
      return;
    }
    previewButton.disabled = true;
    try {
      render(await withReauth(user, () => api('/cases/import/preview', { method: 'POST', body: chosen })), chosen);
    } catch (err) {
      if (!handleAuthError(err)) showError(error, err);
    } finally {
      previewButton.disabled = false;
    }
  });
  setTimeout(() => file.focus(), 0);
  return form;
}
