// Drives the server's pages in headless Chromium (Debian's, through playwright-core) as a user
// would, and prints what the page showed as one JSON line for tests/integration/test_pages.py.
//
//   node drive.mjs SCENARIO CONFIG_JSON
//
// SCENARIO: live | files | docs. CONFIG_JSON: {base, apiKey, wav, upload, artifacts,
// chromium}. The browser may reach the server on loopback and nothing else: any other
// request is aborted and reported in `blocked`.
import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { chromium } from 'playwright-core';

const [scenario, configJson] = process.argv.slice(2);
const config = JSON.parse(configJson);
const LIVE_TIMEOUT_MS = 45_000; // audio time until enough finals (the capture plays in real time)
const FILE_TIMEOUT_MS = 60_000; // upload, queue and transcribe a short recording

function isLoopback(url) {
  const { protocol, hostname } = new URL(url);
  if (protocol === 'blob:' || protocol === 'data:') return true;
  return ['127.0.0.1', 'localhost', '[::1]'].includes(hostname);
}

async function openBrowser() {
  const browser = await chromium.launch({
    executablePath: config.chromium,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
      '--use-fake-ui-for-media-stream',
      '--use-fake-device-for-media-stream',
      ...(config.wav ? [`--use-file-for-fake-audio-capture=${config.wav}`] : []),
      '--autoplay-policy=no-user-gesture-required',
    ],
  });
  const context = await browser.newContext({
    acceptDownloads: true,
    viewport: { width: 1100, height: 900 },
  });
  const seen = { requests: [], blocked: [], errors: [] };
  await context.route('**/*', (route) => {
    const url = route.request().url();
    if (isLoopback(url)) return route.continue();
    seen.blocked.push(url);
    return route.abort('blockedbyclient');
  });
  const page = await context.newPage();
  page.on('request', (request) => seen.requests.push(request.url()));
  page.on('websocket', (socket) => seen.requests.push(socket.url()));
  page.on('pageerror', (error) => seen.errors.push(`pageerror: ${error.message}`));
  page.on('console', (message) => {
    if (message.type() === 'error') seen.errors.push(`console: ${message.text()}`);
  });
  return { browser, page, seen };
}

async function useKey(page) {
  if (!config.apiKey) return;
  await page.click('#key-settings summary');
  await page.fill('#api-key', config.apiKey);
  await page.click('#key-form button[type=submit]');
}

async function shot(page, name) {
  await mkdir(config.artifacts, { recursive: true });
  const file = path.join(config.artifacts, name);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}

async function downloaded(page, button, name) {
  const [download] = await Promise.all([page.waitForEvent('download'), page.click(button)]);
  const file = path.join(config.artifacts, name);
  await download.saveAs(file);
  return { file, suggested: download.suggestedFilename(), text: await readFile(file, 'utf8') };
}

/** What the live page shows: each turn's state and its words, as the DOM holds them. */
function readCaptions() {
  return [...document.querySelectorAll('#captions .turn')].map((turn) => ({
    order: Number(turn.dataset.turnOrder),
    ended: turn.classList.contains('ended'),
    busy: turn.getAttribute('aria-busy'),
    state: turn.querySelector('.turn-state')?.textContent,
    revisions: Number(turn.dataset.revisions),
    runs: [...turn.querySelectorAll('.run')].map((run) => ({
      speaker: run.dataset.speaker,
      label: run.querySelector('.speaker')?.textContent,
      colour: getComputedStyle(run.querySelector('.speaker')).backgroundColor,
      words: [...run.querySelectorAll('.word')].map((word) => ({
        text: word.textContent,
        final: word.classList.contains('final'),
        speaker: word.dataset.speaker,
        start: Number(word.dataset.start),
        colour: getComputedStyle(word).color,
      })),
    })),
  }));
}

/** Clicks Start; the status once the session is listening or has failed to start. */
async function startLive(page) {
  await page.click('#live-start');
  await page.waitForFunction(
    () =>
      /Listening|Could not|Disconnected/.test(document.getElementById('live-status').textContent),
    null,
    { timeout: 20_000 },
  );
  return page.textContent('#live-status');
}

async function live(page) {
  await page.goto(`${config.base}/`);
  // no key yet: the page connects without a token, and the server refuses it
  const withoutKey = await startLive(page);
  const startEnabledAgain = !(await page.isDisabled('#live-start'));
  await useKey(page);
  const listening = await startLive(page);
  if (!listening.startsWith('Listening')) return { withoutKey, status: listening };
  // enough heard: two turns ended and eight final words; a partial word's colour on the way
  await page.waitForFunction(
    () => {
      const partial = document.querySelector('#captions .word.partial');
      if (partial && !window.partialSeen) {
        window.partialSeen = { text: partial.textContent, colour: getComputedStyle(partial).color };
      }
      const ended = document.querySelectorAll('#captions .turn.ended').length;
      const finals = document.querySelectorAll('#captions .word.final').length;
      return ended >= 2 && finals >= 8;
    },
    null,
    { timeout: LIVE_TIMEOUT_MS, polling: 100 },
  );
  const whileLive = await shot(page, 'live-listening.png');
  await page.click('#live-stop');
  await page.waitForFunction(
    () => document.getElementById('live-status').textContent.startsWith('Stopped'),
    null,
    {
      timeout: 20_000,
    },
  );
  return {
    withoutKey,
    startEnabledAgain,
    status: await page.textContent('#live-status'),
    turns: await page.evaluate(readCaptions),
    partialSeen: await page.evaluate(() => window.partialSeen ?? null),
    startDisabled: await page.isDisabled('#live-start'),
    txt: await downloaded(page, '#download-txt', 'live-captions.txt'),
    srt: await downloaded(page, '#download-srt', 'live-captions.srt'),
    screenshots: [whileLive, await shot(page, 'live-stopped.png')],
  };
}

async function files(page) {
  await page.goto(`${config.base}/#files`);
  await useKey(page);
  const panelVisible = await page.isVisible('#panel-files');
  await page.setInputFiles('#file-input', config.upload);
  await page.click('#file-submit');
  await page.waitForFunction(
    () => {
      const status = document.getElementById('file-status');
      return document.querySelector('#timeline .segment') || status.classList.contains('error');
    },
    null,
    { timeout: FILE_TIMEOUT_MS, polling: 200 },
  );
  const status = await page.textContent('#file-status');
  if (await page.$('#file-status.error')) return { status };
  await page.waitForFunction(
    () => Number.isFinite(document.getElementById('file-audio').duration),
    null,
    {
      timeout: 10_000,
    },
  );
  const utterances = await page.$$eval('#utterances .utterance', (items) =>
    items.map((item) => ({
      speaker: item.dataset.speaker,
      label: item.querySelector('.speaker')?.textContent,
      text: [...item.querySelectorAll('.word')].map((word) => word.textContent).join(' '),
      words: item.querySelectorAll('.word').length,
    })),
  );
  const timeline = await page.$eval('#timeline', (svg) => ({
    viewBox: svg.getAttribute('viewBox'),
    label: svg.getAttribute('aria-label'),
    segments: [...svg.querySelectorAll('.segment')].map((rect) => ({
      speaker: rect.dataset.speaker,
      x: Number(rect.getAttribute('x')),
      width: Number(rect.getAttribute('width')),
      fill: rect.getAttribute('fill'),
    })),
    legend: [...document.querySelectorAll('#timeline-legend li')].map((item) => item.textContent),
  }));
  // a word well into the recording: clicking it must move the player there
  const words = await page.$$('#utterances .word');
  const target = words[Math.floor(words.length / 2)];
  const wordStartMs = Number(await target.getAttribute('data-start'));
  await target.click();
  await page.waitForTimeout(300);
  const audio = await page.$eval('#file-audio', (element) => ({
    src: element.currentSrc,
    duration: element.duration,
    currentTime: element.currentTime,
  }));
  return {
    status,
    panelVisible,
    utterances,
    timeline,
    clicked: { text: await target.textContent(), startMs: wordStartMs },
    audio,
    screenshots: [await shot(page, 'files.png')],
  };
}

async function docs(page) {
  await page.goto(`${config.base}/docs`);
  await page.waitForSelector('.swagger-ui .opblock', { timeout: 20_000 });
  return {
    operations: await page.$$eval('.swagger-ui .opblock', (blocks) => blocks.length),
    title: await page.title(),
    screenshots: [await shot(page, 'docs.png')],
  };
}

const scenarios = { live, files, docs };
const { browser, page, seen } = await openBrowser();
let result;
try {
  result = await scenarios[scenario](page);
} catch (error) {
  result = { failure: String(error?.stack ?? error) };
  try {
    result.screenshots = [await shot(page, `${scenario}-failure.png`)];
    result.page = await page.evaluate(() => document.body.innerText.slice(0, 3000));
  } catch {
    // the page itself is gone: the failure says why
  }
} finally {
  await browser.close();
}
console.log(JSON.stringify({ ...result, ...seen }));
