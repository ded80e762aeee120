// A week of slots as a grid: days (Monday to Sunday, Beijing time) across, times of day down.
// Each slot is a button; one of them is in the Tab order (roving tabindex) and the arrow keys
// move between slots: ←/→ to the nearest slot of the previous/next day in the same row, ↑/↓
// to the previous/next slot of the same day. Enter or Space chooses (a button's own behaviour).
// Used by the coordinator's booking calendar and the host court's room calendar.
import { t, formatDay, formatTimeRange, shanghaiDay } from './i18n.js';
import { h } from './ui.js';

const HHMM = new Intl.DateTimeFormat('en-GB', { timeZone: 'Asia/Shanghai', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });

/** "09:00" in Beijing time, whatever the page's language (for rows and sorting). */
export function beijingTime(value) {
  return HHMM.format(new Date(value));
}

/** `day` ('YYYY-MM-DD') plus `n` days. */
export function addDays(day, n) {
  const d = new Date(`${day}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + n);
  return d.toISOString().slice(0, 10);
}

/** The Monday of the week holding `day`. */
export function mondayOf(day = shanghaiDay()) {
  const weekday = (new Date(`${day}T00:00:00Z`).getUTCDay() + 6) % 7;
  return addDays(day, -weekday);
}

/** Midnight of `day` in Beijing, as an RFC 3339 instant for the API's `from`/`to`. */
export function beijingMidnight(day) {
  return new Date(`${day}T00:00:00+08:00`).toISOString();
}

/**
 * Draw the week starting `monday` into `container`.
 * items: [{id, starts_at, ends_at, text, sub, cls, pressed, attrs, label}] — `attrs` are extra
 * attributes of the button (data-testid …), `label` its accessible name.
 * onChoose(item) runs on a click, Enter or Space. `focusId` is the slot to put in the Tab order
 * (and to focus when `focusNow`). `emptyKey`: what to say when the week has none.
 */
export function renderWeek(container, { monday, items, onChoose, focusId = null, focusNow = false, caption, emptyKey = 'cal.week.none' }) {
  const days = [...Array(7)].map((_, i) => addDays(monday, i));
  const rows = [...new Set(items.map((it) => beijingTime(it.starts_at)))].sort();
  if (!items.length) {
    container.replaceChildren(h('p', { class: 'empty', 'data-testid': 'week-empty' }, t(emptyKey)));
    return;
  }
  const cell = new Map(); // "row|col" → items
  for (const it of items) {
    const col = days.indexOf(shanghaiDay(it.starts_at));
    if (col < 0) continue;
    const key = `${rows.indexOf(beijingTime(it.starts_at))}|${col}`;
    if (!cell.has(key)) cell.set(key, []);
    cell.get(key).push(it);
  }
  const buttons = [];
  const table = h('table', { class: 'week-grid', 'data-testid': 'week-grid' },
    caption ? h('caption', { class: 'visually-hidden' }, caption) : null,
    h('thead', {}, h('tr', {},
      h('th', { scope: 'col' }, t('cal.week.time')),
      days.map((d) => h('th', { scope: 'col', 'data-day': d }, formatDay(`${d}T12:00:00+08:00`))))),
    h('tbody', {}, rows.map((row, r) => h('tr', {},
      h('th', { scope: 'row' }, row),
      days.map((d, c) => h('td', {}, (cell.get(`${r}|${c}`) || []).map((it, i) => {
        // The name a screen reader gives begins with what the button shows (WCAG 2.5.3, so that
        // "click 10:30" works by voice), then says the rest: the court, the day.
        const shown = [it.text || formatTimeRange(it.starts_at, it.ends_at), it.sub].filter(Boolean).join(' ');
        const b = h('button', {
          type: 'button',
          class: `cal-slot ${it.cls || ''}`,
          tabindex: '-1',
          'aria-pressed': it.pressed === undefined ? null : String(Boolean(it.pressed)),
          'aria-label': `${shown}，${it.label || formatDay(it.starts_at)}`,
          'data-id': it.id,
          'data-row': r,
          'data-col': c,
          'data-idx': i,
          'data-starts-at': it.starts_at,
          ...(it.attrs || {}),
          onclick: () => onChoose(it),
        }, h('span', { class: 'cal-slot-text' }, it.text || formatTimeRange(it.starts_at, it.ends_at)),
        it.sub ? [' ', h('span', { class: 'cal-slot-sub' }, it.sub)] : null);
        buttons.push(b);
        return b;
      })))))));
  const first = buttons.find((b) => String(b.dataset.id) === String(focusId)) || buttons[0];
  if (first) first.tabIndex = 0;
  table.addEventListener('keydown', (e) => {
    const from = e.target.closest('.cal-slot');
    if (!from) return;
    const r = Number(from.dataset.row);
    const c = Number(from.dataset.col);
    const i = Number(from.dataset.idx);
    const at = (b) => [Number(b.dataset.row), Number(b.dataset.col), Number(b.dataset.idx)];
    let to = null;
    if (e.key === 'ArrowRight' || e.key === 'ArrowLeft') {
      const step = e.key === 'ArrowRight' ? 1 : -1;
      for (let col = c + step; col >= 0 && col < 7 && !to; col += step) {
        const inCol = buttons.filter((b) => at(b)[1] === col);
        // The same row if that day has it, else the nearest row.
        to = inCol.sort((a, b) => Math.abs(at(a)[0] - r) - Math.abs(at(b)[0] - r) || at(a)[2] - at(b)[2])[0] || null;
      }
    } else if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
      const inCol = buttons.filter((b) => at(b)[1] === c)
        .sort((a, b) => at(a)[0] - at(b)[0] || at(a)[2] - at(b)[2]);
      const here = inCol.findIndex((b) => at(b)[0] === r && at(b)[2] === i);
      to = inCol[here + (e.key === 'ArrowDown' ? 1 : -1)] || null;
    } else if (e.key === 'Home' || e.key === 'End') {
      to = e.key === 'Home' ? buttons[0] : buttons[buttons.length - 1];
    } else {
      return;
    }
    e.preventDefault();
    if (!to) return;
    from.tabIndex = -1;
    to.tabIndex = 0;
    to.focus();
  });
  container.replaceChildren(h('div', { class: 'week-scroll' }, table),
    h('p', { class: 'hint' }, t('cal.week.keys')));
  if (focusNow && first) first.focus();
}
