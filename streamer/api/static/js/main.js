// The page's wiring: the two views as tabs, the API key form, the live controls and downloads.
import { credentials } from './api.js';
import { HeldCaptions, srt, transcriptText } from './captions.js';
import { download, stampedName } from './download.js';
import { FilesView } from './files.js';
import { LiveSession } from './live.js';
import { CaptionsView } from './live-view.js';

const $ = (id) => document.getElementById(id);

function setUpTabs() {
  const tabs = [$('tab-live'), $('tab-files')];
  const select = (tab, focus = false) => {
    for (const other of tabs) {
      const selected = other === tab;
      other.setAttribute('aria-selected', String(selected));
      other.tabIndex = selected ? 0 : -1;
      $(other.getAttribute('aria-controls')).hidden = !selected;
    }
    if (focus) tab.focus();
    history.replaceState(null, '', tab.id === 'tab-files' ? '#files' : '#live');
  };
  tabs.forEach((tab, index) => {
    tab.addEventListener('click', () => select(tab));
    tab.addEventListener('keydown', (event) => {
      const step = { ArrowRight: 1, ArrowLeft: -1 }[event.key];
      if (step) select(tabs[(index + step + tabs.length) % tabs.length], true);
    });
  });
  select(location.hash === '#files' ? tabs[1] : tabs[0]);
}

function setUpKey() {
  const input = $('api-key');
  const remember = $('remember-key');
  const summary = $('key-summary');
  const show = () => {
    summary.textContent = credentials.key
      ? `(set${credentials.remembered() ? ', remembered on this device' : ', for this page only'})`
      : '(none: for a server without keys)';
  };
  input.value = credentials.load();
  remember.checked = credentials.remembered();
  const use = () => {
    credentials.set(input.value, remember.checked);
    show();
  };
  $('key-form').addEventListener('submit', (event) => {
    event.preventDefault();
    use();
  });
  input.addEventListener('change', use);
  remember.addEventListener('change', use);
  $('forget-key').addEventListener('click', () => {
    input.value = '';
    remember.checked = false;
    credentials.set('', false);
    show();
  });
  show();
}

function setUpLive() {
  const captions = new HeldCaptions();
  const view = new CaptionsView($('captions'));
  const start = $('live-start');
  const stop = $('live-stop');
  const downloads = [$('download-txt'), $('download-srt')];
  const status = $('live-status');
  let session = null;

  const refreshDownloads = () => {
    const empty = captions.endedTurns().length === 0;
    downloads.forEach((button) => (button.disabled = empty));
  };
  const onStatus = (text, { error = false, live } = {}) => {
    status.textContent = text;
    status.classList.toggle('error', error);
    if (live !== undefined) {
      start.disabled = live;
      stop.disabled = !live;
      document.body.dataset.live = String(live);
    }
  };
  const onChange = (orders) => {
    for (const order of orders) view.render(captions.get(order));
    refreshDownloads();
  };

  start.addEventListener('click', async () => {
    session = new LiveSession({ captions, onChange, onStatus });
    await session.start();
  });
  stop.addEventListener('click', async () => {
    stop.disabled = true;
    await session?.stop();
    session = null;
  });
  $('live-clear').addEventListener('click', () => {
    captions.clear();
    view.clear();
    refreshDownloads();
  });
  $('download-txt').addEventListener('click', () => {
    download(transcriptText(captions.endedTurns()), `${stampedName('captions')}.txt`);
  });
  $('download-srt').addEventListener('click', () => {
    download(srt(captions.endedTurns()), `${stampedName('captions')}.srt`, 'application/x-subrip');
  });
}

function setUpFiles() {
  new FilesView({
    form: $('file-form'),
    input: $('file-input'),
    speakers: $('speakers-expected'),
    submit: $('file-submit'),
    status: $('file-status'),
    audio: $('file-audio'),
    figure: $('timeline-figure'),
    timeline: $('timeline'),
    legend: $('timeline-legend'),
    utterances: $('utterances'),
  });
}

setUpTabs();
setUpKey();
setUpLive();
setUpFiles();
