// The playground, the usage view and CORS in a real headless Chromium (Debian's, driven by playwright-core).
// Run by tests/OmniGateway.IntegrationTests/Playground/PlaygroundBrowserTests.cs, which starts the gateway in
// simulator mode, seeds usage through the real ledger, serves two blank pages on other loopback origins and
// passes everything in environment variables.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';

const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run these tests through dotnet test (PlaygroundBrowserTests).`);
  return value;
};
const GATEWAY = env('GATEWAY_URL');
const TENANT_KEY = env('TENANT_KEY');
const SHOTS = env('SCREENSHOT_DIR');

let context;
let profile;

before(async () => {
  profile = await mkdtemp(path.join(tmpdir(), 'og-chromium-'));
  context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync',
      '--no-first-run', '--disable-quic', '--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream', '--autoplay-policy=no-user-gesture-required'],
    viewport: { width: 1000, height: 1200 },
    permissions: ['microphone'],
  });
});

after(async () => {
  await context?.close();
  if (profile) await rm(profile, { recursive: true, force: true });
});

async function openPlayground({ width = 1000, key = TENANT_KEY } = {}) {
  const page = await context.newPage();
  await page.setViewportSize({ width, height: 1200 });
  const problems = [];
  page.on('pageerror', (e) => problems.push(e.message));
  page.on('console', (m) => { if (m.type() === 'error' && !/status of (401|400|429)/.test(m.text())) problems.push(m.text()); });
  await page.goto(GATEWAY + '/playground');
  if (key) {
    await page.getByLabel('Tenant key').fill(key);
    await page.getByLabel('Tenant key').press('Tab');
    await page.waitForFunction(() => document.querySelectorAll('#voice option').length > 0);
  }
  return { page, problems };
}

/** Samples the answer's length every 10 ms in the page, from before Send until the usage shows. */
async function startSampling(page) {
  await page.evaluate(() => {
    window.samples = [];
    const text = document.getElementById('answer-text');
    window.sampler = setInterval(() => window.samples.push(text.textContent.length), 10);
  });
}

async function finishedAnswer(page) {
  await page.waitForFunction(() => document.getElementById('stat-total-tokens').textContent !== '–', null, { timeout: 20000 });
  await page.waitForFunction(() => !document.getElementById('send').disabled);
  return page.evaluate(() => { clearInterval(window.sampler); return window.samples; });
}

/** The usage object of the stream's response.completed, as the network delivered it. */
function completedUsage(sse) {
  const line = sse.split('\n').find((l) => l.startsWith('data: ') && l.includes('"type":"response.completed"'));
  assert.ok(line, 'the stream has a response.completed event');
  return JSON.parse(line.slice(6)).response.usage;
}

test('pick a voice, send a prompt: the text grows delta by delta, the WAV plays, the usage shown is the stream\'s', async () => {
  const { page, problems } = await openPlayground();
  const voice = page.getByLabel('Voice');
  const verified = await page.$$eval('#voice option', (options) => options.filter((o) => o.dataset.verified === 'true').map((o) => o.value));
  assert.deepEqual(verified.sort(), ['Serena', 'Tina'], 'the verified voices are marked');
  assert.ok(await page.$$eval('#voice option', (o) => o.length) > 50, 'every voice of the model is listed');
  await voice.selectOption('Serena');
  await page.getByLabel('Prompt').fill('Which voice is this?');
  await startSampling(page);

  const [response] = await Promise.all([
    page.waitForResponse((r) => r.url().endsWith('/v1/responses')),
    page.getByRole('button', { name: 'Send' }).click(),
  ]);
  const samples = await finishedAnswer(page);
  const request = JSON.parse(response.request().postData());
  assert.equal(request.audio.voice, 'Serena');
  assert.equal(request.stream, true);

  const distinct = [...new Set(samples)].filter((n) => n > 0);
  assert.ok(distinct.length >= 5, `the text grew over several samples, not all at once: ${distinct.join(', ')}`);
  const text = await page.locator('#answer-text').textContent();
  assert.match(text, /You asked: "Which voice is this\?"/);
  assert.equal(distinct.at(-1), text.length);

  // The WAV from response.output_item.done is in the <audio> element, and the browser decodes it.
  await page.waitForFunction(() => { const a = document.getElementById('answer-audio'); return a.src.startsWith('blob:') && a.duration > 0; });
  // The page's CSP (connect-src 'self') keeps even the test from fetching the blob: the stream says what it holds.
  const audio = await page.evaluate(() => ({ duration: document.getElementById('answer-audio').duration }));
  const sse = await response.text();
  const done = JSON.parse(sse.split('\n').find((l) => l.includes('"type":"response.output_item.done"')).slice(6));
  const wavBytes = Buffer.from(done.item.content.find((p) => p.audio?.data).audio.data, 'base64');
  assert.equal(wavBytes.subarray(0, 4).toString(), 'RIFF');
  assert.equal(wavBytes.subarray(8, 12).toString(), 'WAVE');
  assert.ok(audio.duration > 0.2 && audio.duration < 1, `the <audio> element decoded a 0.3 s tone, not ${audio.duration}`);

  const usage = completedUsage(sse);
  const shown = async (id) => Number(await page.locator('#stat-' + id).textContent());
  assert.equal(await shown('input'), usage.input_tokens);
  assert.equal(await shown('output'), usage.output_tokens);
  assert.equal(await shown('cached'), usage.input_tokens_details.cached_tokens);
  assert.equal(await shown('total-tokens'), usage.total_tokens);
  assert.match(await page.locator('#stat-ttfb').textContent(), /^\d+ ms$/);
  assert.match(await page.locator('#stat-total').textContent(), /^\d+ ms$/);
  assert.equal(await page.locator('#stat-request').textContent(), response.headers()['x-request-id']);
  assert.equal(await page.evaluate(() => sessionStorage.getItem('omnigateway.tenantKey')), TENANT_KEY, 'the key is kept in sessionStorage');
  assert.equal(await page.evaluate(() => localStorage.length + document.cookie.length), 0, 'and nowhere else');
  assert.ok(!page.url().includes(TENANT_KEY));
  await page.screenshot({ path: path.join(SHOTS, 'playground.png'), fullPage: true });
  assert.deepEqual(problems, []);
  await page.close();
});

test('keyboard only, at 360 px: every control has a label, nothing scrolls sideways, Tab reaches Send and Enter sends', async () => {
  const { page, problems } = await openPlayground({ width: 360 });
  const unlabelled = await page.$$eval('input, select, textarea, button', (controls) =>
    controls.filter((c) => c.tagName === 'BUTTON' ? !c.textContent.trim() : c.labels.length === 0).map((c) => c.id || c.outerHTML));
  assert.deepEqual(unlabelled, []);
  assert.ok(await page.evaluate(() => document.documentElement.scrollWidth) <= 360, 'no horizontal scrolling at 360 px');

  await page.getByLabel('Prompt').focus();
  let focused = '';
  for (let i = 0; i < 10 && focused !== 'send'; i++) {
    await page.keyboard.press('Tab');
    focused = await page.evaluate(() => document.activeElement.id);
  }
  assert.equal(focused, 'send', 'Tab reaches Send');
  await page.keyboard.press('Enter');
  await finishedAnswer(page);
  assert.match(await page.locator('#answer-text').textContent(), /You asked/);
  await page.screenshot({ path: path.join(SHOTS, 'playground-360px.png'), fullPage: true });
  assert.deepEqual(problems, []);
  await page.close();
});

test('audio input: a WAV file and a microphone recording are sent inline as base64 with format "wav"; a wrong format is shown at the audio field', async () => {
  const { page, problems } = await openPlayground();
  const wav = await readFile(env('QUESTION_WAV'));
  const send = async () => {
    const [response] = await Promise.all([page.waitForResponse((r) => r.url().endsWith('/v1/responses')), page.getByRole('button', { name: 'Send' }).click()]);
    return response;
  };

  await page.getByLabel('Audio file').setInputFiles({ name: 'question.wav', mimeType: 'audio/wav', buffer: wav });
  await page.waitForFunction(() => document.getElementById('audio-status').textContent.startsWith('Attached'));
  let response = await send();
  await finishedAnswer(page);
  let part = JSON.parse(response.request().postData()).input[0].content[1];
  assert.equal(part.type, 'input_audio');
  assert.equal(part.input_audio.format, 'wav');
  assert.equal(part.input_audio.data, wav.toString('base64'));

  await page.getByRole('button', { name: 'Record from microphone' }).click();
  await page.waitForTimeout(700);
  await page.getByRole('button', { name: 'Stop recording' }).click();
  await page.waitForFunction(() => document.getElementById('audio-status').textContent.includes('recording'));
  response = await send();
  await finishedAnswer(page);
  assert.equal(response.status(), 200);
  part = JSON.parse(response.request().postData()).input[0].content[1];
  assert.equal(part.input_audio.format, 'wav');
  assert.equal(Buffer.from(part.input_audio.data, 'base64').subarray(0, 4).toString(), 'RIFF');

  // WAV bytes under an .mp3 name: the gateway's 400 names input[0].content[1].input_audio…, shown at the audio field.
  await page.getByLabel('Audio file').setInputFiles({ name: 'question.mp3', mimeType: 'audio/mpeg', buffer: wav });
  await page.waitForFunction(() => document.getElementById('audio-status').textContent.includes('question.mp3'));
  response = await send();
  assert.equal(response.status(), 400);
  const error = (await response.json()).error;
  assert.match(error.param, /input_audio/);
  await page.waitForSelector('#audio-error:not([hidden])');
  assert.equal(await page.locator('#audio-error').textContent(), error.message);
  assert.equal(await page.getByLabel('Audio file').getAttribute('aria-invalid'), 'true');
  assert.deepEqual(problems, []);
  await page.close();
});

test('a bad key shows the authentication message at the key field; a 429 shows its Retry-After', async () => {
  const { page } = await openPlayground({ key: null });
  const expected = (await (await fetch(GATEWAY + '/v1/models', { headers: { Authorization: 'Bearer og-wrong-key' } })).json()).error.message;
  await page.getByLabel('Tenant key').fill('og-wrong-key');
  await page.getByLabel('Tenant key').press('Tab');
  await page.waitForSelector('#key-error:not([hidden])');
  assert.equal(await page.locator('#key-error').textContent(), expected);
  assert.match(expected, /API key is not valid/);
  await page.screenshot({ path: path.join(SHOTS, 'playground-bad-key.png') });

  await page.getByLabel('Tenant key').fill(env('LIMITED_KEY'));
  await page.getByLabel('Tenant key').press('Tab');
  await page.waitForFunction(() => document.querySelectorAll('#voice option').length > 0 && document.getElementById('key-error').hidden);
  await page.getByRole('button', { name: 'Send' }).click();
  await finishedAnswer(page);
  await page.getByRole('button', { name: 'Send' }).click();
  await page.waitForSelector('#send-error:not([hidden])');
  assert.match(await page.locator('#send-error').textContent(), /Retry-After: \d+ s/);
  await page.close();
});

test('usage view: the seeded days are bars in the chart and rows in the table; the admin key shows every tenant', async () => {
  const seeded = JSON.parse(env('SEEDED_USAGE'));
  const { page, problems } = await openPlayground();
  await page.getByRole('link', { name: 'Usage' }).click();
  await page.getByRole('button', { name: 'Show usage' }).click();
  await page.waitForSelector('#usage-chart rect.bar');
  const bars = await page.$$eval('#usage-chart rect.bar', (rects) => rects.map((r) => ({
    day: r.dataset.day, kind: r.dataset.kind, value: Number(r.dataset.value), height: Number(r.getAttribute('height')) })));
  for (const day of seeded) {
    for (const kind of ['input', 'output', 'cached']) {
      const bar = bars.find((b) => b.day === day.day && b.kind === kind);
      assert.ok(bar, `a ${kind} bar for ${day.day}`);
      assert.equal(bar.value, day[kind]);
      assert.ok(bar.height > 0, `the ${kind} bar of ${day.day} is drawn`);
    }
  }
  const heightOf = (day, kind) => bars.find((b) => b.day === day && b.kind === kind).height;
  assert.ok(heightOf(seeded[0].day, 'input') > heightOf(seeded[2].day, 'input'), 'taller bars for more tokens');
  const rows = await page.$$eval('#usage-table tbody tr', (trs) => trs.map((tr) => [...tr.cells].map((c) => c.textContent)));
  for (const day of seeded) assert.ok(rows.some((r) => r[0] === day.day && r[1] === 'alpha' && Number(r[4]) === day.input), `a row for ${day.day}`);
  assert.ok(rows.every((r) => r[1] === 'alpha'), 'a tenant sees its own usage only');
  await page.screenshot({ path: path.join(SHOTS, 'usage.png'), fullPage: true });

  await page.getByLabel('Admin key (optional: every tenant)').fill(env('ADMIN_KEY'));
  await page.getByRole('button', { name: 'Show usage' }).click();
  await page.waitForFunction(() => [...document.querySelectorAll('#usage-table tbody tr')].some((tr) => tr.cells[1]?.textContent === 'beta'));
  await page.screenshot({ path: path.join(SHOTS, 'usage-admin.png'), fullPage: true });
  assert.deepEqual(problems, []);
  await page.close();
});

/** Streams an answer with fetch from whatever page this runs in, as a frontend on that origin would. */
async function callFromPage(page) {
  return page.evaluate(async ({ gateway, key }) => {
    try {
      const response = await fetch(gateway + '/v1/responses', {
        method: 'POST',
        headers: { Authorization: 'Bearer ' + key, 'Content-Type': 'application/json' },
        body: JSON.stringify({ model: 'qwen3.5-omni-plus-all', input: 'Hello from another origin', stream: true, modalities: ['text', 'audio'], audio: { voice: 'Tina' } }),
      });
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      let text = '', reads = 0;
      for (;;) { const { value, done } = await reader.read(); if (done) break; text += value; reads++; }
      return { status: response.status, requestId: response.headers.get('x-request-id'), reads, completed: text.includes('event: response.completed'), audio: text.includes('"audio":{"data":"UklGR') };
    } catch (e) {
      return { error: `${e.name}: ${e.message}` };
    }
  }, { gateway: GATEWAY, key: TENANT_KEY });
}

test('a page on another loopback origin that the tenant allows streams an answer; one nobody allows is refused by the browser', async () => {
  const allowed = await context.newPage();
  await allowed.goto(env('ALLOWED_PAGE'));
  const streamed = await callFromPage(allowed);
  assert.equal(streamed.status, 200, JSON.stringify(streamed));
  assert.ok(streamed.completed && streamed.audio, 'the whole stream, audio included, was readable');
  assert.ok(streamed.reads > 3, `read as a stream (${streamed.reads} reads), not one buffered body`);
  assert.match(streamed.requestId ?? '', /^req_/, 'x-request-id is exposed to the page');
  await allowed.close();

  const refused = await context.newPage();
  const consoleErrors = [];
  refused.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(m.text()); });
  await refused.goto(env('REFUSED_PAGE'));
  const blocked = await callFromPage(refused);
  assert.match(blocked.error ?? '', /TypeError: Failed to fetch/, JSON.stringify(blocked));
  assert.ok(consoleErrors.some((m) => m.includes('CORS policy')), `the browser names CORS: ${consoleErrors.join(' | ')}`);
  await refused.close();
});
