// The court's directory (docs/ledger.md, "Directories"): its contact person (联系人) and its
// technical-support person (技术保障人员), each a name and a phone number, shown on bookings,
// appointment notices and failed connectivity tests. The court's own coordinator (or
// administrator) keeps it here. Mounts itself into #directory-panel on the pages that have one.
// Also: `contactsLines(contacts)`, the directories of a booking's courts as list lines.
import { t, onLangChange } from './i18n.js';
import { api, staffSession } from './api.js';
import { h, showError, showMessage, clearError, handleAuthError, announce, withReauth } from './ui.js';

function personText(p) {
  return p ? `${p.name} ${p.phone}` : t('directory.none');
}

/** One line per court of a booking: "court — 联系人 name phone；技术保障 name phone". */
export function contactsLines(contacts) {
  if (!Array.isArray(contacts) || !contacts.length) return null;
  return h('div', { class: 'contacts', 'data-testid': 'booking-contacts' }, contacts.map((d) => h('p', {
    class: 'hint', 'data-testid': 'booking-contact', 'data-court-id': d.court_id,
  }, t('directory.line', {
    court: d.court_name, contact: personText(d.contact), tech: personText(d.tech_support),
  }))));
}

function mount(panel) {
  const session = staffSession.get();
  const user = session?.user;
  const court = user?.court?.id;
  if (!court) return;
  const canEdit = user.role === 'coordinator' || user.role === 'admin';
  let current = null;
  const fields = {};
  const input = (key, props) => {
    const el = h('input', { type: 'text', id: `directory-${key}`, 'data-testid': `directory-${key}`, autocomplete: 'off', ...props });
    fields[key] = el;
    return el;
  };
  const heading = h('h2', { id: 'directory-heading' });
  const hint = h('p', { class: 'hint', id: 'directory-hint' });
  const error = h('div', { class: 'alert', role: 'alert', hidden: true, 'data-testid': 'directory-error' });
  const saved = h('p', { class: 'hint', 'data-testid': 'directory-state', role: 'status' });
  const submit = h('button', { type: 'submit', class: 'primary', 'data-testid': 'directory-save' });
  const labels = {};
  const field = (key, props) => {
    labels[key] = h('label', { for: `directory-${key}` });
    return h('div', { class: 'field' }, labels[key], input(key, props));
  };
  const legends = { contact: h('legend'), tech: h('legend') };
  const form = h('form', { class: 'stack', 'data-testid': 'directory-form', novalidate: true, 'aria-describedby': 'directory-hint' },
    h('fieldset', {}, legends.contact,
      field('contact-name', { maxlength: '50' }),
      field('contact-phone', { maxlength: '30', inputmode: 'tel' })),
    h('fieldset', {}, legends.tech,
      field('tech-name', { maxlength: '50' }),
      field('tech-phone', { maxlength: '30', inputmode: 'tel' })),
    error, saved, canEdit ? submit : null);
  panel.setAttribute('aria-labelledby', 'directory-heading');
  panel.replaceChildren(heading, hint, form);
  if (!canEdit) for (const el of Object.values(fields)) el.readOnly = true;

  function words() {
    heading.textContent = t('directory.heading');
    hint.textContent = t('directory.hint');
    legends.contact.textContent = t('directory.contact');
    legends.tech.textContent = t('directory.tech');
    labels['contact-name'].textContent = t('directory.name');
    labels['contact-phone'].textContent = t('directory.phone');
    labels['tech-name'].textContent = t('directory.name');
    labels['tech-phone'].textContent = t('directory.phone');
    submit.textContent = t('directory.save');
    saved.textContent = current?.updated_at && current.source === 'directory'
      ? t('directory.saved') : (current?.source === 'campaign' ? t('directory.fromCampaign') : '');
  }

  function fill(d) {
    current = d;
    fields['contact-name'].value = d.contact?.name || '';
    fields['contact-phone'].value = d.contact?.phone || '';
    fields['tech-name'].value = d.tech_support?.name || '';
    fields['tech-phone'].value = d.tech_support?.phone || '';
    words();
  }

  async function load() {
    try {
      fill(await api(`/courts/${encodeURIComponent(court)}/directory`));
    } catch (err) {
      if (!handleAuthError(err)) showError(error, err);
    }
  }

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearError(error);
    const person = (name, phone) => {
      const n = fields[name].value.trim();
      const p = fields[phone].value.trim();
      if (!n && !p) return null;
      return { name: n, phone: p };
    };
    const contact = person('contact-name', 'contact-phone');
    const tech = person('tech-name', 'tech-phone');
    for (const [p, nameKey, phoneKey] of [[contact, 'contact-name', 'contact-phone'], [tech, 'tech-name', 'tech-phone']]) {
      if (p && (!p.name || !p.phone)) {
        showMessage(error, 'directory.both');
        fields[p.name ? phoneKey : nameKey].focus();
        return;
      }
    }
    submit.disabled = true;
    try {
      const d = await withReauth(user, () => api(`/courts/${encodeURIComponent(court)}/directory`, {
        method: 'PUT', body: { contact, tech_support: tech },
      }));
      fill(d);
      announce(t('directory.saved'));
    } catch (err) {
      if (!handleAuthError(err)) showError(error, err);
    } finally {
      submit.disabled = false;
    }
  });
  onLangChange(words);
  words();
  load();
}

const panel = document.getElementById('directory-panel');
if (panel) mount(panel);
