import './style.css';
import { apiKey } from './api';
import { destroyCharts } from './charts';
import { epochPage } from './epoch';
import { html, mount } from './html';
import { overviewPage } from './overview';
import { synqerPage } from './synqer';
import { loading, problemBox, type PageContext } from './ui';
import { verificationPage, verificationRunPage } from './verification';

type Page = (context: PageContext, ...params: string[]) => Promise<void>;

// Hash routes: #/, #/epochs/3, #/synqers/s1, #/verification, #/verification/<run id>.
const ROUTES: [RegExp, Page][] = [
  [/^\/?$/, overviewPage],
  [/^\/epochs\/(\d+)$/, epochPage],
  [/^\/synqers\/([^/]+)$/, synqerPage],
  [/^\/verification$/, verificationPage],
  [/^\/verification\/([^/]+)$/, verificationRunPage],
];

const view = document.getElementById('view')!;
const nav = document.getElementById('nav')!;
let navigation = 0;

function currentPath(): string {
  return location.hash.replace(/^#/, '') || '/';
}

function renderNav(): void {
  const key = apiKey.get();
  if (!key) {
    nav.innerHTML = '';
    return;
  }
  const path = currentPath();
  const active = (test: boolean) => (test ? 'active' : '');
  mount(
    nav,
    html`<a class="${active(path === '/' || path.startsWith('/epochs'))}" href="#/">Overview</a>
      <a class="${active(path.startsWith('/verification'))}" href="#/verification">Verification</a>
      <form class="jump" id="synqer-jump" role="search">
        <input name="synqer" type="search" placeholder="Synqer id…" aria-label="Open a synqer by id" autocomplete="off" spellcheck="false" />
      </form>
      <span class="key" title="The API key is kept in this tab only">key …${key.slice(-4)}</span>
      <button type="button" class="link-button" data-action="sign-out">Sign out</button>`,
  );
}

function keyForm(message?: string): void {
  mount(
    view,
    html`<form class="key-form panel" id="key-form">
      <h1>Open the dashboard</h1>
      <p>
        Enter an API key with the <b>operator</b> or <b>auditor</b> role. It stays in this browser tab (session storage) and is sent as
        <code>Authorization: Bearer</code> with each call to the engine; the dashboard only reads.
      </p>
      ${message ? html`<div class="problem" role="alert">${message}</div>` : ''}
      <label for="api-key">API key</label>
      <input id="api-key" name="key" type="password" autocomplete="off" spellcheck="false" placeholder="synq_…" required />
      <button type="submit" class="button primary">Open dashboard</button>
    </form>`,
  );
  (document.getElementById('api-key') as HTMLInputElement).focus();
}

async function route(): Promise<void> {
  const current = ++navigation;
  destroyCharts();
  renderNav();
  if (!apiKey.get()) return keyForm();
  const path = currentPath();
  for (const [pattern, page] of ROUTES) {
    const match = pattern.exec(path);
    if (!match) continue;
    mount(view, loading());
    const context: PageContext = { view, stale: () => current !== navigation };
    try {
      await page(context, ...match.slice(1).map(decodeURIComponent));
    } catch (error) {
      if (context.stale()) return;
      destroyCharts();
      mount(view, problemBox(error));
    }
    return;
  }
  mount(
    view,
    html`<div class="problem" role="alert">
      <div class="problem-title">No such page</div>
      <div class="problem-detail">${path}</div>
    </div>`,
  );
}

document.addEventListener('submit', (event) => {
  const form = event.target as HTMLFormElement;
  if (form.id === 'key-form') {
    event.preventDefault();
    const key = String(new FormData(form).get('key') ?? '').trim();
    if (!key) return keyForm('Enter a key.');
    apiKey.set(key);
    void route();
  } else if (form.id === 'synqer-jump') {
    event.preventDefault();
    const id = String(new FormData(form).get('synqer') ?? '').trim();
    if (id) location.hash = `#/synqers/${encodeURIComponent(id)}`;
  }
});

document.addEventListener('click', (event) => {
  const target = event.target as HTMLElement;
  const action = target.closest<HTMLElement>('[data-action]')?.dataset.action;
  if (action === 'sign-out' || action === 'change-key') {
    apiKey.clear();
    void route();
    return;
  }
  const copy = target.closest<HTMLElement>('[data-copy]');
  if (copy?.dataset.copy && navigator.clipboard) {
    void navigator.clipboard.writeText(copy.dataset.copy).then(
      () => {
        copy.classList.add('copied');
        setTimeout(() => copy.classList.remove('copied'), 900);
      },
      () => undefined,
    );
  }
});

window.addEventListener('hashchange', () => void route());
void route();
