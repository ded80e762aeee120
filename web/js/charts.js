// Charts drawn by the app itself as inline SVG: no library, nothing from outside the server, and
// nothing the page's Content-Security-Policy would refuse (no style attributes: colours come from
// classes in css/reports.css). Each chart is an image with a title and a description for screen
// readers, and writes its numbers next to its bars, so colour is never the only way to read it;
// the page shows the same figures in a table as well.

const SVG = 'http://www.w3.org/2000/svg';

function el(tag, attrs = {}, ...children) {
  const node = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value !== null && value !== undefined) node.setAttribute(key, String(value));
  }
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

let serial = 0;

function frame({ title, desc, width, height, testid }) {
  serial += 1;
  const titleId = `chart-title-${serial}`;
  const descId = `chart-desc-${serial}`;
  return el('svg', {
    xmlns: SVG,
    viewBox: `0 0 ${width} ${height}`,
    // Drawn at its own size; CSS lets it shrink on a narrow screen, never grow.
    width,
    height,
    role: 'img',
    class: 'chart',
    'aria-labelledby': `${titleId} ${descId}`,
    'data-testid': testid,
    preserveAspectRatio: 'xMinYMin meet',
  }, el('title', { id: titleId }, title), el('desc', { id: descId }, desc));
}

/** Cuts a label to `max` characters (the full text stays in the description and the table). */
function clip(text, max) {
  const s = String(text);
  return s.length > max ? `${s.slice(0, max - 1)}…` : s;
}

/**
 * Horizontal bars, one per item: `items` = [{label, value, text}], `value` a number from 0 to
 * `max` (or null: no bar, `text` says why), `text` what is written after the bar.
 */
export function barChart({ title, desc, items, max = 1, testid = 'bar-chart' }) {
  const labelWidth = 260;
  const barWidth = 420;
  const row = 40;
  const width = labelWidth + barWidth + 130;
  const height = items.length * row + 10;
  const svg = frame({ title, desc, width, height, testid });
  items.forEach((item, i) => {
    const y = 5 + i * row;
    const fraction = item.value === null || item.value === undefined || !(max > 0) ? 0 : Math.max(0, Math.min(1, item.value / max));
    const w = Math.round(barWidth * fraction);
    svg.append(el('g', { class: 'chart-row', 'data-value': item.value ?? '' },
      el('text', { x: labelWidth - 10, y: y + row / 2, class: 'chart-label', 'text-anchor': 'end', 'dominant-baseline': 'middle' },
        clip(item.label, 28)),
      el('rect', { x: labelWidth, y: y + 6, width: barWidth, height: row - 14, class: 'chart-track', rx: 3 }),
      w > 0 ? el('rect', { x: labelWidth, y: y + 6, width: w, height: row - 14, class: `chart-bar ${item.className || 'series-0'}`, rx: 3 }) : null,
      el('text', { x: labelWidth + barWidth + 10, y: y + row / 2, class: 'chart-value', 'dominant-baseline': 'middle' }, item.text)));
  });
  return svg;
}

/**
 * Grouped vertical bars: one group per court, one bar per series. `series` = [{key, label}],
 * `groups` = [{label, values: {key: number}}]. The legend names each series with its swatch.
 */
export function groupedBars({ title, desc, series, groups, testid = 'grouped-chart' }) {
  const plotHeight = 220;
  // Room above the plot for the legend (8–26) and, below it, the value over the tallest bar.
  const top = 56;
  const left = 50;
  const bar = 34;
  const gap = 8;
  const groupWidth = series.length * (bar + gap) + 36;
  // Each legend takes `legendStep`: wide enough for the longest (English) series name, and the
  // chart as wide as its legend even with few courts.
  const legendStep = 170;
  const width = Math.max(520, left + groups.length * groupWidth + 20, left + series.length * legendStep);
  const height = top + plotHeight + 40;
  const max = Math.max(1, ...groups.flatMap((g) => series.map((s) => Number(g.values[s.key]) || 0)));
  const step = niceStep(max);
  const top100 = Math.ceil(max / step) * step;
  const svg = frame({ title, desc, width, height, testid });

  // Legend.
  series.forEach((s, i) => {
    const x = left + i * legendStep;
    svg.append(el('rect', { x, y: 8, width: 18, height: 18, class: `chart-bar series-${i}`, rx: 2 }),
      el('text', { x: x + 24, y: 22, class: 'chart-legend' }, clip(s.label, 12)));
  });
  // Axis and grid.
  for (let v = 0; v <= top100; v += step) {
    const y = top + plotHeight - (v / top100) * plotHeight;
    svg.append(el('line', { x1: left, x2: width - 10, y1: y, y2: y, class: 'chart-grid' }),
      el('text', { x: left - 8, y, class: 'chart-axis', 'text-anchor': 'end', 'dominant-baseline': 'middle' }, v));
  }
  groups.forEach((g, gi) => {
    const x0 = left + 18 + gi * groupWidth;
    const group = el('g', { class: 'chart-group', 'data-label': g.label });
    series.forEach((s, si) => {
      const value = Number(g.values[s.key]) || 0;
      const h = (value / top100) * plotHeight;
      const x = x0 + si * (bar + gap);
      group.append(
        el('rect', { x, y: top + plotHeight - h, width: bar, height: Math.max(h, 0), class: `chart-bar series-${si}` }),
        el('text', { x: x + bar / 2, y: top + plotHeight - h - 6, class: 'chart-value', 'text-anchor': 'middle' }, value));
    });
    group.append(el('text', {
      x: x0 + (series.length * (bar + gap)) / 2, y: top + plotHeight + 24, class: 'chart-label', 'text-anchor': 'middle',
    }, clip(g.label, Math.max(4, Math.floor(groupWidth / 18)))));
    svg.append(group);
  });
  return svg;
}

function niceStep(max) {
  const rough = max / 4;
  const power = 10 ** Math.floor(Math.log10(Math.max(rough, 1)));
  for (const m of [1, 2, 5, 10]) if (m * power >= rough) return Math.max(1, m * power);
  return Math.max(1, 10 * power);
}
