// The petitioner's device check (join.html, step 1): a microphone level meter (WebAudio
// AnalyserNode on the camera/microphone stream) and a speaker test (a short tone made by an
// OscillatorNode, then "did you hear it?"). Nothing is recorded or sent anywhere.
//
// Browsers start an AudioContext suspended until the user does something on the page; the meter
// then says so, and the first click or key press (for instance on "play a test sound") wakes it.
import { t } from './i18n.js';
import { $, announce } from './ui.js';

/** Above this level (RMS of the signal, 0–1) the microphone is taken to hear something. */
const HEARD_LEVEL = 0.02;

export function createDeviceCheck() {
  const meter = $('#mic-meter');
  const micResult = $('#mic-result');
  const speakerButton = $('#speaker-test');
  const question = $('#speaker-question');
  const speakerResult = $('#speaker-result');
  let context = null;
  let source = null;
  let analyser = null;
  let frame = 0;
  let stream = null;
  let micState = 'waiting'; // waiting | missing | asleep | quiet | heard
  let speakerState = 'untested'; // untested | playing | asked | heard | notHeard | unavailable

  function audioContext() {
    if (context) return context;
    const Ctor = window.AudioContext || window.webkitAudioContext;
    if (!Ctor) return null;
    context = new Ctor();
    context.addEventListener('statechange', () => {
      if (context.state === 'running' && micState === 'asleep') setMic('quiet');
    });
    return context;
  }

  function setMic(next) {
    if (micState === next) return;
    micState = next;
    renderMic();
    if (next === 'heard') announce(t('device.mic.heard'));
  }

  function renderMic() {
    micResult.textContent = t(`device.mic.${micState}`);
    micResult.dataset.state = micState === 'heard' ? 'ok' : micState === 'missing' ? 'problem' : 'info';
    micResult.dataset.mic = micState;
  }

  function renderSpeaker() {
    question.hidden = speakerState !== 'asked';
    speakerButton.disabled = speakerState === 'playing';
    speakerButton.textContent = t(speakerState === 'untested' ? 'device.speaker.play' : 'device.speaker.again');
    const key = {
      untested: 'device.speaker.untested',
      playing: 'device.speaker.playing',
      asked: 'device.speaker.asked',
      heard: 'device.speaker.heard',
      notHeard: 'device.speaker.notHeard',
      unavailable: 'device.speaker.unavailable',
    }[speakerState];
    // While the question is on screen it says it all: the line below stays empty.
    speakerResult.textContent = speakerState === 'asked' ? '' : t(key);
    speakerResult.dataset.state = speakerState === 'heard' ? 'ok' : speakerState === 'notHeard' || speakerState === 'unavailable' ? 'problem' : 'info';
    speakerResult.dataset.speaker = speakerState;
  }

  function tick() {
    frame = requestAnimationFrame(tick);
    if (!analyser) return;
    if (context.state !== 'running') {
      if (micState !== 'heard') setMic('asleep');
      return;
    }
    const samples = new Float32Array(analyser.fftSize);
    analyser.getFloatTimeDomainData(samples);
    let sum = 0;
    for (const v of samples) sum += v * v;
    const rms = Math.sqrt(sum / samples.length);
    // A gentle curve so that ordinary speech fills a good part of the bar.
    meter.value = Math.min(1, Math.sqrt(rms) * 1.6);
    meter.dataset.level = rms.toFixed(4);
    if (rms > HEARD_LEVEL) setMic('heard');
    else if (micState !== 'heard') setMic('quiet');
  }

  /** Start (or restart) the meter on `next` (the stream of step 1, maybe without audio). */
  function attach(next) {
    stop();
    stream = next;
    micState = 'waiting';
    const track = stream?.getAudioTracks()[0];
    if (!track) {
      meter.value = 0;
      setMicForce('missing');
      return;
    }
    const ctx = audioContext();
    if (!ctx) {
      setMicForce('missing');
      return;
    }
    source = ctx.createMediaStreamSource(new MediaStream([track]));
    analyser = ctx.createAnalyser();
    analyser.fftSize = 1024;
    source.connect(analyser);
    ctx.resume().catch(() => {});
    setMicForce(ctx.state === 'running' ? 'quiet' : 'asleep');
    tick();
  }

  function setMicForce(next) {
    micState = next;
    renderMic();
  }

  /** Stop the meter (leaving step 1); the stream itself goes on to the call. */
  function stop() {
    cancelAnimationFrame(frame);
    frame = 0;
    if (source) source.disconnect();
    source = null;
    analyser = null;
  }

  function playTone() {
    const ctx = audioContext();
    if (!ctx) {
      speakerState = 'unavailable';
      renderSpeaker();
      return;
    }
    ctx.resume().catch(() => {});
    speakerState = 'playing';
    renderSpeaker();
    const now = ctx.currentTime;
    const gain = ctx.createGain();
    gain.gain.setValueAtTime(0.0001, now);
    gain.gain.exponentialRampToValueAtTime(0.3, now + 0.05);
    gain.gain.setValueAtTime(0.3, now + 1.1);
    gain.gain.exponentialRampToValueAtTime(0.0001, now + 1.4);
    gain.connect(ctx.destination);
    // Two notes, so that it sounds like a doorbell rather than a fault tone.
    for (const [freq, start, end] of [[660, 0, 0.7], [523, 0.7, 1.4]]) {
      const osc = ctx.createOscillator();
      osc.type = 'sine';
      osc.frequency.value = freq;
      osc.connect(gain);
      osc.start(now + start);
      osc.stop(now + end);
      if (end === 1.4) {
        osc.addEventListener('ended', () => {
          gain.disconnect();
          speakerState = 'asked';
          renderSpeaker();
          $('#speaker-yes').focus();
        });
      }
    }
  }

  speakerButton.addEventListener('click', playTone);
  $('#speaker-yes').addEventListener('click', () => {
    speakerState = 'heard';
    renderSpeaker();
    announce(t('device.speaker.heard'));
    speakerButton.focus();
  });
  $('#speaker-no').addEventListener('click', () => {
    speakerState = 'notHeard';
    renderSpeaker();
    announce(t('device.speaker.notHeard'));
    speakerButton.focus();
  });
  // The first gesture on the page wakes a suspended context (autoplay rules).
  const wake = () => {
    if (context && context.state !== 'running') context.resume().catch(() => {});
  };
  document.addEventListener('pointerdown', wake);
  document.addEventListener('keydown', wake);

  renderMic();
  renderSpeaker();
  const api = {
    attach,
    stop,
    render() {
      renderMic();
      renderSpeaker();
    },
    get mic() { return micState; },
    get speaker() { return speakerState; },
  };
  window.courtlinkDeviceCheck = api;
  return api;
}
