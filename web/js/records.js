// records.html: what a higher court reads about the sessions of its court and the courts below
// it — statistics with charts (drawn here as SVG, js/charts.js) and their export, and the session
// log with filters and each session's timeline. API: /records/statistics, /records/sessions.
import { t, tEnum, onLangChange, formatDay, formatTimeRange, shanghaiDay } from './i18n.js';
import { api, ApiError, staffSession } from './api.js';
import { $, h, startPage, requireStaff, staffHeader, showError, clearError, handleAuthError, announce, withReauth } from './ui.js';
import { renderTimeline } from './sessions.js';
import { barChart, groupedBars } from './charts.js';
import { mountOverdue, mountExtensionApprovals } from './clocks-ui.js';
import { mountRecordings } from './recplayer.js';

const STATUSES = ['scheduled', 'waiting', 'live', 'interrupted', 'ended', 'no_show', 'cancelled'];
const OUTCOMES = ['explained_law', 'into_procedure', 'review_filed', 'not_within_scope', 'no_longer_accepted', 'concluded', 'judicial_aid', 'assign', 'supervise', 'reception_stopped', 'withdrawn'];
const RATES = [
  ['first_visit_closure', 'records.rate.first_visit_closure'],
  ['satisfaction', 'records.rate.satisfaction'],
  ['repeat', 'records.rate.repeat'],
  ['skip_level', 'records.rate.skip_level'],
  ['collective', 'records.rate.collective'],
];
const FIGURES = [
  ['booked', 'records.fig.booked'],
  ['held', 'records.fig.held'],
  ['held_unconfirmed', 'records.fig.held_unconfirmed'],
  // The recording of held sessions (docs/recording.md): a gap in it, or none kept at all.
  ['held_recording_gap', 'records.fig.held_recording_gap'],
  ['held_unrecorded', 'records.fig.held_unrecorded'],
  ['no_show', 'records.fig.no_show'],
  ['cancelled', 'records.fig.cancelled'],
  ['interrupted', 'records.fig.interrupted'],
  ['hosted', 'records.fig.hosted'],
  ['average_duration_minutes', 'records.fig.average_duration_minutes'],
  ['video_spc', 'records.fig.video_spc'],
  ['video_high', 'records.fig.video_high'],
  ['to_beijing', 'records.fig.to_beijing'],
  ['to_province', 'records.fig.to_province'],
  ['contacts', 'records.fig.contacts'],
  ['petitions', 'records.fig.petitions'],
  ['rated', 'records.fig.rated'],
  ['satisfied', 'records.fig.satisfied'],
];

// A coordinator reads its own court's records (the server's reach: its court, no subtree),
// which is where a session's recordings are played.
const auth = requireStaff(['officer', 'supervisor', 'coordinator']);
if (auth) main(auth);

function addDays(day, n) {
  const d = new Date(`${day}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + n);
  return d.toISOString().slice(0, 10);
}

/** The last day of the month of `day` (YYYY-MM-DD), as the server's default period ends. */
function lastOfMonth(day) {
  const d = new Date(`${day.slice(0, 8)}01T00:00:00Z`);
  d.setUTCMonth(d.getUTCMonth() + 1);
  d.setUTCDate(0);
  return d.toISOString().slice(0, 10);
}

function percent(rate) {
  return rate === null || rate === undefined ? '—' : `${(rate * 100).toFixed(1)}%`;
}

function main({ user }) {
  // The supervisor starts here (login.js), so the link is not "back" but to the day's sessions.
  if (user.role === 'supervisor') $('#back-link').dataset.i18n = 'records.today';
  if (user.role === 'coordinator') Object.assign($('#back-link'), { href: 'coordinator.html' }).dataset.i18n = 'records.backCoord';
  startPage();
  const rerenderHeader = staffHeader(user);
  const roleLabel = () => { $('#role-label').textContent = tEnum('role.staff', user.role); };
  roleLabel();
  const call = (path, options) => withReauth(user, () => api(path, options));

  const today = shanghaiDay();
  const state = {
    courts: [{ id: user.court.id, name: user.court.name }],
    stats: null,
    log: [],
    cursor: null,
    query: '',
    timeline: null,
  };

  function fail(box, err) {
    if (handleAuthError(err)) return;
    showError(box, err, 'records');
  }

  // ---- a supervisor's clocks: extensions to approve (负责人批准) and the overdue list of its
  // court and branch (js/clocks-ui.js); an officer has neither.
  let overdue = null;
  let approvals = null;
  if (user.role === 'supervisor') {
    for (const id of ['#extensions-panel', '#clocks-panel', '#extensions-link', '#clocks-link']) $(id).hidden = false;
    overdue = mountOverdue($('#clocks-panel'), { call, branch: true, courts: () => state.courts });
    approvals = mountExtensionApprovals($('#extensions-panel'), { call, onDecided: () => overdue.reload() });
  }

  // ---- filters ----
  function fillCourts() {
    for (const select of [$('#stats-court'), $('#log-court')]) {
      const before = select.value;
      select.replaceChildren(...state.courts.map((c) => h('option', { value: c.id }, c.name)));
      if (state.courts.some((c) => String(c.id) === before)) select.value = before;
    }
    overdue?.render();
  }

  function fillChoices() {
    const keepValue = (select, build) => {
      const before = select.value;
      select.replaceChildren(...build());
      select.value = before;
    };
    keepValue($('#log-status'), () => [h('option', { value: '' }, t('records.any')),
      ...STATUSES.map((s) => h('option', { value: s }, tEnum('session.status', s)))]);
    keepValue($('#log-outcome'), () => [h('option', { value: '' }, t('records.any')),
      ...OUTCOMES.map((o) => h('option', { value: o }, tEnum('outcome', o)))]);
  }

  $('#stats-from').value = `${today.slice(0, 8)}01`;
  $('#stats-to').value = lastOfMonth(today);
  $('#log-from').value = addDays(today, -30);
  $('#log-to').value = addDays(today, 7);

  // ---- statistics ----
  function statsParams() {
    const p = new URLSearchParams();
    p.set('court', $('#stats-court').value || user.court.id);
    if ($('#stats-from').value) p.set('from', $('#stats-from').value);
    if ($('#stats-to').value) p.set('to', $('#stats-to').value);
    return p;
  }

  async function loadStats() {
    const box = $('#stats-error');
    clearError(box);
    try {
      state.stats = await call(`/records/statistics?${statsParams()}`);
      // The courts directly below come with the statistics: offer them in both filters.
      const known = new Map(state.courts.map((c) => [c.id, c]));
      for (const row of state.stats.rows) if (!known.has(row.court.id)) known.set(row.court.id, row.court);
      state.courts = [...known.values()];
      fillCourts();
      renderStats();
      announce(t('records.stats.loaded'));
    } catch (err) {
      fail(box, err);
    }
  }

  // All cases, or one class (涉诉 / 信访): the same figures, from `by_class`.
  function ofClass(figures) {
    const cls = $('#stats-class').value;
    return cls === 'all' ? figures : { ...figures.by_class[cls], court: figures.court, part: figures.part };
  }

  function renderStats() {
    const raw = state.stats;
    if (!raw) return;
    const s = { ...raw, totals: ofClass(raw.totals), rows: raw.rows.map(ofClass) };
    const totals = s.totals;
    const period = t('records.period', { court: s.court.name, from: s.from, to: s.to });
    const rateChart = barChart({
      title: t('records.chart.rates'),
      desc: `${period}. ${t('records.chart.ratesNote')} ${RATES.map(([k, key]) => `${t(key)} ${percent(totals.rates[k])}`).join('; ')}`,
      max: 1,
      testid: 'chart-rates',
      items: RATES.map(([k, key], i) => ({
        label: t(key), value: totals.rates[k], text: percent(totals.rates[k]), className: i < 2 ? 'series-0' : 'series-1',
      })),
    });
    const series = [
      { key: 'booked', label: t('records.fig.booked') },
      { key: 'held', label: t('records.fig.held') },
      { key: 'no_show', label: t('records.fig.no_show') },
    ];
    const courtChart = groupedBars({
      title: t('records.chart.courts'),
      desc: `${period}. ${s.rows.map((r) => `${r.court.name}: ${series.map((x) => `${x.label} ${r[x.key]}`).join(', ')}`).join('; ')}`,
      series,
      groups: s.rows.map((r) => ({ label: r.court.name, values: r })),
      testid: 'chart-courts',
    });
    const wideHint = h('p', { class: 'hint', 'data-testid': 'stats-wide-hint', hidden: true }, t('records.stats.wide', { count: 1 + FIGURES.length + RATES.length }));
    // Wider than a narrow screen: it scrolls, so it takes the focus to scroll by keyboard.
    const table = h('div', { class: 'table-wrap', tabindex: '0', role: 'region', 'aria-label': t('records.stats.table') },
      h('table', { class: 'grid', 'data-testid': 'stats-table' },
      h('caption', {}, t('records.stats.table')),
      h('thead', {}, h('tr', {},
        h('th', { scope: 'col' }, t('records.court')),
        FIGURES.map(([, key]) => h('th', { scope: 'col' }, t(key))),
        RATES.map(([, key]) => h('th', { scope: 'col' }, t(key))))),
      h('tbody', {}, [...s.rows.map((r) => ({ name: r.court.name, part: r.part, f: r })), { name: t('records.total'), part: 'total', f: totals }]
        .map((r) => h('tr', { class: r.part === 'total' ? 'total-row' : null, 'data-testid': 'stats-row' },
          h('th', { scope: 'row' }, r.name, r.part === 'own' ? h('span', { class: 'muted' }, ` ${t('records.own')}`) : null),
          FIGURES.map(([k]) => h('td', {}, r.f[k] === null || r.f[k] === undefined ? '—' : String(r.f[k]))),
          RATES.map(([k]) => h('td', {}, percent(r.f.rates[k]))))))));
    $('#stats-body').replaceChildren(
      h('p', { class: 'lead', 'data-testid': 'stats-period' }, period),
      h('dl', { class: 'facts key-figures', 'data-testid': 'key-figures' },
        ['booked', 'held', 'no_show', 'video_spc', 'video_high'].flatMap((k) => [
          h('dt', {}, t(`records.fig.${k}`)), h('dd', { 'data-figure': k }, String(totals[k]))])),
      h('figure', { class: 'chart-figure' }, rateChart, h('figcaption', {}, t('records.chart.rates'), ' — ', t('records.chart.ratesNote'))),
      s.rows.length
        ? h('figure', { class: 'chart-figure' }, courtChart, h('figcaption', {}, t('records.chart.courts')))
        : null,
      wideHint, table);
    // The table is wider than a desktop's panel (17 columns): say so, and how to see the rest,
    // only when it does not fit. The court's column stays in place while it scrolls (CSS).
    const fits = () => { wideHint.hidden = table.scrollWidth <= table.clientWidth + 1; };
    fits();
    new ResizeObserver(fits).observe(table);
  }

  $('#stats-class').addEventListener('change', () => renderStats());

  $('#stats-form').addEventListener('submit', (e) => {
    e.preventDefault();
    loadStats();
  });

  /** The export's line in the page's language: working, the file saved, or nothing. */
  function renderExportState() {
    const stateLine = $('#export-state');
    const { state, file } = stateLine.dataset;
    if (state === 'working') stateLine.textContent = t('records.export.working');
    else if (state === 'done') stateLine.textContent = t('records.export.done', { name: file });
    else stateLine.textContent = '';
  }

  /** Export through fetch with the bearer token (a plain link would carry no token), then save the Blob. */
  async function exportAs(format, { monthly = false } = {}) {
    const box = $('#stats-error');
    const stateLine = $('#export-state');
    clearError(box);
    stateLine.dataset.state = 'working';
    renderExportState();
    const params = statsParams();
    params.set('format', format);
    if (monthly) {
      // The month of the chosen first day (this month by default), whole.
      const day = params.get('from') || shanghaiDay(new Date());
      const [y, m] = day.split('-').map(Number);
      const last = new Date(Date.UTC(y, m, 0)).getUTCDate();
      params.set('from', `${y}-${String(m).padStart(2, '0')}-01`);
      params.set('to', `${y}-${String(m).padStart(2, '0')}-${String(last).padStart(2, '0')}`);
      params.set('report', 'monthly');
    }
    const fetchOnce = async () => {
      let response;
      try {
        response = await fetch(`/api/v1/records/statistics?${params}`, {
          headers: { Authorization: `Bearer ${staffSession.get()?.token || ''}` },
          cache: 'no-store',
        });
      } catch {
        throw new ApiError({ status: 0, code: 'network' });
      }
      if (!response.ok) {
        const body = await response.json().catch(() => null);
        throw new ApiError({
          status: response.status,
          code: typeof body?.code === 'string' ? body.code : `http_${response.status}`,
          serverMessage: typeof body?.message === 'string' ? body.message : '',
        });
      }
      return response;
    };
    try {
      const response = await withReauth(user, fetchOnce);
      const blob = await response.blob();
      const disposition = response.headers.get('content-disposition') || '';
      const named = /filename="?([^";]+)"?/.exec(disposition);
      const name = named ? named[1] : `courtlink-statistics-${params.get('from') || ''}-${params.get('to') || ''}.${format}`;
      const url = URL.createObjectURL(blob);
      const link = h('a', { href: url, download: name, hidden: true });
      document.body.append(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10000);
      stateLine.dataset.file = name;
      stateLine.dataset.bytes = String(blob.size);
      stateLine.dataset.state = 'done';
      renderExportState();
    } catch (err) {
      stateLine.dataset.state = '';
      renderExportState();
      fail(box, err);
    }
  }
  $('#export-csv').addEventListener('click', () => exportAs('csv'));
  $('#export-xlsx').addEventListener('click', () => exportAs('xlsx'));
  $('#export-monthly').addEventListener('click', () => exportAs('xlsx', { monthly: true }));

  // ---- session log ----
  function logParams() {
    const p = new URLSearchParams();
    p.set('court', $('#log-court').value || user.court.id);
    for (const [name, id] of [['from', '#log-from'], ['to', '#log-to'], ['status', '#log-status'], ['outcome', '#log-outcome']]) {
      if ($(id).value) p.set(name, $(id).value);
    }
    if ($('#log-case').value.trim()) p.set('case_number', $('#log-case').value.trim());
    p.set('limit', '50');
    return p;
  }

  async function loadLog(more = false) {
    const box = $('#log-error');
    clearError(box);
    const query = more ? state.query : logParams().toString();
    const path = `/records/sessions?${query}${more && state.cursor ? `&cursor=${encodeURIComponent(state.cursor)}` : ''}`;
    try {
      const page = await call(path);
      state.query = query;
      state.log = more ? [...state.log, ...page.items] : page.items;
      state.cursor = page.next_cursor || null;
      renderLog();
      announce(t('records.log.count', { count: state.log.length }));
    } catch (err) {
      fail(box, err);
    }
  }

  function duration(r) {
    return r.duration_seconds ? t('records.minutes', { minutes: Math.round(r.duration_seconds / 60) }) : '';
  }

  function renderLog() {
    $('#log-count').textContent = state.log.length
      ? t(state.cursor ? 'records.log.countMore' : 'records.log.count', { count: state.log.length })
      : t('records.log.none');
    $('#log-rows').replaceChildren(...state.log.map((r) => h('tr', { 'data-testid': 'log-row', 'data-session-id': r.id },
      h('td', {}, `${formatDay(r.starts_at)} ${formatTimeRange(r.starts_at, r.ends_at)}`),
      h('th', { scope: 'row' }, r.case_number),
      h('td', {}, `${r.local_court.name} · ${r.local_room}`),
      h('td', {}, `${r.host_court.name} · ${r.host_room}`),
      h('td', {}, h('span', { class: `badge status-${r.status}` }, tEnum('session.status', r.status)), ' ', duration(r),
        // A session whose recording has a gap says so (issue 20), when the server tells.
        r.recording_gap ? [' ', h('span', { class: 'badge rec-gap-badge', 'data-testid': 'log-recording-gap' }, t('records.recordingGap'))] : null),
      h('td', {}, r.outcome ? tEnum('outcome', r.outcome) : '—'),
      h('td', {}, r.satisfaction ? tEnum('satisfaction', r.satisfaction) : '—'),
      h('td', {}, h('button', {
        type: 'button',
        class: 'secondary small',
        'data-testid': 'log-timeline',
        'data-session-id': r.id,
        'aria-label': t('records.timeline.openLabel', { case: r.case_number, when: formatDay(r.starts_at) }),
        onclick: () => openTimeline(r.id),
      }, t('records.timeline.open'))))));
    $('#log-more').hidden = !state.cursor;
  }

  async function openTimeline(id) {
    const box = $('#log-error');
    clearError(box);
    try {
      const detail = await call(`/records/sessions/${id}`);
      state.timeline = detail;
      state.recordings = null;
      renderTimelinePanel();
      loadRecordings(id);
      const panel = $('#timeline-panel');
      panel.hidden = false;
      panel.focus();
      panel.scrollIntoView({ block: 'start' });
    } catch (err) {
      fail(box, err);
    }
  }

  function renderTimelinePanel() {
    const d = state.timeline;
    if (!d) return;
    // The answer is the log's row with its events alongside.
    $('#timeline-heading').textContent = t('records.timeline.heading', { case: d.case_number });
    renderTimeline($('#timeline-body'), d);
    renderRecordings();
  }

  // ---- the session's recordings (js/recplayer.js), beside the timeline and its chat ----
  let player = null;
  async function loadRecordings(id) {
    const section = $('#recordings');
    player?.destroy();
    player = null;
    section.replaceChildren(h('h3', {}, t('recordings.heading')), h('p', { class: 'empty' }, t('common.loading')));
    try {
      const answer = await call(`/sessions/${encodeURIComponent(id)}/recordings`);
      if (state.timeline?.id !== id) return;
      state.recordings = Array.isArray(answer?.items) ? answer.items : [];
      renderRecordings();
    } catch (err) {
      if (state.timeline?.id !== id) return;
      const box = h('div', { class: 'alert', role: 'alert', 'data-testid': 'recordings-error' });
      section.replaceChildren(h('h3', {}, t('recordings.heading')), box);
      fail(box, err);
    }
  }

  function renderRecordings() {
    if (!state.recordings) return;
    // A language switch draws the tiles again; what was playing stops where it was.
    player?.destroy();
    window.courtlinkPlayer = player = mountRecordings($('#recordings'), state.recordings, {
      run: (fn) => withReauth(user, fn), onError: fail, onTime: markTimeline,
    });
  }

  // The timeline follows the player: the last event at or before the moment shown is marked.
  function markTimeline(moment) {
    let last = null;
    for (const item of document.querySelectorAll('#timeline-body .timeline-item')) {
      const at = Date.parse(item.querySelector('time')?.getAttribute('datetime') || '');
      item.classList.remove('at-moment');
      if (Number.isFinite(at) && at <= moment) last = item;
    }
    last?.classList.add('at-moment');
  }

  $('#timeline-close').addEventListener('click', () => {
    const id = state.timeline?.id;
    state.timeline = null;
    state.recordings = null;
    player?.destroy();
    player = null;
    $('#timeline-panel').hidden = true;
    document.querySelector(`[data-testid=log-timeline][data-session-id="${id}"]`)?.focus();
  });

  $('#log-form').addEventListener('submit', (e) => {
    e.preventDefault();
    loadLog();
  });
  $('#log-form').addEventListener('reset', () => {
    setTimeout(() => {
      $('#log-court').value = String(user.court.id);
      $('#log-from').value = addDays(today, -30);
      $('#log-to').value = addDays(today, 7);
      loadLog();
    }, 0);
  });
  $('#log-more').addEventListener('click', () => loadLog(true));

  onLangChange(() => {
    rerenderHeader();
    roleLabel();
    fillChoices();
    renderStats();
    renderExportState();
    renderLog();
    renderTimelinePanel();
    overdue?.render();
    approvals?.render();
  });

  fillCourts();
  fillChoices();
  loadStats().then(() => loadLog());
  approvals?.reload();
  overdue?.reload();
}
