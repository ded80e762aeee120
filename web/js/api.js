// Fetch wrapper for /api/v1. Errors come back as {code, message}; they are turned into
// ApiError, and errorInfo() gives the user's words from the catalogue plus what to do next.
import { t, has } from './i18n.js';

const API_BASE = '/api/v1';
const STAFF_KEY = 'courtlink.staff';
const JOIN_KEY = 'courtlink.join';

function readJson(storage, key) {
  try {
    const raw = storage.getItem(key);
    return raw ? JSON.parse(raw) : null;
  } catch {
    return null;
  }
}

function notExpired(entry) {
  if (!entry || !entry.token) return null;
  if (entry.expires_at && Date.parse(entry.expires_at) <= Date.now()) return null;
  return entry;
}

/** The staff login kept in sessionStorage: {token, expires_at, user}. */
export const staffSession = {
  get() {
    return notExpired(readJson(sessionStorage, STAFF_KEY));
  },
  save({ token, expires_at, user }) {
    sessionStorage.setItem(STAFF_KEY, JSON.stringify({ token, expires_at, user }));
  },
  clear() {
    sessionStorage.removeItem(STAFF_KEY);
  },
};

/** The petitioner's join answer kept in sessionStorage. */
export const joinSession = {
  get() {
    return notExpired(readJson(sessionStorage, JOIN_KEY));
  },
  save(answer) {
    sessionStorage.setItem(JOIN_KEY, JSON.stringify(answer));
  },
  clear() {
    sessionStorage.removeItem(JOIN_KEY);
  },
};

export class ApiError extends Error {
  constructor({ status, code, serverMessage, rule, retryAfter, body }) {
    super(`${status} ${code}${serverMessage ? `: ${serverMessage}` : ''}`);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.serverMessage = serverMessage || '';
    // 422 ineligible names the eligibility rule that failed.
    this.rule = typeof rule === 'string' ? rule : '';
    // Seconds to wait before trying again (429 `Retry-After`), 0 when not said.
    this.retryAfter = Number(retryAfter) > 0 ? Math.ceil(Number(retryAfter)) : 0;
    // The whole error body, for answers that carry more (409 possible_duplicate: its matches).
    this.body = body && typeof body === 'object' ? body : null;
  }
}

/**
 * Call the API. `token` defaults to the staff token; pass `token: null` for none; `headers`
 * adds request headers (`If-Match`, `Idempotency-Key`).
 * Resolves to the decoded JSON body (or null), rejects with ApiError.
 */
export async function api(path, options = {}) {
  return (await apiWithEtag(path, options)).body;
}

/** As api(), resolving to `{body, etag}`: the answer's ETag (null when none) for a later If-Match. */
export async function apiWithEtag(path, options = {}) {
  try {
    return await request(path, options);
  } catch (err) {
    // A staff call refused for its token (expired, or none kept in this tab): renew it with the
    // sign-in's refresh cookie, silently, and try once more.
    if (options.token === undefined && err instanceof ApiError && err.status === 401
        && err.code === 'unauthenticated' && !path.startsWith('/auth/') && await refreshStaffToken()) {
      return request(path, options);
    }
    throw err;
  }
}

async function request(path, { method = 'GET', body, token, headers: extra } = {}) {
  const bearer = token === undefined ? staffSession.get()?.token : token;
  const headers = { ...(extra || {}), Accept: 'application/json' };
  // A file (a ledger to import) goes as it is; anything else as JSON.
  const raw = typeof Blob !== 'undefined' && body instanceof Blob;
  if (body !== undefined) headers['Content-Type'] = raw ? 'application/octet-stream' : 'application/json';
  if (bearer) headers.Authorization = `Bearer ${bearer}`;

  let response;
  try {
    response = await fetch(API_BASE + path, {
      method,
      headers,
      body: body === undefined || raw ? body : JSON.stringify(body),
      cache: 'no-store',
    });
  } catch {
    throw new ApiError({ status: 0, code: 'network' });
  }

  const text = await response.text().catch(() => '');
  let data = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = null;
    }
  }
  if (!response.ok) {
    const code = data && typeof data.code === 'string' ? data.code : `http_${response.status}`;
    const serverMessage = data && typeof data.message === 'string' ? data.message : '';
    throw new ApiError({
      status: response.status, code, serverMessage, rule: data?.rule, retryAfter: response.headers.get('Retry-After'), body: data,
    });
  }
  return { body: data, etag: response.headers.get('ETag') };
}

/** A fresh Idempotency-Key for one booking attempt (a retry of the same attempt reuses it). */
export function newIdempotencyKey() {
  if (globalThis.crypto?.randomUUID) return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return [...bytes].map((b) => b.toString(16).padStart(2, '0')).join('');
}

// Staff tokens are short (`auth.staff_token_minutes`); a login also starts a sign-in that lasts
// `auth.refresh_token_hours` (12), whose refresh token the server keeps in an HttpOnly cookie that
// no script can read (docs/security.md). The staff token is renewed with it (POST /auth/refresh,
// no bearer token: the cookie rotates at each use): every 10 minutes while a staff page is open,
// at once when the page comes back to the foreground with less than 5 minutes left (timers of
// hidden pages are throttled), when an API call is refused for its token, and when a new tab
// opens without a token of its own, so that a coordinator signs in once a day. A test may shorten
// the period by setting `window.COURTLINK_TOKEN_REFRESH_MS` before the page's scripts run.
const REFRESH_EVERY_MS = 10 * 60 * 1000;
const REFRESH_WHEN_LEFT_MS = 5 * 60 * 1000;
let refreshing = null;

async function renewWithCookie() {
  const before = staffSession.get();
  try {
    const answer = await request('/auth/refresh', { method: 'POST', token: null });
    if (!answer.body?.token) return false;
    // Logged in again meanwhile, as someone else: keep what is there.
    const now = staffSession.get();
    if (now && before && now.token !== before.token && now.user?.id !== answer.body.user?.id) return false;
    staffSession.save({
      token: answer.body.token, expires_at: answer.body.expires_at, user: answer.body.user || before?.user,
    });
    return true;
  } catch {
    return false;
  }
}

/**
 * Renew the staff token with the sign-in's refresh cookie. Resolves true when a fresh token is
 * stored. Tabs take turns (Web Locks): each use rotates the cookie, and a tab that sent the one
 * another tab had just used would end the sign-in for both (reuse detection).
 */
export function refreshStaffToken() {
  if (refreshing) return refreshing;
  const run = () => renewWithCookie();
  refreshing = (globalThis.navigator?.locks ? navigator.locks.request('courtlink.refresh', run) : run())
    .finally(() => {
      refreshing = null;
    });
  return refreshing;
}

let keepingFresh = false;

/** Keep the staff token fresh while this page is open (see above). */
export function keepStaffTokenFresh() {
  if (keepingFresh) return;
  keepingFresh = true;
  const every = Number(window.COURTLINK_TOKEN_REFRESH_MS) > 0 ? Number(window.COURTLINK_TOKEN_REFRESH_MS) : REFRESH_EVERY_MS;
  setInterval(refreshStaffToken, every);
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState !== 'visible') return;
    const entry = staffSession.get();
    if (entry?.expires_at && Date.parse(entry.expires_at) - Date.now() < REFRESH_WHEN_LEFT_MS) refreshStaffToken();
  });
}

// Contexts of the petitioner's page: no server details there, only the catalogue's words.
const PETITIONER_CONTEXTS = ['join', 'record', 'decision', 'rating'];

/**
 * What to tell the user about `err`: {message, next, detail}.
 * `context` picks a more specific text where one exists, e.g. 'login' → error.login.bad_credentials.
 */
export function errorInfo(err, context) {
  const code = err instanceof ApiError ? err.code : 'client';
  const keys = context ? [`error.${context}.${code}`, `error.${code}`] : [`error.${code}`];
  // An eligibility refusal says which rule failed, in words of its own where the catalogue has them.
  if (code === 'ineligible' && err.rule) keys.unshift(`error.ineligible.${err.rule}`);
  const key = keys.find((k) => has(k));
  if (key) {
    return {
      message: t(key),
      next: has(`${key}.next`) ? t(`${key}.next`) : '',
      // invalid_input names the field in the server's message: keep it as a detail for staff
      // (the petitioner's page shows only the catalogue's words).
      detail: !PETITIONER_CONTEXTS.includes(context) && (code === 'invalid_input' || code === 'bad_request') ? err.serverMessage : '',
      code,
    };
  }
  const status = err instanceof ApiError ? err.status : 0;
  return {
    message: t('error.unknown', { status: status || '—' }),
    next: t('error.unknown.next'),
    detail: err instanceof ApiError ? `${err.code}${err.serverMessage ? ` — ${err.serverMessage}` : ''}` : String(err),
    code,
  };
}
