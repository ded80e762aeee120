// Static check of the app's two catalogues (no browser needed): zh-CN and English have the same
// keys and the same {placeholders} in each text, and every key the pages and scripts name exists.
import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const web = fileURLToPath(new URL('../../web/', import.meta.url));
const zh = (await import(`${web}i18n/zh-CN.js`)).default;
const en = (await import(`${web}i18n/en.js`)).default;
const problems = [];
const placeholders = (s) => [...String(s).matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort().join(',');

for (const k of Object.keys(zh)) if (!(k in en)) problems.push(`missing in en: ${k}`);
for (const k of Object.keys(en)) if (!(k in zh)) problems.push(`missing in zh-CN: ${k}`);
for (const k of Object.keys(zh)) {
  if (k in en && placeholders(zh[k]) !== placeholders(en[k])) problems.push(`placeholders differ: ${k}: {${placeholders(zh[k])}} vs {${placeholders(en[k])}}`);
  if (!String(zh[k]).trim() || (k in en && !String(en[k]).trim())) problems.push(`empty text: ${k}`);
}

// One word for one thing, the courts' word: the person is 信访人 (信访工作条例), never the
// colloquial 上访人, which the pages mixed with it.
const TERMS = [['上访人', '信访人']];
for (const k of Object.keys(zh)) {
  for (const [wrong, right] of TERMS) if (String(zh[k]).includes(wrong)) problems.push(`${k}: ${wrong}, where courts write ${right}`);
}

// Keys named in the pages and scripts.
const files = [
  ...readdirSync(web).filter((f) => f.endsWith('.html')).map((f) => `${web}${f}`),
  ...readdirSync(`${web}js`).filter((f) => f.endsWith('.js')).map((f) => `${web}js/${f}`),
];
const prefixes = [...new Set(Object.keys(zh).map((k) => k.split('.')[0]))];
const used = new Set();
for (const f of files) {
  const s = readFileSync(f, 'utf8');
  for (const m of s.matchAll(/data-i18n(?:-[a-z-]+)?=["']([^"']+)["']/g)) used.add(m[1]);
  for (const m of s.matchAll(/'data-i18n': '([^']+)'/g)) used.add(m[1]);
  // Any quoted string shaped like a catalogue key is taken to be one.
  for (const m of s.matchAll(new RegExp(`'((?:${prefixes.join('|')})\\.[A-Za-z0-9_.]+)'`, 'g'))) {
    if (!/\.(html|js|css|svg)$/.test(m[1])) used.add(m[1]);
  }
}
// Keys built at run time from closed sets of values.
const sets = {
  'media.': ['denied', 'notfound', 'busy', 'insecure', 'unknown', 'novideo', 'noaudio'],
  'call.socket.': ['connecting', 'open', 'reconnecting', 'closed', 'failed', 'replaced', 'removed', 'full', 'revoked'],
  'join.left.': ['left', 'failed', 'replaced', 'removed', 'full', 'revoked'],
  'outcome.': ['explained_law', 'into_procedure', 'review_filed', 'not_within_scope', 'no_longer_accepted', 'concluded', 'judicial_aid', 'assign', 'supervise', 'reception_stopped', 'withdrawn'],
  'ledger.channel.': ['local_visit', 'letter', 'phone', 'online', 'video_spc', 'video_high', 'video_intermediate', 'to_province', 'to_beijing'],
  'ledger.counted.': ['local', 'province', 'beijing'],
  'ledger.organ.': ['court', 'provincial_organ', 'central_organ'],
  'ledger.match.on.': ['petitioner', 'original_case'],
  'case.class.': ['litigation', 'petition'],
  // Every status a booking has (server/src/domain.rs): `completed` had no words and showed in English.
  'booking.status.': ['booked', 'cancelled', 'completed'],
  'app.status.': ['pending', 'proposed', 'more_info', 'approved', 'rejected', 'withdrawn'],
  'session.status.': ['scheduled', 'waiting', 'live', 'interrupted', 'ended', 'no_show'],
  'event.kind.': ['joined', 'admitted', 'replaced', 'emptied', 'identity_confirmed', 'leader_added', 'resumed', 'chat', 'quality', 'note', 'mute_requested', 'removed', 'left',
    'interrupted', 'no_show', 'ended', 'transcript_decided', 'rated', 'correction', 'status_changed', 'media_lost', 'media_restored',
    'outcome_corrected', 'recording_gap_started', 'recording_gap_ended', 'recording_track_skipped'],
  'satisfaction.': ['satisfied', 'basically_satisfied', 'dissatisfied'],
  'transcript.decision.': ['confirmed', 'refused'],
  'transcript.staff.': ['confirmed', 'refused'],
  'officer.transcript.state.': ['empty', 'unsaved', 'saving', 'saved', 'failed'],
  // Errors shown with a context (showError(box, err, context)) that have words of their own.
  'error.transcript.': ['session_ended'],
  'error.note.': ['session_ended'],
  'error.end.': ['session_ended'],
  'error.correction.': ['session_not_ended'],
  'error.outcomeFix.': ['forbidden'],
  'error.extension.': ['already_done'],
  'error.record.': ['unauthenticated'],
  'error.decision.': ['unauthenticated', 'session_not_ended'],
  'error.rating.': ['unauthenticated', 'session_not_ended'],
  'role.participant.': ['host', 'co_host', 'local_staff', 'petitioner', 'observer'],
  'role.staff.': ['coordinator', 'officer', 'supervisor'],
  'court.level.': ['high', 'intermediate'],
  'peer.state.': ['new', 'connecting', 'connected', 'disconnected', 'failed', 'closed'],
  'error.': ['malformed_json', 'bad_request', 'unauthenticated', 'bad_credentials', 'bad_join_code', 'forbidden',
    'outside_join_window', 'not_found', 'slot_taken', 'local_room_busy', 'session_ended', 'slot_past', 'session_full',
    'invalid_input', 'invalid_name', 'store_unavailable', 'network', 'session_not_held', 'already_done', 'session_not_ended',
    'correction_reason_required', 'outcome_unchanged', 'outcome_correction_assign', 'outcome_changed'],
};
for (const [prefix, values] of Object.entries(sets)) for (const v of values) used.add(`${prefix}${v}`);
for (const k of used) {
  if (!(k in zh) && !Object.keys(zh).some((z) => z.startsWith(`${k}.`))) problems.push(`used but missing: ${k}`);
}

// One name for the code on the notice, on every page and message (issue 18 item 2): 接访码 in
// Chinese, "join code" in English; 入场码 and 参加码 were the other two names it had.
for (const [k, v] of Object.entries(zh)) {
  for (const other of ['入场码', '参加码', '入场二维码']) if (String(v).includes(other)) problems.push(`the join code is called ${other} in zh-CN ${k}; it is 接访码`);
}
for (const [k, v] of Object.entries(en)) {
  for (const other of [/entry code/i, /participation code/i, /access code/i]) if (other.test(String(v))) problems.push(`the join code is called ${other.source} in en ${k}; it is "join code"`);
}

for (const p of problems) console.log(`FAIL ${p}`);
console.log(`${problems.length ? 'FAILED' : 'passed'}: catalogues — ${Object.keys(zh).length} keys, ${used.size} named by the app, ${problems.length} problems`);
process.exit(problems.length ? 1 : 0);
