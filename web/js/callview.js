// The parts of the call screen shared by officer.html and join.html: remote video tiles,
// chat, and the microphone/camera buttons.
import { t, has, tEnum, formatTime, onLangChange } from './i18n.js';
import { h } from './ui.js';
import { setLocalEnabled } from './call.js';

/** A participant's name for people; the petitioner's is translated. */
export function participantName(participant) {
  if (!participant) return '';
  if (participant.role === 'petitioner' || participant.id === 'petitioner') return tEnum('role.participant', 'petitioner');
  return participant.name || tEnum('role.participant', participant.role) || participant.id;
}

/**
 * Keep `container` showing one video tile per remote participant of `call`.
 * Hosts come first (join.html shows the first tile big). `onChange(count)` after each change.
 */
export function mountRemoteVideos(container, call, { onChange } = {}) {
  const tiles = new Map();

  const order = (peer) => ({ host: 0, co_host: 1, local_staff: 2, petitioner: 3, observer: 4 }[peer.participant.role] ?? 5);

  // Hosts' buttons on a tile: ask to mute, send out. Shown once we know we are a host.
  function hostButtons(peer) {
    if (!call.moderates || peer.participant.role === 'observer') return [];
    return [
      h('button', {
        type: 'button', class: 'tile-button', 'data-testid': 'ask-mute', 'data-participant-id': peer.id,
        'data-i18n': 'call.askMute', onclick: () => call.askMute(peer.id, 'audio'),
      }, t('call.askMute')),
      h('button', {
        type: 'button', class: 'tile-button', 'data-testid': 'remove-participant', 'data-participant-id': peer.id,
        'data-i18n': 'call.remove',
        onclick: (e) => {
          // Two presses: the first asks for confirmation.
          const button = e.currentTarget;
          if (button.dataset.confirm === 'yes') {
            call.removeParticipant(peer.id);
            return;
          }
          button.dataset.confirm = 'yes';
          button.textContent = t('call.removeConfirm');
        },
      }, t('call.remove')),
    ];
  }

  function label(tile, peer) {
    const name = participantName(peer.participant);
    const role = tEnum('role.participant', peer.participant.role);
    tile.name.textContent = role && role !== name ? `${name}（${role}）` : name;
    const state = peer.pc.connectionState;
    tile.state.textContent = tEnum('peer.state', state);
    tile.root.dataset.state = state;
    const observer = peer.participant.role === 'observer';
    tile.waiting.textContent = t(observer ? 'call.observerTile' : 'call.connecting');
    tile.waiting.hidden = !observer && peer.stream.getVideoTracks().length > 0 && state === 'connected';
    // A dropped line: the picture would freeze under "connected"; say what is true instead.
    const lost = Boolean(peer.mediaLostAt);
    tile.root.dataset.media = lost ? 'lost' : 'flowing';
    tile.lost.hidden = !lost;
    if (lost) {
      tile.lost.textContent = t('call.mediaLost', { seconds: Math.max(0, Math.round((Date.now() - peer.mediaLostAt) / 1000)) });
    }
    tile.root.classList.toggle('observer', observer);
    if (tile.buttons.childElementCount === 0) tile.buttons.replaceChildren(...hostButtons(peer));
  }

  function update(peer) {
    let tile = tiles.get(peer.id);
    if (!tile) {
      const video = h('video', {
        class: 'remote-video', 'data-testid': 'remote-video', 'data-participant-id': peer.id,
        autoplay: true, playsinline: true,
      });
      const play = h('button', { type: 'button', class: 'play-button', hidden: true, 'data-i18n': 'call.play' }, t('call.play'));
      play.addEventListener('click', () => {
        video.play().then(() => {
          play.hidden = true;
        }).catch(() => {});
      });
      const waiting = h('p', { class: 'tile-waiting' }, t('call.connecting'));
      const lost = h('p', { class: 'tile-lost', 'data-testid': 'tile-media-lost', role: 'status', hidden: true });
      const buttons = h('span', { class: 'tile-buttons' });
      const name = h('span', { class: 'tile-name' });
      const state = h('span', { class: 'tile-state', 'data-testid': 'peer-state' });
      const root = h('figure', { class: 'tile', 'data-participant-id': peer.id, 'data-role': peer.participant.role },
        video, waiting, lost, play, h('figcaption', {}, name, state, buttons));
      tile = { root, video, play, waiting, lost, name, state, buttons, stream: null };
      tiles.set(peer.id, tile);
    }
    if (tile.stream !== peer.stream) {
      tile.stream = peer.stream;
      tile.video.srcObject = peer.stream;
    }
    if (peer.stream.getTracks().length && tile.video.paused) {
      tile.video.play().then(() => {
        tile.play.hidden = true;
      }).catch(() => {
        tile.play.hidden = false;
      });
    }
    label(tile, peer);
    place();
  }

  function place() {
    const peers = [...call.peers.values()].sort((a, b) => order(a) - order(b));
    const wanted = peers.map((p) => tiles.get(p.id)?.root).filter(Boolean);
    container.replaceChildren(...wanted);
    container.dataset.count = String(wanted.length);
    if (onChange) onChange(wanted.length);
  }

  call.addEventListener('peer', (e) => update(e.detail.peer));
  call.addEventListener('media', (e) => update(e.detail.peer));
  // The outage's seconds count up on the tile.
  const ticker = setInterval(() => {
    if (call.closed) {
      clearInterval(ticker);
      return;
    }
    for (const peer of call.peers.values()) {
      const tile = tiles.get(peer.id);
      if (tile && peer.mediaLostAt) label(tile, peer);
    }
  }, 1000);
  call.addEventListener('peerleft', (e) => {
    const tile = tiles.get(e.detail.id);
    if (tile) {
      tile.video.srcObject = null;
      tiles.delete(e.detail.id);
    }
    place();
  });
  onLangChange(() => {
    for (const peer of call.peers.values()) {
      const tile = tiles.get(peer.id);
      if (tile) {
        tile.buttons.replaceChildren();
        label(tile, peer);
      }
    }
  });
}

/** Hosts: the waiting room — who waits, with buttons to let them in or send them away. */
export function mountWaitingRoom(section, list, call) {
  const render = () => {
    const waiting = [...call.waiting.values()];
    section.hidden = !call.moderates || waiting.length === 0;
    list.replaceChildren(...waiting.map((p) => h('li', { class: 'waiting-item', 'data-participant-id': p.id },
      h('span', { class: 'waiting-name' }, participantName(p)),
      h('span', { class: 'button-row' },
        h('button', {
          type: 'button', class: 'primary', 'data-testid': 'admit-button', 'data-participant-id': p.id,
          onclick: () => call.admit(p.id),
        }, t('call.admit')),
        h('button', {
          type: 'button', class: 'secondary', 'data-testid': 'waiting-remove', 'data-participant-id': p.id,
          onclick: () => call.removeParticipant(p.id),
        }, t('call.remove'))))));
  };
  call.addEventListener('waitingroom', render);
  call.addEventListener('welcome', render);
  onLangChange(render);
  render();
}

/** Wire the chat form and log to `call`. `onError(key)` shows refusals (a catalogue key). */
export function mountChat({ form, input, log, call, onError }) {
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const text = input.value.trim();
    if (!text) {
      input.focus();
      return;
    }
    if (text.length > 2000) {
      onError?.('signal.error.chat_too_long');
      return;
    }
    if (call.sendChat(text)) {
      input.value = '';
      input.focus();
    } else {
      onError?.('chat.notConnected');
    }
  });
  const who = (m) => (m.mine ? t('chat.me') : participantName({ id: m.from, name: m.name }));
  call.addEventListener('chat', (e) => {
    const m = e.detail;
    const item = h('li', { class: m.mine ? 'chat-line mine' : 'chat-line', 'data-from': m.from },
      h('span', { class: 'chat-meta' }, h('span', { class: 'chat-name' }, who(m)), ' ',
        h('time', { datetime: m.at || '' }, formatTime(m.at || new Date()))),
      h('span', { class: 'chat-text' }, m.text));
    item.courtlinkChat = m;
    log.append(item);
    log.scrollTop = log.scrollHeight;
  });
  // "Me" and the petitioner's name follow a language switch.
  onLangChange(() => {
    for (const item of log.children) {
      const name = item.courtlinkChat && item.querySelector('.chat-name');
      if (name) name.textContent = who(item.courtlinkChat);
    }
  });
  call.addEventListener('servererror', (e) => {
    const key = `signal.error.${e.detail.code}`;
    onError?.(has(key) ? key : 'signal.error.other');
  });
}

/**
 * A toggle button for the local microphone or camera. The label says what pressing it does
 * (静音 / 取消静音). Returns a function that re-renders the label.
 */
export function mountMediaToggle(button, stream, kind, call) {
  const tracks = () => (stream ? stream.getTracks().filter((tr) => tr.kind === kind) : []);
  const has = tracks().length > 0;
  const keys = kind === 'audio'
    ? { on: 'call.mute', off: 'call.unmute', none: 'call.noMic' }
    : { on: 'call.cameraOff', off: 'call.cameraOn', none: 'call.noCamera' };
  const render = () => {
    const on = has && tracks().some((tr) => tr.enabled);
    button.textContent = t(has ? (on ? keys.on : keys.off) : keys.none);
    button.setAttribute('aria-pressed', String(has && !on));
    button.disabled = !has;
    button.dataset.on = String(on);
  };
  button.addEventListener('click', () => {
    const on = tracks().some((tr) => tr.enabled);
    setLocalEnabled(stream, kind, !on);
    render();
  });
  // A host may mute us: the button follows.
  if (call) call.addEventListener('mute', render);
  render();
  onLangChange(render);
  return render;
}

/**
 * The line's quality for the officer: the grade of the last quality report (call.js
 * `qualityGrade`), with its figures on the badge's title. Hidden until the first report.
 */
export function mountQuality(badge, call) {
  badge.hidden = true;
  let last = null;
  const render = () => {
    if (!last) return;
    badge.hidden = false;
    badge.dataset.grade = last.grade;
    badge.textContent = t('call.quality', { grade: tEnum('call.quality.grade', last.grade) });
    badge.title = t('call.quality.figures', {
      rtt: Math.round(last.rtt_ms),
      loss: (last.packet_loss * 100).toFixed(1),
      kbps: Math.round(last.bitrate_kbps),
    });
  };
  call.addEventListener('quality', (e) => {
    last = e.detail;
    render();
  });
  onLangChange(render);
}

/**
 * 录音录像中 on every page of the call: a red dot with words, shown while the server says the
 * session is recorded. A host or co-host (who can do something about it) sees 录像中断 while the
 * recorder misses part of the call; the others keep seeing that the reception is on record,
 * which it still is. Hidden before the first `recording` message and after `off`.
 */
export function mountRecordingBadge(badge, call) {
  const text = badge.querySelector('.rec-text') || badge;
  // The page mounts the same badge again for its next call: only the newest call draws on it.
  badge.courtlinkCall = call;
  const render = () => {
    if (badge.courtlinkCall !== call) return;
    const r = call.recording;
    if (!r || r.state === 'off') {
      badge.hidden = true;
      badge.dataset.state = r ? r.state : '';
      return;
    }
    const interrupted = r.state === 'interrupted' && call.moderates;
    badge.hidden = false;
    badge.dataset.state = interrupted ? 'interrupted' : 'on';
    text.textContent = t(interrupted ? 'call.recording.interrupted' : 'call.recording.on');
    badge.title = r.at ? t(interrupted ? 'call.recording.interruptedSince' : 'call.recording.since', { time: formatTime(r.at) }) : '';
  };
  call.addEventListener('recording', render);
  call.addEventListener('welcome', render);
  onLangChange(render);
  render();
}
