// OmniGateway playground: plain JavaScript, no framework, no build step. Talks to the gateway it is served by.
'use strict';

const $ = (id) => document.getElementById(id);
const KEY_STORAGE = 'omnigateway.tenantKey';
let attachedAudio = null; // { data: base64, format, label }
let running = null;       // AbortController of the answer being streamed

// ---------- errors next to the field they name ----------

const ERROR_FIELDS = ['key', 'model', 'voice', 'modalities', 'prompt', 'audio', 'send', 'usage-from', 'usage-to', 'admin-key', 'usage'];

function clearErrors() {
  for (const name of ERROR_FIELDS) showError(name, null);
}

function showError(name, message) {
  const box = $(name + '-error');
  box.textContent = message || '';
  box.hidden = !message;
  const control = $(name === 'audio' ? 'audio-file' : name);
  if (control && control.tagName !== 'BUTTON' && control.tagName !== 'FORM') {
    if (message) control.setAttribute('aria-invalid', 'true'); else control.removeAttribute('aria-invalid');
  }
}

// A 400's `param` says which field to fix: "audio.voice", "model", "input[0].content[1].input_audio.format", …
function fieldOf(param) {
  if (!param) return null;
  if (param === 'model') return 'model';
  if (param.startsWith('audio.voice') || param === 'voice') return 'voice';
  if (param.startsWith('modalities')) return 'modalities';
  if (param.includes('input_audio')) return 'audio';
  if (param.startsWith('input')) return 'prompt';
  if (param === 'from') return 'usage-from';
  if (param === 'to') return 'usage-to';
  return null;
}

/** Shows an error object's message next to its field; 401 at the key, 429 with its Retry-After at `fallback`. */
async function showHttpError(response, fallback, keyField) {
  let error = { message: `HTTP ${response.status}` };
  try { error = (await response.json()).error || error; } catch { /* not JSON: keep the status */ }
  let message = error.message;
  const retryAfter = response.headers.get('Retry-After');
  if (response.status === 429 && retryAfter) message += ` (Retry-After: ${retryAfter} s)`;
  const field = response.status === 401 || (response.status === 403 && keyField === 'admin-key') ? keyField : fieldOf(error.param) || fallback;
  showError(field, message);
}

function authHeaders(key) {
  return key ? { Authorization: 'Bearer ' + key } : {};
}

// ---------- views ----------

function showView() {
  const usage = location.hash === '#usage';
  $('view-answer').hidden = usage;
  $('view-usage').hidden = !usage;
  $(usage ? 'tab-usage' : 'tab-answer').setAttribute('aria-current', 'page');
  $(usage ? 'tab-answer' : 'tab-usage').removeAttribute('aria-current');
}

// ---------- models and voices ----------

let catalogKey = null; // the key the model and voice lists were loaded with

async function loadCatalog() {
  const key = $('key').value.trim();
  if (!key || key === catalogKey) return;
  catalogKey = key;
  showError('key', null);
  const response = await fetch('/v1/models', { headers: authHeaders(key) });
  if (!response.ok) { catalogKey = null; return showHttpError(response, 'key', 'key'); }
  const models = (await response.json()).data;
  const select = $('model');
  const previous = select.value;
  select.replaceChildren(...models.map((m) => new Option(m.id, m.id)));
  if (models.some((m) => m.id === previous)) select.value = previous;
  await loadVoices();
}

async function loadVoices() {
  const model = $('model').value;
  if (!model) return;
  const response = await fetch('/v1/voices?model=' + encodeURIComponent(model), { headers: authHeaders($('key').value.trim()) });
  if (!response.ok) return showHttpError(response, 'voice', 'key');
  const voices = (await response.json()).data;
  const groups = [['Verified', voices.filter((v) => v.verified)], ['Other voices', voices.filter((v) => !v.verified)]];
  const select = $('voice');
  const previous = select.value;
  select.replaceChildren(...groups.filter(([, list]) => list.length).map(([label, list]) => {
    const group = document.createElement('optgroup');
    group.label = label;
    for (const v of list) {
      const option = new Option((v.verified ? '✓ ' : '') + v.name + (v.languages.length ? ` (${v.languages.slice(0, 3).join(', ')}${v.languages.length > 3 ? ', …' : ''})` : ''), v.name);
      option.dataset.verified = String(v.verified);
      group.append(option);
    }
    return group;
  }));
  if (voices.some((v) => v.name === previous)) select.value = previous;
}

// ---------- audio input: a file, or a recording turned into a 16 kHz mono WAV ----------

const FORMAT_BY_EXTENSION = { m4a: 'aac', mpeg: 'mp3', oga: 'ogg', opus: 'ogg' };
const FORMAT_BY_MIME = { 'audio/wav': 'wav', 'audio/x-wav': 'wav', 'audio/wave': 'wav', 'audio/mpeg': 'mp3', 'audio/mp3': 'mp3',
  'audio/aac': 'aac', 'audio/mp4': 'aac', 'audio/x-m4a': 'aac', 'audio/ogg': 'ogg', 'audio/flac': 'flac', 'audio/x-flac': 'flac',
  'audio/amr': 'amr', 'audio/3gpp': '3gp' };

function formatOf(file) {
  const extension = (file.name.split('.').pop() || '').toLowerCase();
  return FORMAT_BY_MIME[file.type] || FORMAT_BY_EXTENSION[extension] || extension;
}

function base64Of(blob) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(String(reader.result).slice(String(reader.result).indexOf(',') + 1));
    reader.onerror = () => reject(reader.error);
    reader.readAsDataURL(blob);
  });
}

function attach(audio) {
  attachedAudio = audio;
  $('clear-audio').disabled = !audio;
  $('audio-status').textContent = audio ? `Attached: ${audio.label} (sent inline as base64, format "${audio.format}").` : 'No audio attached.';
}

async function onFileChosen() {
  showError('audio', null);
  const file = $('audio-file').files[0];
  if (!file) return attach(null);
  attach({ data: await base64Of(file), format: formatOf(file), label: file.name });
}

let recorder = null;

async function toggleRecording() {
  const button = $('record');
  if (recorder) { recorder.stop(); return; }
  showError('audio', null);
  let stream;
  try {
    stream = await navigator.mediaDevices.getUserMedia({ audio: true });
  } catch (e) {
    return showError('audio', 'The microphone is not available: ' + e.message);
  }
  const chunks = [];
  recorder = new MediaRecorder(stream);
  recorder.ondataavailable = (e) => chunks.push(e.data);
  recorder.onstop = async () => {
    stream.getTracks().forEach((t) => t.stop());
    recorder = null;
    button.setAttribute('aria-pressed', 'false');
    button.textContent = 'Record from microphone';
    try {
      const wav = await toWav(new Blob(chunks, { type: chunks[0]?.type }));
      attach({ data: await base64Of(wav.blob), format: 'wav', label: `recording, ${wav.seconds.toFixed(1)} s` });
      $('audio-file').value = '';
    } catch (e) {
      showError('audio', 'The recording could not be converted to WAV: ' + e.message);
    }
  };
  recorder.start();
  button.setAttribute('aria-pressed', 'true');
  button.textContent = 'Stop recording';
}

// The browser records WebM/Opus, which the model does not take: decode it and write 16 kHz mono 16-bit WAV.
async function toWav(blob) {
  const decoded = await new AudioContext().decodeAudioData(await blob.arrayBuffer());
  const rate = 16000;
  const offline = new OfflineAudioContext(1, Math.max(1, Math.ceil(decoded.duration * rate)), rate);
  const source = offline.createBufferSource();
  source.buffer = decoded;
  source.connect(offline.destination);
  source.start();
  const samples = (await offline.startRendering()).getChannelData(0);
  const pcm = new Int16Array(samples.length);
  for (let i = 0; i < samples.length; i++) pcm[i] = Math.max(-1, Math.min(1, samples[i])) * 0x7fff;
  return { blob: new Blob([wavHeader(pcm.byteLength, rate), pcm], { type: 'audio/wav' }), seconds: decoded.duration };
}

function wavHeader(dataBytes, rate) {
  const view = new DataView(new ArrayBuffer(44));
  const text = (at, s) => [...s].forEach((c, i) => view.setUint8(at + i, c.charCodeAt(0)));
  text(0, 'RIFF'); view.setUint32(4, 36 + dataBytes, true); text(8, 'WAVE');
  text(12, 'fmt '); view.setUint32(16, 16, true); view.setUint16(20, 1, true); view.setUint16(22, 1, true);
  view.setUint32(24, rate, true); view.setUint32(28, rate * 2, true); view.setUint16(32, 2, true); view.setUint16(34, 16, true);
  text(36, 'data'); view.setUint32(40, dataBytes, true);
  return view.buffer;
}

// ---------- the request ----------

function buildRequest() {
  const modalities = document.querySelector('input[name="modalities"]:checked').value.split(',');
  const content = [{ type: 'text', text: $('prompt').value }];
  if (attachedAudio) content.push({ type: 'input_audio', input_audio: { data: attachedAudio.data, format: attachedAudio.format } });
  const body = { model: $('model').value, input: [{ role: 'user', content }], stream: true, modalities };
  if (modalities.includes('audio')) body.audio = { voice: $('voice').value, format: 'wav' };
  return body;
}

// ---------- the answer: SSE read from a fetch stream ----------

/** Server-sent events from text pieces that may split anywhere, even inside a line or a CRLF. */
class SseParser {
  constructor(onEvent) { this.onEvent = onEvent; this.buffer = ''; this.scanned = 0; this.event = ''; this.data = []; }

  push(text) {
    this.buffer += text;
    let start = 0;
    for (let i = this.scanned; i < this.buffer.length; i++) {
      const c = this.buffer[i];
      if (c !== '\n' && c !== '\r') continue;
      if (c === '\r' && i + 1 === this.buffer.length) break; // its \n may come in the next piece
      this.line(this.buffer.slice(start, i));
      if (c === '\r' && this.buffer[i + 1] === '\n') i++;
      start = i + 1;
    }
    this.buffer = this.buffer.slice(start);
    this.scanned = this.buffer.endsWith('\r') ? this.buffer.length - 1 : this.buffer.length;
  }

  line(line) {
    if (line === '') {
      if (this.data.length) this.onEvent(this.event || 'message', this.data.join('\n'));
      this.event = ''; this.data = [];
      return;
    }
    if (line.startsWith(':')) return; // a comment (keep-alive)
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'data') this.data.push(value);
    else if (field === 'event') this.event = value;
  }
}

function bytesOf(base64) {
  const binary = atob(base64);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

// The WAV is a content part with audio.data in response.output_item.done (raw 24 kHz PCM if it lacks a RIFF header).
function audioOf(item) {
  const part = (item?.content || []).find((p) => p?.audio?.data);
  if (!part) return null;
  const bytes = bytesOf(part.audio.data);
  const isWav = String.fromCharCode(...bytes.subarray(0, 4)) === 'RIFF' && String.fromCharCode(...bytes.subarray(8, 12)) === 'WAVE';
  return new Blob(isWav ? [bytes] : [wavHeader(bytes.length, 24000), bytes], { type: 'audio/wav' });
}

function showUsage(usage) {
  $('stat-input').textContent = usage?.input_tokens ?? '–';
  $('stat-cached').textContent = usage?.input_tokens_details?.cached_tokens ?? '–';
  $('stat-output').textContent = usage?.output_tokens ?? '–';
  $('stat-total-tokens').textContent = usage?.total_tokens ?? '–';
}

const ms = (t) => `${Math.round(t)} ms`;

async function send(event) {
  event.preventDefault();
  if (running) return;
  clearErrors();
  const key = $('key').value.trim();
  if (!key) return showError('key', 'Enter your tenant key first.');
  const text = $('answer-text');
  const audio = $('answer-audio');
  text.textContent = '';
  if (audio.src) URL.revokeObjectURL(audio.src);
  audio.removeAttribute('src');
  audio.load();
  for (const id of ['ttfb', 'total', 'request']) $('stat-' + id).textContent = '–';
  showUsage(null);

  running = new AbortController();
  $('send').disabled = true;
  $('stop').disabled = false;
  const started = performance.now();
  try {
    const response = await fetch('/v1/responses', {
      method: 'POST',
      headers: { ...authHeaders(key), 'Content-Type': 'application/json', Accept: 'text/event-stream' },
      body: JSON.stringify(buildRequest()),
      signal: running.signal,
    });
    $('stat-request').textContent = response.headers.get('x-request-id') || '–';
    if (!response.ok) return await showHttpError(response, 'send', 'key');

    const parser = new SseParser((name, data) => {
      if (data === '[DONE]') return;
      const e = JSON.parse(data);
      switch (e.type || name) {
        case 'response.output_text.delta': text.append(e.delta); break;
        case 'response.output_item.done': {
          const wav = audioOf(e.item);
          if (wav) { audio.src = URL.createObjectURL(wav); audio.play().catch(() => { /* autoplay refused: the controls remain */ }); }
          break;
        }
        case 'response.completed':
        case 'response.incomplete':
          showUsage(e.response.usage);
          if (!audio.src) { const wav = (e.response.output || []).map(audioOf).find(Boolean); if (wav) audio.src = URL.createObjectURL(wav); }
          break;
        case 'response.failed': showUsage(e.response.usage); showError('send', e.response.error?.message || 'The response failed.'); break;
        case 'error': showError('send', e.message || 'The stream ended with an error.'); break;
        default: break; // other events (created, content_part.*, …) change nothing on the page
      }
    });
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let first = true;
    for (;;) {
      const { value, done } = await reader.read();
      if (first) { $('stat-ttfb').textContent = ms(performance.now() - started); first = false; }
      if (done) break;
      parser.push(value);
    }
  } catch (e) {
    if (e.name !== 'AbortError') showError('send', 'The request failed: ' + e.message);
  } finally {
    $('stat-total').textContent = ms(performance.now() - started);
    running = null;
    $('send').disabled = false;
    $('stop').disabled = true;
  }
}

// ---------- usage view ----------

const day = (iso) => iso.slice(0, 10);

async function loadUsage(event) {
  event.preventDefault();
  clearErrors();
  const adminKey = $('admin-key').value.trim();
  const key = adminKey || $('key').value.trim();
  if (!key) return showError('key', 'Enter your tenant key (or an admin key below) first.');
  const query = new URLSearchParams({ granularity: 'day' });
  if ($('usage-from').value) query.set('from', $('usage-from').value);
  if ($('usage-to').value) query.set('to', $('usage-to').value);
  const response = await fetch((adminKey ? '/admin/usage?' : '/v1/usage?') + query, { headers: authHeaders(key) });
  if (!response.ok) return showHttpError(response, 'usage', adminKey ? 'admin-key' : 'key');
  const rows = (await response.json()).data;
  drawChart(rows);
  fillTable(rows);
}

function fillTable(rows) {
  const body = $('usage-table').tBodies[0];
  body.replaceChildren(...rows.map((r) => {
    const tr = document.createElement('tr');
    for (const value of [day(r.period_start), r.tenant, r.model, r.requests, r.input_tokens, r.cached_tokens, r.output_tokens, r.total_tokens]) {
      tr.append(Object.assign(document.createElement('td'), { textContent: String(value) }));
    }
    return tr;
  }));
  if (!rows.length) body.append(Object.assign(document.createElement('tr'), { innerHTML: '<td colspan="8">No usage in this period.</td>' }));
}

const SVG = 'http://www.w3.org/2000/svg';
const KINDS = [['input', 'input_tokens'], ['output', 'output_tokens'], ['cached', 'cached_tokens']];

function svg(name, attributes, text) {
  const element = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attributes)) element.setAttribute(k, String(v));
  if (text !== undefined) element.textContent = text;
  return element;
}

// Grouped bars per UTC day (all models, and every tenant for the admin), plain SVG.
function drawChart(rows) {
  const chart = $('usage-chart');
  const days = new Map();
  for (const r of rows) {
    const d = days.get(day(r.period_start)) || { input_tokens: 0, output_tokens: 0, cached_tokens: 0 };
    for (const [, field] of KINDS) d[field] += r[field];
    days.set(day(r.period_start), d);
  }
  const entries = [...days.entries()].sort(([a], [b]) => a.localeCompare(b));
  // Narrow for few days, so the labels stay readable on a phone; wider as days are added.
  const height = 240, left = 56, bottom = 24, top = 12, width = Math.max(320, left + 8 + entries.length * 64);
  chart.setAttribute('viewBox', `0 0 ${width} ${height}`);
  const max = Math.max(1, ...entries.flatMap(([, d]) => KINDS.map(([, f]) => d[f])));
  const slot = (width - left - 8) / Math.max(1, entries.length);
  const bar = Math.max(2, Math.min(24, (slot - 8) / 3));
  const scale = (v) => (v / max) * (height - top - bottom);
  const parts = [
    svg('line', { class: 'axis', x1: left, y1: height - bottom, x2: width, y2: height - bottom }),
    svg('line', { class: 'axis', x1: left, y1: top, x2: left, y2: height - bottom }),
    svg('text', { x: left - 4, y: top + 8, 'text-anchor': 'end' }, max.toLocaleString('en')),
    svg('text', { x: left - 4, y: height - bottom, 'text-anchor': 'end' }, '0'),
  ];
  entries.forEach(([d, totals], i) => {
    const x0 = left + i * slot + (slot - 3 * bar) / 2;
    KINDS.forEach(([kind, field], k) => {
      const h = scale(totals[field]);
      const rect = svg('rect', { class: 'bar bar-' + kind, 'data-day': d, 'data-kind': kind, 'data-value': totals[field],
        x: x0 + k * bar, y: height - bottom - h, width: bar - 1, height: h });
      rect.append(svg('title', {}, `${d} ${kind}: ${totals[field].toLocaleString('en')} tokens`));
      parts.push(rect);
    });
    parts.push(svg('text', { x: left + i * slot + slot / 2, y: height - 8, 'text-anchor': 'middle' }, d.slice(5)));
  });
  if (!entries.length) parts.push(svg('text', { x: width / 2, y: height / 2, 'text-anchor': 'middle' }, 'No usage in this period'));
  chart.replaceChildren(...parts);
}

// ---------- start ----------

function start() {
  const key = $('key');
  key.value = sessionStorage.getItem(KEY_STORAGE) || '';
  key.addEventListener('change', () => {
    sessionStorage.setItem(KEY_STORAGE, key.value.trim());
    loadCatalog();
  });
  $('model').addEventListener('change', loadVoices);
  $('audio-file').addEventListener('change', onFileChosen);
  $('record').addEventListener('click', toggleRecording);
  $('clear-audio').addEventListener('click', () => { $('audio-file').value = ''; attach(null); });
  $('ask').addEventListener('submit', send);
  $('stop').addEventListener('click', () => running?.abort());
  $('usage-form').addEventListener('submit', loadUsage);
  const from = new Date(Date.now() - 13 * 86400000);
  $('usage-from').value = from.toISOString().slice(0, 10);
  window.addEventListener('hashchange', showView);
  showView();
  loadCatalog();
}

start();
