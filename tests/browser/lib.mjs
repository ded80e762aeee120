// Shared helpers for CourtLink's browser tests: headless Chromium (Debian's) driven by
// playwright-core against a real server that tests/browser.rs started.
//
// Environment (set by tests/browser.rs):
//   COURTLINK_BASE_URL       the server, e.g. http://127.0.0.1:41234
//   COURTLINK_DEMO_PASSWORD  every demo user's password
//   COURTLINK_ARTIFACTS      folder for screenshots (emptied by the Rust side first)
//   COURTLINK_CHROMIUM       the browser (default /usr/bin/chromium)
//
// A script prints one line per check (`ok   …`), stops at the first failure (`FAIL …`, plus a
// screenshot of every open page as FAILED-*.png) and exits non-zero.
import { chromium } from 'playwright-core';
import { appendFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const BASE = required('COURTLINK_BASE_URL').replace(/\/$/, '');
export const PASSWORD = required('COURTLINK_DEMO_PASSWORD');
export const ARTIFACTS = required('COURTLINK_ARTIFACTS');
const CHROMIUM = process.env.COURTLINK_CHROMIUM || '/usr/bin/chromium';
mkdirSync(ARTIFACTS, { recursive: true });

function required(name) {
  const value = process.env[name];
  if (!value) {
    console.error(`${name} is not set (tests/browser.rs sets it)`);
    process.exit(2);
  }
  return value;
}

// docs: /work/shared/NOTES.md. Without the mDNS flag local candidates are `.local` names that do
// not resolve here: signalling succeeds and media never flows.
export const CHROMIUM_ARGS = [
  '--headless=new', '--no-sandbox', '--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream',
  '--disable-features=WebRtcHideLocalIpsWithMdns', '--disable-background-networking', '--disable-component-update',
  '--disable-sync', '--no-first-run',
  // More flags for one test, e.g. a server on a test network's address, which is not a secure
  // context for the camera unless the browser is told to treat it as one.
  ...(process.env.COURTLINK_CHROMIUM_EXTRA_ARGS || '').split(' ').filter(Boolean),
];

export const DESK = { viewport: { width: 1366, height: 900 } };
export const PHONE = { viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true };

/** A phone or desk context with the browser language set as a Chinese or English user's would be. */
export function contextOptions(kind, locale = 'zh-CN') {
  return { ...(kind === 'phone' ? PHONE : DESK), locale, timezoneId: 'Asia/Shanghai' };
}

const pages = new Map(); // label → page, for screenshots on failure
let browser = null;
let profileDir = null;
let checks = 0;

/**
 * Runs `body(browser)` in a fresh headless Chromium with its own, fresh user-data-dir; exits the
 * process with 0 when every check passed, 1 at the first failure or after `limitSeconds`.
 */
export async function run(name, body, { limitSeconds = 150 } = {}) {
  const started = Date.now();
  const timer = setTimeout(async () => {
    console.log(`FAIL ${name}: still running after ${limitSeconds} s`);
    await failureShots();
    process.exit(1);
  }, limitSeconds * 1000);
  let failed = false;
  try {
    // A persistent context is the only way to name the profile folder ourselves; the tests need
    // several isolated contexts, so the one Chromium gets a fresh folder through launch's
    // `--user-data-dir` handling instead: playwright-core makes one per launch under TMPDIR,
    // which we point at a folder of our own and delete afterwards.
    profileDir = mkdtempSync(join(tmpdir(), 'courtlink-chromium-'));
    process.env.TMPDIR = profileDir;
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, timeout: 30000 });
    console.log(`chromium ${browser.version()} at ${CHROMIUM}; ${BASE}`);
    await body(browser);
  } catch (err) {
    failed = true;
    console.log(`FAIL ${name}: ${err && err.stack ? err.stack.split('\n').slice(0, 4).join('\n    ') : err}`);
    await failureShots();
  } finally {
    clearTimeout(timer);
    if (browser) await browser.close().catch(() => {});
    if (profileDir) rmSync(profileDir, { recursive: true, force: true });
  }
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  console.log(`${failed ? 'FAILED' : 'passed'}: ${name} — ${checks} checks in ${seconds} s; screenshots in ${ARTIFACTS}`);
  process.exit(failed ? 1 : 0);
}

async function failureShots() {
  for (const [label, page] of pages) {
    if (page.isClosed()) continue;
    await page.screenshot({ path: join(ARTIFACTS, `FAILED-${label}.png`), fullPage: true, timeout: 5000 }).catch(() => {});
  }
}

/** A new page in a new context, its console errors and page errors echoed with `label`. */
export async function newPage(label, kind = 'desk', { locale = 'zh-CN', init } = {}) {
  const context = await browser.newContext(contextOptions(kind, locale));
  if (init) await context.addInitScript(init);
  const page = await context.newPage();
  page.setDefaultTimeout(15000);
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') console.log(`  [${label} ${m.type()}] ${m.text()}`);
  });
  page.on('pageerror', (e) => console.log(`  [${label} pageerror] ${e.message}`));
  pages.set(label, page);
  return page;
}

export class CheckFailed extends Error {}

/** One check: prints `ok   name`, or throws (which stops the script) with `detail`. */
export function check(name, ok, detail = '') {
  if (!ok) throw new CheckFailed(`${name}${detail === '' ? '' : ` — got ${typeof detail === 'string' ? detail : JSON.stringify(detail)}`}`);
  checks += 1;
  console.log(`ok   ${name}`);
}

export async function shot(page, name) {
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
  await accessibility(page, name);
  // Every screen a test photographs shows words, never a catalogue key (issue 18 item 11).
  const { zh } = await catalogues();
  const keys = await page.evaluate((all) => {
    const shown = document.body.innerText;
    return all.filter((k) => k.includes('.') && shown.includes(k));
  }, Object.keys(zh));
  check(`${name}: no catalogue key on the screen`, keys.length === 0, keys);
}

// axe-core (docs/accessibility.md): every screen a test photographs is checked as it stands.
// Evaluated through the DevTools protocol, which the pages' Content-Security-Policy (scripts
// from CourtLink's own origin only) does not govern.
let axeSource = null;
const A11Y_GATE = new Set(['critical', 'serious']);

/**
 * Run axe-core on the page; every violation goes to a11y.jsonl in the artifacts, and a serious
 * or critical one fails the test (issue 18: 0 serious or critical).
 */
export async function accessibility(page, name) {
  axeSource ??= readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
  if (!(await page.evaluate(() => Boolean(window.axe)))) await page.evaluate(axeSource);
  const violations = await page.evaluate(async () => {
    const result = await window.axe.run(document, { resultTypes: ['violations'] });
    return result.violations.map((v) => ({
      id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 5).map((n) => n.target.join(' ')),
    }));
  });
  for (const v of violations) appendFileSync(join(ARTIFACTS, 'a11y.jsonl'), `${JSON.stringify({ screen: name, ...v })}\n`);
  const gated = violations.filter((v) => A11Y_GATE.has(v.impact));
  if (process.env.A11Y_REPORT_ONLY) return;
  check(`${name}: no serious or critical accessibility violation (axe-core)`, gated.length === 0, gated);
}

export const text = async (page, selector) => ((await page.textContent(selector)) || '').trim();

/** Log in on the login page, pressing Enter in the password field. */
export async function login(page, username, password = PASSWORD) {
  await page.goto(`${BASE}/`);
  await page.fill('#login-username', username);
  await page.fill('#login-password', password);
  await page.press('#login-password', 'Enter');
}

/**
 * Two buttons side by side stand apart (at least 8 px) on one line (centres within 2 px): the
 * walk found pairs that touched, the second a line lower. Returns [ok, the two boxes].
 *
 * Both boxes are measured in one turn of the page's script: the page may draw the pair again
 * at any moment (the coordinator's result is redrawn when the week reloads after a booking),
 * and two separate measurements could each meet the pair between two drawings (CI, stop 36:
 * both boxes null). Until both are on the screen, it measures again, for up to 5 s.
 */
export async function apartOnOneLine(page, first, second) {
  const measure = () => page.evaluate(([x, y]) => [x, y].map((sel) => {
    const el = document.querySelector(sel);
    const r = el?.getBoundingClientRect();
    return r && r.width > 0 && r.height > 0 ? { x: r.x, y: r.y, width: r.width, height: r.height } : null;
  }), [first, second]);
  let [a, b] = await measure();
  for (const deadline = Date.now() + 5000; !(a && b) && Date.now() < deadline;) {
    await page.waitForTimeout(100);
    [a, b] = await measure();
  }
  const ok = Boolean(a && b) && Math.abs(a.y + a.height / 2 - (b.y + b.height / 2)) < 2 && b.x - (a.x + a.width) >= 8;
  return [ok, { [first]: a, [second]: b }];
}

/** Per remote peer of the page's call: {id, connectionState, framesDecoded, …} (js/call.js). */
export async function callStats(page) {
  return page.evaluate(async () => (window.courtlinkCall ? window.courtlinkCall.stats() : []));
}

/**
 * Proof of a real call (NOTES.md): every one of `peers` peer connections is `connected`, and
 * its inbound video's framesDecoded rises between two getStats() calls a second apart.
 * `riseWithinMs` gives a line that is known to be slow longer to show the rise: a second
 * sample is taken each second until then (a key frame over a 250 kbit/s link takes seconds).
 */
export async function expectVideo(page, label, peers = 1, { riseWithinMs = 1000 } = {}) {
  const deadline = Date.now() + 30000;
  let first = [];
  for (;;) {
    first = await callStats(page);
    if (first.length === peers && first.every((s) => s.connectionState === 'connected' && s.framesDecoded > 0)) break;
    if (Date.now() > deadline) break;
    await page.waitForTimeout(250);
  }
  check(`${label}: ${peers} peer connection(s) connected`,
    first.length === peers && first.every((s) => s.connectionState === 'connected'), first);
  const sampledAt = Date.now();
  let second = [];
  let rising = false;
  do {
    await page.waitForTimeout(1000);
    second = await callStats(page);
    rising = second.length === peers && second.every((s) => {
      const before = first.find((f) => f.id === s.id);
      return before && s.connectionState === 'connected' && s.framesDecoded > before.framesDecoded;
    });
  } while (!rising && Date.now() - sampledAt < riseWithinMs);
  const within = riseWithinMs > 1000 ? `within ${riseWithinMs / 1000} s` : 'a second later';
  check(`${label}: video frames decoded, rising ${within}`, rising,
    `${JSON.stringify(first.map((s) => [s.id, s.framesDecoded]))} → ${JSON.stringify(second.map((s) => [s.id, s.framesDecoded, s.connectionState]))}`);
}

// ---- the API, for set-up only (what is tested goes through the pages) ----

export async function apiCall(method, path, { token, body } = {}) {
  const headers = {};
  if (token) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`${BASE}/api/v1${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const raw = await res.text();
  let data = null;
  try {
    data = raw ? JSON.parse(raw) : null;
  } catch {
    data = raw;
  }
  return { status: res.status, data };
}

export async function apiLogin(username) {
  const { status, data } = await apiCall('POST', '/auth/login', { body: { username, password: PASSWORD } });
  if (status !== 200) throw new Error(`login ${username}: ${status} ${JSON.stringify(data)}`);
  return data.token;
}

/** The calendar day (YYYY-MM-DD) in Beijing of `ms` since the epoch, as the pages count days. */
export function shanghaiDay(ms = Date.now()) {
  return new Intl.DateTimeFormat('en-CA', { timeZone: 'Asia/Shanghai', year: 'numeric', month: '2-digit', day: '2-digit' })
    .format(new Date(ms));
}

/**
 * True in the last half hour of a Sunday in Beijing: the slot of 23:30 has started, so the week a
 * calendar opens on has no slot left to book; the next one is Monday 00:00, next week.
 */
export function lateSundayInBeijing(ms = Date.now()) {
  const beijing = new Date(ms + 8 * 3600e3);
  return beijing.getUTCDay() === 0 && beijing.getUTCHours() * 60 + beijing.getUTCMinutes() >= 23 * 60 + 30;
}

/** True when a slot ending at `endsAt` is still some minutes from its end (its join code works now). */
export function usableNow(endsAt, marginMinutes = 5) {
  return Date.parse(endsAt) > Date.now() + marginMinutes * 60e3;
}

/**
 * `coordinator` books, through the API, the earliest slot of a court of `level` that the join
 * code works for now. Returns the booking (with join_code and join_path).
 */
export async function apiBookNow(coordinator, level) {
  const token = await apiLogin(coordinator);
  const [slots, rooms, cases] = await Promise.all(['/slots', '/local-rooms', '/cases']
    .map((p) => apiCall('GET', p, { token }).then((r) => r.data)));
  const slot = slots.filter((s) => s.court.level === level && usableNow(s.ends_at))
    .sort((a, b) => a.starts_at.localeCompare(b.starts_at))[0];
  if (!slot) throw new Error(`no ${level} slot open now for ${coordinator}`);
  const { status, data } = await apiCall('POST', '/bookings', {
    token, body: { slot_id: slot.id, case_id: cases[0].id, local_room_id: rooms[0].id },
  });
  if (status !== 201) throw new Error(`booking: ${status} ${JSON.stringify(data)}`);
  return { ...data, case_id: cases[0].id, slot };
}

/** The officer logs in, finds the session in today's list and joins it. */
export async function officerJoins(page, username, sessionId) {
  await login(page, username);
  await page.waitForURL(/officer\.html/);
  const join = `[data-testid=session-join][data-session-id="${sessionId}"]`;
  await page.click(join);
  await page.waitForSelector('#call-view:not([hidden])');
  await page.waitForFunction(() => window.courtlinkCall && window.courtlinkCall.you);
}

/** The host lets the petitioner in from the waiting room (the button on the host's page). */
/** Pages report connection quality every 2 s (10 s in use): pass as `newPage(…, { init })`. */
export const QUICK_QUALITY = () => { window.COURTLINK_QUALITY_MS = 2000; };

/**
 * Waits until both pages have sent a quality report from now on: the evidence of media that a
 * session needs before it can be ended with an outcome (docs/lifecycle.md).
 */
export async function mediaReported(officer, petitioner) {
  for (const page of [officer, petitioner]) {
    const before = await page.evaluate(() => window.courtlinkCall.qualityReports);
    await page.waitForFunction((n) => window.courtlinkCall.qualityReports > n, before, { timeout: 15000 });
  }
}

export async function admitPetitioner(officer, petitioner) {
  const admit = '[data-testid=admit-button][data-participant-id="petitioner"]';
  await officer.click(admit);
  await petitioner.waitForFunction(() => window.courtlinkCall && window.courtlinkCall.state === 'admitted');
  await officer.waitForSelector(admit, { state: 'detached' });
}

/** `coordinator` books, through the API, a slot of a court of `level` at least `hours` ahead. */
export async function apiBookLater(coordinator, level, hours) {
  const token = await apiLogin(coordinator);
  const [slots, rooms, cases] = await Promise.all(['/slots', '/local-rooms', '/cases']
    .map((p) => apiCall('GET', p, { token }).then((r) => r.data)));
  const slot = slots.filter((s) => s.court.level === level && Date.parse(s.starts_at) > Date.now() + hours * 3600e3)
    .sort((a, b) => a.starts_at.localeCompare(b.starts_at))[0];
  if (!slot) throw new Error(`no ${level} slot ${hours} h ahead for ${coordinator}`);
  const { status, data } = await apiCall('POST', '/bookings', {
    token, body: { slot_id: slot.id, case_id: cases[cases.length - 1].id, local_room_id: rooms[0].id },
  });
  if (status !== 201) throw new Error(`booking: ${status} ${JSON.stringify(data)}`);
  return { ...data, slot };
}

/** The app's own catalogues, to compare what a page shows with what it should show. */
export async function catalogues() {
  const load = async (name) => (await import(new URL(`../../web/i18n/${name}.js`, import.meta.url))).default;
  return { zh: await load('zh-CN'), en: await load('en') };
}

/** The visible inputs and selects of the page that have no label (`<label for>` or aria-label). */
export async function unlabelledControls(page) {
  return page.evaluate(() => [...document.querySelectorAll('input, select, textarea')]
    .filter((el) => el.type !== 'hidden' && !el.closest('[hidden]'))
    .filter((el) => !el.getAttribute('aria-label') && !el.getAttribute('aria-labelledby')
      && !(el.id && document.querySelector(`label[for="${el.id}"]`)) && !el.closest('label'))
    .map((el) => el.outerHTML.slice(0, 80)));
}
