// The case file (docs/ledger.md): attachments (the local court uploads PDFs and images; the
// server reads their type from the content), and the file as the host officer reads it before
// and during the session — summary, the original case, earlier contacts and outcomes, and the
// attachments. Every download is audited by the server.
import { t, tEnum, formatDateTime } from './i18n.js';
import { api, staffSession } from './api.js';
import { h, filePicker, showError, showMessage, clearError, handleAuthError, announce, withReauth } from './ui.js';

let seq = 0;

function sizeText(bytes) {
  const n = Number(bytes) || 0;
  if (n >= 1024 * 1024) return `${(n / (1024 * 1024)).toFixed(1)} MB`;
  if (n >= 1024) return `${Math.round(n / 1024)} KB`;
  return t('casefile.attachments.bytes', { n });
}

/** Downloads one attachment with the staff token (never in a URL) and saves it under its name. */
async function download(caseId, a, errorBox) {
  clearError(errorBox);
  const token = staffSession.get()?.token;
  try {
    const response = await fetch(`/api/v1/cases/${encodeURIComponent(caseId)}/attachments/${encodeURIComponent(a.id)}`, {
      headers: token ? { Authorization: `Bearer ${token}` } : {}, cache: 'no-store',
    });
    if (!response.ok) {
      const body = await response.json().catch(() => ({}));
      const err = new Error(body.message || String(response.status));
      err.code = body.code;
      throw err;
    }
    const url = URL.createObjectURL(await response.blob());
    const link = h('a', { href: url, download: a.file_name });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 1000);
    announce(t('casefile.downloaded', { name: a.file_name }));
  } catch (err) {
    if (err.code) showMessage(errorBox, `error.${err.code}`, `error.${err.code}.next`);
    else showError(errorBox, err);
  }
}

/** The list of a case's attachments, each with a download button. */
export function attachmentList(c) {
  const list = c.attachments || [];
  const errorBox = h('div', { class: 'alert', role: 'alert', hidden: true, 'data-testid': 'attachment-error' });
  if (!list.length) return h('div', {}, h('p', { class: 'empty', 'data-testid': 'attachments-none' }, t('casefile.attachments.none')), errorBox);
  return h('div', {},
    h('ul', { class: 'attachment-list', 'data-testid': 'attachment-list' }, list.map((a) => h('li', {
      'data-testid': 'attachment-item', 'data-attachment-id': a.id, 'data-sha256': a.sha256,
    },
    h('span', { class: 'attachment-name' }, a.file_name), ' ',
    h('span', { class: 'hint' }, t('casefile.attachments.line', {
      type: tEnum('mediaType', a.media_type), size: sizeText(a.size_bytes), at: formatDateTime(a.uploaded_at), by: a.uploaded_by_name,
    })), ' ',
    h('button', {
      type: 'button', class: 'secondary small', 'data-testid': 'attachment-download',
      'aria-label': t('casefile.attachments.downloadNamed', { name: a.file_name }),
      onclick: () => download(c.id, a, errorBox),
    }, t('casefile.attachments.download'))))),
    errorBox);
}

/** The local court's form to attach a file to case `c`; `onAdded()` reloads the case. */
export function attachmentUpload(c, { user, onAdded }) {
  const id = `attachment-file-${++seq}`;
  const file = h('input', {
    type: 'file', id, 'data-testid': 'attachment-file',
    accept: 'application/pdf,image/jpeg,image/png,image/gif,image/webp,.pdf,.jpg,.jpeg,.png,.gif,.webp',
    'aria-describedby': `${id}-hint`,
  });
  const error = h('div', { class: 'alert', role: 'alert', hidden: true, 'data-testid': 'attachment-upload-error' });
  const submit = h('button', { type: 'submit', class: 'secondary', 'data-testid': 'attachment-submit' }, t('casefile.attachments.upload'));
  const form = h('form', { class: 'stack attachment-form', 'data-testid': 'attachment-form', novalidate: true },
    h('div', { class: 'field' },
      h('label', { for: id }, t('casefile.attachments.file')), filePicker(file),
      h('p', { class: 'hint', id: `${id}-hint` }, t('casefile.attachments.hint'))),
    error, submit);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearError(error);
    const chosen = file.files?.[0];
    if (!chosen) {
      showMessage(error, 'ledger.required', null, { field: t('casefile.attachments.file') });
      file.focus();
      return;
    }
    submit.disabled = true;
    try {
      const added = await withReauth(user, () => api(`/cases/${encodeURIComponent(c.id)}/attachments`, {
        method: 'POST',
        body: chosen,
        headers: { 'Content-Disposition': `attachment; filename*=UTF-8''${encodeURIComponent(chosen.name || '')}` },
      }));
      file.value = '';
      file.dispatchEvent(new Event('change'));
      announce(t('casefile.attachments.added', { name: added.file_name }));
      onAdded(added);
    } catch (err) {
      if (!handleAuthError(err)) showError(error, err);
    } finally {
      submit.disabled = false;
    }
  });
  return form;
}

/** The case's attachments with, for its own court's coordinator, the form to add one. */
export function attachmentsBlock(c, { user, canUpload, onAdded }) {
  return h('section', { class: 'attachments', 'data-testid': 'case-attachments', 'aria-label': t('casefile.attachments.heading') },
    h('h3', { class: 'facts-heading' }, t('casefile.attachments.heading')),
    attachmentList(c),
    canUpload ? attachmentUpload(c, { user, onAdded }) : null);
}

/**
 * The case file as the host officer reads it: the summary and the matter, the original case,
 * the earlier contacts with their outcomes (oldest first), and the attachments.
 */
export function caseFile(c) {
  const row = (key, value, props = {}) => [h('dt', {}, t(key)), h('dd', props, value === '' || value == null ? '—' : value)];
  const original = [c.original_case_number, c.original_court, c.original_case_kind].filter(Boolean).join(' · ');
  const count = c.collective
    ? t('ledger.collective', { count: c.petitioner_count, representative: c.representative || '' })
    : String(c.petitioner_count ?? 1);
  const entries = [...(c.ledger || [])].sort((a, b) => String(a.at).localeCompare(String(b.at)) || (a.id - b.id));
  return h('div', { class: 'case-file stack', 'data-testid': 'case-file', 'data-case-id': c.id },
    h('p', { class: 'case-title' }, h('strong', {}, c.case_number), ' ', c.subject || ''),
    h('dl', { class: 'facts', 'data-testid': 'case-file-facts' },
      row('case.petitioner', c.petitioner_name),
      row('ledger.petitioners', count),
      [h('dt', {}, t('ledger.class')), h('dd', { 'data-class': c.case_class }, tEnum('case.class', c.case_class))],
      row('ledger.original', original, { 'data-testid': 'case-file-original' }),
      row('ledger.matter', c.matter, { 'data-testid': 'case-file-matter' })),
    h('h3', { class: 'facts-heading' }, t('casefile.contacts')),
    entries.length
      ? h('ol', { class: 'case-file-contacts', 'data-testid': 'case-file-contacts' }, entries.map((e) => h('li', {
        'data-testid': 'case-file-contact', 'data-channel': e.channel, 'data-outcome': e.outcome || null,
      },
      h('span', {}, `${formatDateTime(e.at)} · ${tEnum('ledger.channel', e.channel)}`),
      e.outcome ? [' · ', h('strong', {}, tEnum('outcome', e.outcome))] : null,
      e.note ? h('p', { class: 'hint' }, e.note) : null,
      e.corrects ? h('p', { class: 'hint' }, t('ledger.corrects', { reason: e.correction_reason || '' })) : null)))
      : h('p', { class: 'empty' }, t('coord.ledger.none')),
    h('h3', { class: 'facts-heading' }, t('casefile.attachments.heading')),
    attachmentList(c));
}

/** Loads case `caseId` and renders its file into `box` (errors in words). */
export async function showCaseFile(box, caseId) {
  box.replaceChildren(h('p', { class: 'empty' }, t('common.loading')));
  try {
    const c = await api(`/cases/${encodeURIComponent(caseId)}`);
    box.replaceChildren(caseFile(c));
    return c;
  } catch (err) {
    const error = h('div', { class: 'alert', role: 'alert', 'data-testid': 'case-file-error' });
    box.replaceChildren(error);
    if (!handleAuthError(err)) showError(error, err);
    return null;
  }
}
