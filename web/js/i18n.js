// Translation and formatting. Every visible string comes from a catalogue in ../i18n/.
// zh-CN is the default; the choice is remembered in localStorage.
import zhCN from '../i18n/zh-CN.js';
import en from '../i18n/en.js';

const catalogues = { 'zh-CN': zhCN, en };
const STORAGE_KEY = 'courtlink.lang';
const DEFAULT_LANG = 'zh-CN';
export const TIME_ZONE = 'Asia/Shanghai';

function storedLang() {
  try {
    const value = localStorage.getItem(STORAGE_KEY);
    return value && catalogues[value] ? value : DEFAULT_LANG;
  } catch {
    return DEFAULT_LANG;
  }
}

let lang = storedLang();
const listeners = new Set();

export function getLang() {
  return lang;
}

/** True when the current (or default) catalogue has `key`. */
export function has(key) {
  return key in catalogues[lang] || key in catalogues[DEFAULT_LANG];
}

/** Translate `key`, replacing `{name}` with `params.name`. */
export function t(key, params) {
  let text = catalogues[lang][key] ?? catalogues[DEFAULT_LANG][key];
  if (text === undefined) {
    console.warn('courtlink: missing catalogue key', key);
    return key;
  }
  if (params) {
    text = text.replace(/\{(\w+)\}/g, (whole, name) => (params[name] ?? whole).toString());
  }
  return text;
}

/** Translate a value of a closed set (role, status, outcome …), falling back to the raw value. */
/**
 * A person's own sentence, ready to sit inside a catalogue sentence that ends it itself
 * ("说明：{note}。"): its closing full stops and spaces are dropped, so the screen does not
 * show "释法明理。。". Question and exclamation marks are kept: they carry meaning.
 */
export function clause(text) {
  return String(text ?? '').trim().replace(/[。．.\s]+$/u, '');
}

export function tEnum(prefix, value) {
  if (value === null || value === undefined || value === '') return '';
  const key = `${prefix}.${value}`;
  return has(key) ? t(key) : String(value);
}

/** Fill elements marked with data-i18n* attributes under `root`. */
export function applyI18n(root = document) {
  if (root === document) {
    document.documentElement.lang = lang;
  }
  for (const el of root.querySelectorAll('[data-i18n]')) {
    el.textContent = t(el.dataset.i18n);
  }
  for (const [attr, data] of [
    ['placeholder', 'i18nPlaceholder'],
    ['aria-label', 'i18nAriaLabel'],
    ['title', 'i18nTitle'],
  ]) {
    for (const el of root.querySelectorAll(`[data-i18n-${attr}]`)) {
      el.setAttribute(attr, t(el.dataset[data]));
    }
  }
}

export function setLang(next) {
  if (!catalogues[next] || next === lang) return;
  lang = next;
  try {
    localStorage.setItem(STORAGE_KEY, next);
  } catch {
    /* private mode: the choice lasts for this page only */
  }
  applyI18n();
  for (const fn of listeners) fn(lang);
}

/** Call `fn(lang)` after every language switch (to re-render dynamic content); returns what stops it. */
export function onLangChange(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

/** Wire the language switch button: it names the other language, in that language. */
export function initLangSwitch(button) {
  const render = () => {
    const other = lang === 'en' ? 'zh-CN' : 'en';
    button.textContent = t('lang.switch');
    button.lang = other;
    button.setAttribute('aria-label', t('lang.switchLabel'));
    button.dataset.lang = lang;
  };
  button.addEventListener('click', () => setLang(lang === 'en' ? 'zh-CN' : 'en'));
  render();
  onLangChange(render);
}

// ---- Dates and times: stored in UTC, always shown in Asia/Shanghai ----

function locale() {
  return lang === 'en' ? 'en-GB' : 'zh-CN';
}

function fmt(options) {
  return new Intl.DateTimeFormat(locale(), { timeZone: TIME_ZONE, ...options });
}

function toDate(value) {
  return value instanceof Date ? value : new Date(value);
}

/** "11月28日 周五" / "Fri 28 Nov" */
export function formatDay(value) {
  if (!value) return '';
  return fmt({ month: 'short', day: 'numeric', weekday: 'short' }).format(toDate(value));
}

/** "10:00" */
export function formatTime(value) {
  if (!value) return '';
  return fmt({ hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).format(toDate(value));
}

/** "2026/11/28 10:00" / "28/11/2026, 10:00" */
export function formatDateTime(value) {
  if (!value) return '';
  return fmt({
    year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', hourCycle: 'h23',
  }).format(toDate(value));
}

/** "2026/11/28" */
export function formatDate(value) {
  if (!value) return '';
  return fmt({ year: 'numeric', month: '2-digit', day: '2-digit' }).format(toDate(value));
}

/** "10:00–11:00" (same day) */
export function formatTimeRange(start, end) {
  return `${formatTime(start)}–${formatTime(end)}`;
}

/** The calendar day (YYYY-MM-DD) in Asia/Shanghai of `value` (default now). */
export function shanghaiDay(value = new Date()) {
  const parts = new Intl.DateTimeFormat('en-CA', {
    timeZone: TIME_ZONE, year: 'numeric', month: '2-digit', day: '2-digit',
  }).formatToParts(toDate(value));
  const get = (type) => parts.find((p) => p.type === type)?.value;
  return `${get('year')}-${get('month')}-${get('day')}`;
}
