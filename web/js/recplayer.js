// The recordings of one session (issue 20, docs/recording.md), on records.html beside its timeline
// and chat: every participant's file side by side, played in sync by one control.
//
// Each file is one part of one participant's recording (a participant whose connection to the
// recorder broke has several parts). The player runs one clock over the whole span, from the
// first part's start to the last part's end; each <video> is placed on it by its part's
// `started_at`, shows 此时段无录像 where it has nothing, and is nudged back when it drifts more
// than DRIFT_S from the clock. Gaps the server recorded are listed in words, and marked on the
// bar under the control (the bar itself is a picture of the list: aria-hidden).
//
// The media needs the staff token, which no URL may carry: each file is fetched with it into a
// Blob, when the reader first presses play (each fetch of the media is a playback the server
// audits, so opening the panel alone fetches nothing). Download fetches `?download=1` the same
// way and saves the Blob. A whole file is held in memory: fine for a reception (1.5 Mbit/s for
// two hours is about 1.3 GB at worst; a typical half hour is 300 MB), and the simplest thing that
// needs no token in a URL.
import { t, tEnum, getLang, formatDate, TIME_ZONE } from './i18n.js';
import { ApiError, staffSession } from './api.js';
import { h, showError, clearError, announce } from './ui.js';

const TICK_MS = 100;
const DRIFT_S = 0.35;
const ROLE_ORDER = { host: 0, co_host: 1, local_staff: 2, petitioner: 3, observer: 4 };

function ms(value) {
  const n = Date.parse(value);
  return Number.isFinite(n) ? n : null;
}

/** "1:05" / "1:02:05" */
export function clock(totalMs) {
  const s = Math.max(0, Math.floor(totalMs / 1000));
  const hh = Math.floor(s / 3600);
  const mm = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, '0');
  return hh ? `${hh}:${String(mm).padStart(2, '0')}:${ss}` : `${mm}:${ss}`;
}

/** "10:02:13" in Beijing: a gap of a few seconds needs the seconds. */
function timeOf(value) {
  const d = value instanceof Date ? value : new Date(value);
  if (Number.isNaN(d.getTime())) return '—';
  return new Intl.DateTimeFormat(getLang() === 'en' ? 'en-GB' : 'zh-CN', {
    timeZone: TIME_ZONE, hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23',
  }).format(d);
}

function sizeText(bytes) {
  const n = Number(bytes) || 0;
  if (n >= 1024 * 1024) return t('recordings.size.mb', { size: (n / 1024 / 1024).toFixed(1) });
  return t('recordings.size.kb', { size: Math.max(1, Math.round(n / 1024)) });
}

/** Fetch a recording's media with the staff token; resolves to the Response, rejects with ApiError. */
async function fetchMedia(id, { download = false } = {}) {
  let response;
  try {
    response = await fetch(`/api/v1/recordings/${encodeURIComponent(id)}/media${download ? '?download=1' : ''}`, {
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
}

/**
 * Fill `section` with the recordings of a session. `items` as GET /sessions/{id}/recordings
 * gives them; `run(fn)` runs an API call with re-authentication (records.js `withReauth`);
 * `onError(box, err)` shows a refusal; `onTime(ms)` hears the moment shown (ms since the epoch)
 * as it moves. Returns {destroy(), state, tiles}.
 */
export function mountRecordings(section, items, { run = (fn) => fn(), onError, onTime } = {}) {
  const files = [...items]
    .map((r) => {
      const start = ms(r.started_at);
      // The media's own length places the file; `ended_at` is when the server closed it, which
      // can be some seconds after its last frame.
      const end = start !== null && Number(r.duration_ms) > 0 ? start + Number(r.duration_ms) : ms(r.ended_at);
      return { ...r, start, end, length: start !== null && end !== null ? Math.max(0, end - start) : 0 };
    })
    .filter((r) => r.start !== null)
    .sort((a, b) => (ROLE_ORDER[a.role] ?? 9) - (ROLE_ORDER[b.role] ?? 9)
      || String(a.participant_id).localeCompare(String(b.participant_id)) || a.part - b.part);
  const errorBox = h('div', { class: 'alert', role: 'alert', 'data-testid': 'recordings-error', hidden: true });
  if (!files.length) {
    section.replaceChildren(h('h3', {}, t('recordings.heading')),
      h('p', { class: 'empty', 'data-testid': 'recordings-none' }, t('recordings.none')));
    return { destroy() {}, state: null };
  }
  const t0 = Math.min(...files.map((f) => f.start));
  const t1 = Math.max(...files.map((f) => f.end ?? f.start));
  const state = { pos: 0, total: Math.max(1000, t1 - t0), playing: false, base: null, loaded: false, loading: null, timer: null };

  const nameOf = (f) => {
    const role = tEnum('role.participant', f.role);
    const name = f.role === 'petitioner' ? role : (f.name || role);
    return role && role !== name ? `${name}（${role}）` : name;
  };

  // ---- one tile per file ----
  const tiles = files.map((f) => {
    const label = nameOf(f);
    const partText = t('recordings.part', { part: f.part });
    const video = h('video', {
      class: 'rec-video', 'data-testid': 'rec-video', 'data-recording-id': f.id, playsinline: true, preload: 'auto',
      'aria-label': `${label} ${partText}`,
    });
    const absent = h('p', { class: 'rec-absent', 'data-testid': 'rec-absent' }, t('recordings.absent'));
    const download = h('button', {
      type: 'button', class: 'secondary small', 'data-testid': 'rec-download', 'data-recording-id': f.id,
      'aria-label': t('recordings.downloadLabel', { name: label, part: f.part }),
    }, t('recordings.download'));
    download.addEventListener('click', () => save(f, download));
    const gaps = Array.isArray(f.gaps) ? f.gaps : [];
    const facts = [
      `${formatDate(f.started_at)} ${timeOf(f.started_at)}–${f.ended_at && f.end !== null ? timeOf(new Date(f.end)) : t('recordings.open')}`,
      t('recordings.length', { time: clock(Number(f.duration_ms) || f.length) }),
      f.bytes ? sizeText(f.bytes) : null,
    ].filter(Boolean).join(' · ');
    const root = h('figure', { class: 'rec-tile', 'data-recording-id': f.id, 'data-participant-id': f.participant_id },
      h('div', { class: 'rec-frame' }, video, absent),
      h('figcaption', {},
        h('span', { class: 'rec-name' }, label), ' ',
        h('span', { class: 'rec-part' }, partText), ' ',
        f.state ? h('span', { class: `badge rec-state state-${f.state}`, 'data-testid': 'rec-state' }, tEnum('recordings.state', f.state)) : null,
        gaps.length ? [' ', h('span', { class: 'badge rec-gap-badge', 'data-testid': 'rec-has-gaps' }, t('recordings.hasGaps', { count: gaps.length }))] : null,
        // Closed after the recording server crashed: kept up to its last full chunk on disk.
        f.salvaged ? [' ', h('span', { class: 'badge rec-salvaged', 'data-testid': 'rec-salvaged', title: t('recordings.salvagedHint') }, t('recordings.salvaged'))] : null,
        h('span', { class: 'rec-facts hint' }, facts),
        gaps.length ? h('ul', { class: 'rec-gaps', 'data-testid': 'rec-gaps' }, gaps.map((g) => h('li', {},
          t('recordings.gap', {
            from: timeOf(g.start), to: g.end ? timeOf(g.end) : t('recordings.open'),
            seconds: g.end ? Math.max(0, Math.round((ms(g.end) - ms(g.start)) / 1000)) : '—',
          })))) : null,
        f.sha256 ? h('span', { class: 'rec-sha hint' }, 'SHA-256 ', h('code', { class: 'sha256' }, f.sha256)) : null,
        h('span', { class: 'rec-actions' }, download)));
    return { f, root, video, absent, offset: f.start - t0 };
  });

  // ---- the one control ----
  const play = h('button', { type: 'button', class: 'primary', 'data-testid': 'rec-play' }, t('recordings.play'));
  const seekId = `rec-seek-${files[0].id}`;
  const seek = h('input', {
    type: 'range', id: seekId, 'data-testid': 'rec-seek', min: '0', max: String(Math.ceil(state.total / 1000)), step: '1', value: '0',
  });
  const where = h('span', { class: 'rec-where', 'data-testid': 'rec-where' });
  const progress = h('p', { class: 'hint', 'data-testid': 'rec-progress', role: 'status' });
  // The bar: each file's span and its gaps, over the whole.
  const pct = (v) => `${Math.max(0, Math.min(100, (v / state.total) * 100)).toFixed(2)}%`;
  // Placed through the CSSOM: the pages' Content-Security-Policy (style-src 'self') refuses
  // style attributes.
  const placed = (cls, left, width) => {
    const el = h('span', { class: cls });
    el.style.left = pct(left);
    el.style.width = pct(width);
    return el;
  };
  const bar = h('div', { class: 'rec-bar', 'aria-hidden': 'true' }, tiles.map((tile) => h('div', { class: 'rec-lane' },
    placed('rec-span', tile.offset, tile.f.length),
    ...(Array.isArray(tile.f.gaps) ? tile.f.gaps : []).map((g) => {
      const a = (ms(g.start) ?? t0) - t0;
      const b = (ms(g.end) ?? t1) - t0;
      return placed('rec-gap', a, Math.max(b - a, state.total / 200));
    }),
    placed('rec-head', 0, 0))));
  const controls = h('div', { class: 'rec-controls' },
    play,
    h('label', { for: seekId, class: 'rec-seek-label' }, t('recordings.position')),
    seek, where);

  section.replaceChildren(
    h('h3', {}, t('recordings.heading')),
    h('p', { class: 'hint' }, t('recordings.hint')),
    errorBox,
    h('div', { class: 'rec-grid', 'data-count': String(tiles.length) }, tiles.map((tile) => tile.root)),
    controls, bar, progress);

  function now() {
    if (!state.playing || !state.base) return state.pos;
    return Math.min(state.total, state.base.pos + (performance.now() - state.base.at));
  }

  function renderWhere() {
    const pos = now();
    const text = `${clock(pos)} / ${clock(state.total)}`;
    const wall = t('recordings.wall', { time: timeOf(new Date(t0 + pos)) });
    where.textContent = `${text} · ${wall}`;
    seek.value = String(Math.floor(pos / 1000));
    for (const head of bar.querySelectorAll('.rec-head')) head.style.left = pct(pos);
    seek.setAttribute('aria-valuetext', `${text}, ${wall}`);
    play.textContent = t(state.playing ? 'recordings.pause' : 'recordings.play');
    if (onTime) onTime(t0 + pos);
    play.setAttribute('aria-pressed', String(state.playing));
  }

  /** Put every video where the clock says; play or pause it with the clock. */
  function sync() {
    const pos = now();
    if (state.playing && pos >= state.total) {
      state.pos = state.total;
      state.playing = false;
      state.base = null;
    }
    for (const tile of tiles) {
      const local = (pos - tile.offset) / 1000;
      const length = Number.isFinite(tile.video.duration) ? tile.video.duration : tile.f.length / 1000;
      const inside = local >= 0 && local < length;
      tile.absent.hidden = inside || !state.loaded;
      tile.root.dataset.inside = String(inside);
      if (!state.loaded || !tile.video.src) continue;
      if (!inside) {
        if (!tile.video.paused) tile.video.pause();
        continue;
      }
      if (state.playing) {
        if (Math.abs(tile.video.currentTime - local) > DRIFT_S) tile.video.currentTime = local;
        if (tile.video.paused) {
          tile.video.play().catch(() => {
            // No sound without a gesture on some browsers: play muted rather than not at all.
            tile.video.muted = true;
            tile.video.play().catch(() => {});
          });
        }
      } else {
        if (!tile.video.paused) tile.video.pause();
        if (Math.abs(tile.video.currentTime - local) > 0.05) tile.video.currentTime = local;
      }
    }
    renderWhere();
    if (!state.playing) stopTimer();
  }

  function startTimer() {
    if (!state.timer) state.timer = setInterval(sync, TICK_MS);
  }

  function stopTimer() {
    clearInterval(state.timer);
    state.timer = null;
  }

  async function load() {
    if (state.loaded) return true;
    if (!state.loading) {
      state.loading = (async () => {
        clearError(errorBox);
        progress.textContent = t('recordings.loading');
        try {
          let done = 0;
          await Promise.all(tiles.map(async (tile) => {
            const response = await run(() => fetchMedia(tile.f.id));
            const blob = await response.blob();
            tile.blob = blob; // for tests: the page's CSP (connect-src 'self') refuses fetching blob: URLs
            tile.url = URL.createObjectURL(blob);
            tile.video.src = tile.url;
            await new Promise((resolve) => {
              if (tile.video.readyState >= 1) resolve();
              tile.video.addEventListener('loadedmetadata', resolve, { once: true });
              tile.video.addEventListener('error', resolve, { once: true });
            });
            done += 1;
            progress.textContent = t('recordings.loadingCount', { done, count: tiles.length });
          }));
          state.loaded = true;
          progress.textContent = t('recordings.loaded');
          return true;
        } catch (err) {
          progress.textContent = '';
          if (onError) onError(errorBox, err);
          else showError(errorBox, err, 'recordings');
          return false;
        } finally {
          state.loading = null;
        }
      })();
    }
    return state.loading;
  }

  async function toggle() {
    if (state.playing) {
      state.pos = now();
      state.playing = false;
      state.base = null;
      sync();
      return;
    }
    play.disabled = true;
    const ok = await load();
    play.disabled = false;
    if (!ok) return;
    if (state.pos >= state.total) state.pos = 0;
    state.playing = true;
    state.base = { pos: state.pos, at: performance.now() };
    sync();
    startTimer();
  }

  play.addEventListener('click', toggle);
  seek.addEventListener('input', () => {
    state.pos = Math.min(state.total, Number(seek.value) * 1000);
    if (state.playing) state.base = { pos: state.pos, at: performance.now() };
    sync();
  });
  // Keyboard: the slider moves by a second with the arrows (its own), ten with Page Up/Down;
  // K or Space (on the slider) plays and pauses, as in common players.
  seek.addEventListener('keydown', (e) => {
    if (e.key === ' ' || e.key === 'k' || e.key === 'K') {
      e.preventDefault();
      toggle();
    }
  });

  async function save(f, button) {
    clearError(errorBox);
    button.disabled = true;
    try {
      const response = await run(() => fetchMedia(f.id, { download: true }));
      const blob = await response.blob();
      const disposition = response.headers.get('content-disposition') || '';
      const named = /filename="?([^";]+)"?/.exec(disposition);
      const name = named ? named[1] : `courtlink-recording-${f.id}.webm`;
      const url = URL.createObjectURL(blob);
      const link = h('a', { href: url, download: name, hidden: true });
      document.body.append(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10000);
      announce(t('recordings.downloaded', { name }));
    } catch (err) {
      if (onError) onError(errorBox, err);
      else showError(errorBox, err, 'recordings');
    } finally {
      button.disabled = false;
    }
  }

  renderWhere();
  sync();
  return {
    state,
    tiles,
    destroy() {
      stopTimer();
      for (const tile of tiles) {
        tile.video.pause();
        tile.video.removeAttribute('src');
        tile.video.load();
        if (tile.url) URL.revokeObjectURL(tile.url);
      }
    },
  };
}
