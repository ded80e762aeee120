// notice.html#booking=<id>: the appointment notice (预约通知书) a coordinator prints for the
// petitioner: time and place, the host court, what to bring, the join code and its QR code.
// Issuing the code is a deliberate step (the previous code stops working); the code stays in
// this page's memory only and is drawn here (js/qr.js), never sent anywhere in a URL.
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
    if (booking.status === 'cancelled') {
      showMessage(errorBox, 'notice.cancelled', 'notice.cancelled.next');
      $('#notice-controls').hidden = true;
    } else {
      $('#notice-controls').hidden = false;
    }
    render();
  } catch (err) {
    if (!handleAuthError(err)) showError(errorBox, err);
  }
}

async function issue(id) {
  const button = $('#issue-code');
  button.disabled = true;
  clearError(errorBox);
  try {
    state.code = await api(`/bookings/${id}/join-code`, { method: 'POST', body: {} });
    render();
    $('#print-notice').disabled = false;
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
    $('#issue-code').addEventListener('click', () => issue(id));
    $('#print-notice').addEventListener('click', () => window.print());
    onLangChange(render);
    load(id);
  }
}
