// notice.html#booking=<id>: the appointment notice (预约通知书) a coordinator prints for the
// petitioner: time and place, the host court, what to bring, the join code and its QR code.
// The code the petitioner already holds comes with the notice (the server keeps it sealed), so
// printing again never changes it. A new code is a deliberate, confirmed step (the previous code
// stops working at once). The code stays in this page's memory only and is drawn here
// (js/qr.js), never sent anywhere in a URL.
import { t, getLang, onLangChange } from './i18n.js';
import { api } from './api.js';
import { $, startPage, requireStaff, showError, showMessage, clearError, handleAuthError, announce } from './ui.js';
import { encode, toSvg } from './qr.js';

startPage();
const session = requireStaff(['coordinator']);

const state = { notice: null, booking: null, code: null };
const errorBox = $('#notice-error');

function bookingId() {
  const params = new URLSearchParams(location.hash.replace(/^#/, ''));
  const id = Number(params.get('booking'));
  return Number.isInteger(id) && id > 0 ? id : null;
}

function weekday(isoDate) {
  const locale = getLang() === 'en' ? 'en-GB' : 'zh-CN';
  return new Intl.DateTimeFormat(locale, { weekday: 'long', timeZone: 'UTC' })
    .format(new Date(`${isoDate}T00:00:00Z`));
}

function longDate(isoDate) {
  const [year, month, day] = isoDate.split('-').map(Number);
  return t('notice.date', { year, month, day, weekday: weekday(isoDate) });
}

function render() {
  const n = state.notice;
  if (!n) return;
  $('#notice-court').textContent = n.local_court_name;
  $('#notice-greeting').textContent = t('notice.greeting', { name: n.petitioner_name });
  $('#notice-case').textContent = n.case_number;
  $('#notice-time').textContent = t('notice.time.value', {
    date: longDate(n.local_date), start: n.local_start, end: n.local_end,
  });
  $('#notice-place').textContent = t('notice.place.value', { court: n.local_court_name, room: n.local_room_name });
  $('#notice-host').textContent = t('notice.host.value', { court: n.host_court_name, room: n.host_room_name });
  // Whom the petitioner calls: the local court's contact and technical-support persons.
  const people = [
    n.local_contacts?.contact ? t('notice.contacts.contact', n.local_contacts.contact) : null,
    n.local_contacts?.tech_support ? t('notice.contacts.tech', n.local_contacts.tech_support) : null,
  ].filter(Boolean);
  $('#notice-contacts').textContent = people.length ? people.join('；') : t('notice.contacts.none');
  const today = new Intl.DateTimeFormat('en-CA', { timeZone: 'Asia/Shanghai' }).format(new Date());
  const [year, month, day] = today.split('-').map(Number);
  $('#notice-issued').textContent = t('notice.issued', { court: n.local_court_name, year, month, day });
  if (state.code) {
    $('#notice-code').textContent = state.code.join_code;
    const link = `${location.origin}${state.code.join_path}`;
    $('#notice-link').textContent = link;
    const figure = $('#notice-qr');
    // The SVG is built from our own markup only (no text from the server inside it).
    figure.innerHTML = toSvg(encode(link), { scale: 4, label: t('notice.qr.label') });
  } else {
    $('#notice-code').textContent = t('notice.code.none');
    $('#notice-link').textContent = '';
    $('#notice-qr').replaceChildren();
  }
  $('#notice').hidden = false;
}

async function load(id) {
  try {
    const [notice, booking] = await Promise.all([
      api(`/bookings/${id}/notice`),
      api(`/bookings/${id}`),
    ]);
    state.notice = notice;
    state.booking = booking;
    state.code = notice.join_code ? { join_code: notice.join_code, join_path: notice.join_path } : null;
    if (booking.status === 'cancelled') {
      showMessage(errorBox, 'notice.cancelled', 'notice.cancelled.next');
      $('#notice-controls').hidden = true;
    } else {
      $('#notice-controls').hidden = false;
    }
    render();
    renderControls();
  } catch (err) {
    if (!handleAuthError(err)) showError(errorBox, err);
  }
}

// With a code: print is the one main action; a new code is for a lost or leaked one, and asks
// first. Without one (issued before codes were kept): issue it, then print.
function renderControls(confirming = false) {
  const has = Boolean(state.code);
  $('#print-notice').disabled = !has;
  $('#print-notice').className = has ? 'primary' : 'secondary';
  const issueButton = $('#issue-code');
  issueButton.className = has ? 'secondary' : 'primary';
  issueButton.dataset.i18n = has ? 'notice.reissue' : 'notice.issue';
  issueButton.textContent = t(issueButton.dataset.i18n);
  issueButton.hidden = confirming;
  const hint = $('#notice-hint');
  hint.dataset.i18n = has ? 'notice.print.hint' : 'notice.issue.hint';
  hint.textContent = t(hint.dataset.i18n);
  $('#reissue-confirm').hidden = !confirming;
  if (confirming) $('#reissue-yes').focus();
}

async function issue(id) {
  const button = $('#reissue-yes');
  button.disabled = true;
  clearError(errorBox);
  try {
    state.code = await api(`/bookings/${id}/join-code`, { method: 'POST', body: {} });
    render();
    renderControls();
    $('#print-notice').focus();
    announce(t('notice.issued.status'));
  } catch (err) {
    if (!handleAuthError(err)) showError(errorBox, err);
  } finally {
    button.disabled = false;
  }
}

if (session) {
  const id = bookingId();
  if (id === null) {
    showMessage(errorBox, 'notice.missing', 'notice.missing.next');
  } else {
    $('#issue-code').addEventListener('click', () => (state.code ? renderControls(true) : issue(id)));
    $('#reissue-yes').addEventListener('click', () => issue(id));
    $('#reissue-no').addEventListener('click', () => { renderControls(); $('#issue-code').focus(); });
    $('#print-notice').addEventListener('click', () => window.print());
    onLangChange(() => { render(); renderControls(!$('#reissue-confirm').hidden); });
    load(id);
  }
}
