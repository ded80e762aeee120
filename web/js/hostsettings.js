// 本院接访设置 (issue 18 item 12): a host court's own booking rules, kept by its administrator on
// the admin page (docs/scheduling.md): how far ahead slots are published, the notice a booking
// needs, whether applications are approved at once or reviewed, the weekly share of one local
// court and the petitioner's limit. Saved with the If-Match of the settings as read, so that two
// administrators do not overwrite each other unseen; refusals are shown in words. Mounts itself
// into #host-settings-panel.
import { t, onLangChange } from './i18n.js';
import { apiWithEtag, staffSession } from './api.js';
import { h, showError, showMessage, clearError, handleAuthError, announce, withReauth } from './ui.js';

const NUMBERS = [
  { key: 'horizon_days', min: 1, max: 180 },
  { key: 'min_notice_hours', min: 0, max: 720 },
  { key: 'weekly_limit_per_local_court', min: 1, max: 1000, optional: true },
  { key: 'active_limit_per_petitioner', min: 1, max: 100 },
];

function mount(panel) {
  const session = staffSession.get();
  const user = session?.user;
  if (!user || user.role !== 'admin' || !user.court?.id) return;
  const courtId = user.court.id;
  const state = { settings: null, etag: null };

  const heading = h('h2', { id: 'host-settings-heading' });
  const hint = h('p', { class: 'hint' });
  const error = h('div', { class: 'alert', role: 'alert', hidden: true, 'data-testid': 'host-settings-error' });
  const status = h('p', { class: 'hint', role: 'status', 'data-testid': 'host-settings-state' });
  const inputs = {};
  const labels = {};
  const hints = {};
  const fields = NUMBERS.map(({ key, min, max }) => {
    inputs[key] = h('input', {
      id: `hs-${key}`, 'data-testid': `hs-${key}`, type: 'number', inputmode: 'numeric', min: String(min), max: String(max), step: '1',
      class: 'days-input', 'aria-describedby': `hs-${key}-hint`,
    });
    labels[key] = h('label', { for: `hs-${key}` });
    hints[key] = h('p', { class: 'hint', id: `hs-${key}-hint` });
    return h('div', { class: 'field' }, labels[key], inputs[key], hints[key]);
  });
  const approval = {
    review: h('input', { type: 'radio', name: 'hs-approval', id: 'hs-review', value: 'review', 'data-testid': 'hs-review' }),
    auto: h('input', { type: 'radio', name: 'hs-approval', id: 'hs-auto', value: 'auto', 'data-testid': 'hs-auto' }),
  };
  const approvalLegend = h('legend');
  const approvalLabels = { review: h('label', { for: 'hs-review' }), auto: h('label', { for: 'hs-auto' }) };
  const submit = h('button', { type: 'submit', class: 'primary', 'data-testid': 'hs-save' });
  const form = h('form', { class: 'card stack', novalidate: true, 'data-testid': 'host-settings-form', 'aria-labelledby': 'host-settings-heading' },
    h('fieldset', { class: 'stack' }, approvalLegend,
      h('div', { class: 'check' }, approval.review, approvalLabels.review),
      h('div', { class: 'check' }, approval.auto, approvalLabels.auto)),
    ...fields, error, status, submit);
  panel.setAttribute('aria-labelledby', 'host-settings-heading');
  panel.replaceChildren(heading, hint, form);

  function fill() {
    const s = state.settings;
    if (!s) return;
    for (const { key } of NUMBERS) inputs[key].value = s[key] == null ? '' : String(s[key]);
    approval.auto.checked = Boolean(s.auto_approve);
    approval.review.checked = !s.auto_approve;
  }

  function render() {
    heading.textContent = t('hostSettings.heading');
    hint.textContent = t('hostSettings.hint');
    approvalLegend.textContent = t('hostSettings.approval');
    approvalLabels.review.textContent = t('hostSettings.approval.review');
    approvalLabels.auto.textContent = t('hostSettings.approval.auto');
    for (const { key, min, max } of NUMBERS) {
      labels[key].textContent = t(`hostSettings.${key}`);
      hints[key].textContent = t(`hostSettings.${key}.hint`, { min, max });
    }
    submit.textContent = t('hostSettings.save');
  }

  async function load() {
    clearError(error);
    try {
      const { body, etag } = await apiWithEtag(`/host-courts/${encodeURIComponent(courtId)}/settings`);
      state.settings = body;
      state.etag = etag;
      fill();
    } catch (err) {
      if (!handleAuthError(err)) showError(error, err);
    }
  }

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearError(error);
    status.textContent = '';
    const body = { auto_approve: approval.auto.checked };
    for (const { key, min, max, optional } of NUMBERS) {
      const raw = inputs[key].value.trim();
      if (raw === '' && optional) {
        body[key] = null;
        continue;
      }
      const n = Number(raw);
      if (raw === '' || !Number.isInteger(n) || n < min || n > max) {
        showMessage(error, 'hostSettings.range', null, { field: t(`hostSettings.${key}`), min, max });
        inputs[key].focus();
        return;
      }
      body[key] = n;
    }
    submit.disabled = true;
    try {
      const saved = await withReauth(user, () => apiWithEtag(`/host-courts/${encodeURIComponent(courtId)}/settings`, {
        method: 'PUT', body, headers: { 'If-Match': state.etag || '"v0"' },
      }));
      state.settings = saved.body;
      state.etag = saved.etag;
      fill();
      status.textContent = t('hostSettings.saved');
      announce(t('hostSettings.saved'));
    } catch (err) {
      if (handleAuthError(err)) return;
      showError(error, err);
      // Changed by someone else meanwhile: show what is on record now, to decide again.
      if (err.status === 412) await load();
    } finally {
      submit.disabled = false;
    }
  });

  onLangChange(render);
  render();
  load();
}

const panel = document.getElementById('host-settings-panel');
if (panel) mount(panel);
