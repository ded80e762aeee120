// The officer is told when someone is waiting, without a refresh: the day's sessions are read
// again every few seconds (also while the tab is in the background), and a session that starts
// waiting raises an alert on the page (with a button to go in), a mark in the tab's title, a
// short sound, and a desktop notification if the officer allowed them. This is polling, not a
// push from the server: the alert comes within one interval.
import { t, onLangChange } from './i18n.js';
import { h } from './ui.js';

const EVERY_MS = Number(window.COURTLINK_WAIT_POLL_MS) > 0 ? Number(window.COURTLINK_WAIT_POLL_MS) : 10000;

/** Someone is in the session and no reception is under way: the host is wanted. */
const isWaiting = (s) => s.status === 'waiting';

function chime() {
  // Browsers may refuse sound before the page was touched: then the title and the alert remain.
  try {
    const Ctor = window.AudioContext || window.webkitAudioContext;
    const ctx = new Ctor();
    const now = ctx.currentTime;
    for (const [at, hz] of [[0, 880], [0.25, 660]]) {
      const osc = ctx.createOscillator();
      const gain = ctx.createGain();
      osc.frequency.value = hz;
      gain.gain.setValueAtTime(0.2, now + at);
      gain.gain.exponentialRampToValueAtTime(0.001, now + at + 0.22);
      osc.connect(gain).connect(ctx.destination);
      osc.start(now + at);
      osc.stop(now + at + 0.25);
    }
    setTimeout(() => ctx.close(), 1000);
  } catch { /* no sound */ }
}

/**
 * `box`: where the alerts go. `load()`: today's sessions. `canJoin`: whether the user receives
 * (officers) or only listens in. `onJoin(session)`: go into it. `onSessions(list)`: the fresh list.
 * `busyWith()`: the id of the session the user is already in (not alerted).
 */
export function mountWaitingAlert(box, { load, canJoin, onJoin, onSessions, busyWith = () => null }) {
  const baseTitle = document.title;
  let waiting = [];
  let known = null; // ids seen waiting at the last look; null before the first
  let timer = null;

  const permission = () => (typeof Notification === 'undefined' ? 'unsupported' : Notification.permission);

  function render() {
    document.title = waiting.length ? `${t('officer.waiting.title', { count: waiting.length })}${baseTitle}` : baseTitle;
    const items = waiting.map((s) => h('li', { class: 'waiting-alert', 'data-testid': 'waiting-alert', 'data-session-id': s.id },
      h('span', {}, t('officer.waiting.one', { number: s.case_number, local: s.local_court, room: s.local_room })),
      canJoin ? h('button', { type: 'button', class: 'primary', 'data-testid': 'waiting-join', 'data-session-id': s.id, onclick: () => onJoin(s) },
        t('officer.list.join')) : null));
    const ask = permission() === 'default' && waiting.length
      ? h('button', {
        type: 'button', class: 'secondary', 'data-testid': 'waiting-notify',
        onclick: async () => { await Notification.requestPermission(); render(); },
      }, t('officer.waiting.allowDesktop'))
      : null;
    box.hidden = !waiting.length;
    box.replaceChildren(...(waiting.length ? [h('ul', { class: 'waiting-alerts' }, items), ask] : []));
  }

  async function look() {
    let sessions;
    try {
      sessions = await load();
    } catch {
      return; // the next look tries again; the page's own refresh shows errors
    }
    onSessions?.(sessions);
    waiting = sessions.filter((s) => isWaiting(s) && s.id !== busyWith());
    const now = new Set(waiting.map((s) => s.id));
    const fresh = known ? waiting.filter((s) => !known.has(s.id)) : waiting;
    known = now;
    render();
    if (fresh.length) {
      box.dataset.alerted = String(Number(box.dataset.alerted || 0) + 1);
      chime();
      if (permission() === 'granted' && document.visibilityState !== 'visible') {
        for (const s of fresh) new Notification(t('officer.waiting.notify'), { body: t('officer.waiting.one', { number: s.case_number, local: s.local_court, room: s.local_room }), tag: `waiting-${s.id}` });
      }
    }
  }

  onLangChange(render);
  look();
  timer = setInterval(look, EVERY_MS);
  return { look, stop: () => clearInterval(timer) };
}
