import { ApiError } from './api';
import { html, type Html } from './html';
import { short, synq } from './format';

/** What a page is given: where to draw, and whether the user has meanwhile gone elsewhere (then it draws nothing). */
export interface PageContext {
  view: HTMLElement;
  stale(): boolean;
}

export type Tone = 'good' | 'bad' | 'warn' | 'info' | 'neutral';

export const badge = (text: string, tone: Tone = 'neutral', title?: string) => html`<span class="badge ${tone}" title="${title ?? ''}">${text}</span>`;

const MODE_TONES: Record<string, Tone> = { web2: 'neutral', hybrid: 'info', web3: 'warn' };
export const modeBadge = (mode: string) => badge(mode, MODE_TONES[mode] ?? 'neutral');

const STATUS_TONES: Record<string, Tone> = {
  settled: 'good',
  confirmed: 'good',
  closed: 'neutral',
  open: 'info',
  running: 'good',
  rebuilding: 'info',
  in_progress: 'warn',
  awaiting: 'warn',
  unsigned: 'warn',
  expired: 'neutral',
  failed: 'bad',
  paused: 'warn',
};
export const statusBadge = (status: string) => badge(status.replace(/_/g, ' '), STATUS_TONES[status] ?? 'neutral');

/** An amount as a figure: "1,234.567890" with a smaller unit after it. */
export const amount = (base: string | null | undefined) =>
  base === null || base === undefined
    ? html`<span class="muted">—</span>`
    : html`<span class="amount">${synq(base, false)}<span class="unit"> $SYNQ</span></span>`;

export const card = (label: string, value: Html | string, sub?: Html | string, tone: Tone = 'neutral') =>
  html`<div class="card ${tone}">
    <div class="card-label">${label}</div>
    <div class="card-value">${value}</div>
    ${sub ? html`<div class="card-sub">${sub}</div>` : ''}
  </div>`;

export const section = (title: string, body: Html, name = '', aside?: Html) =>
  html`<section class="panel" data-section="${name}">
    <header class="panel-head">
      <h2>${title}</h2>
      ${aside ?? ''}
    </header>
    ${body}
  </section>`;

/** A labelled figure list. */
export const facts = (rows: [string, Html | string][]) =>
  html`<dl class="facts">
    ${rows.map(
      ([label, value]) =>
        html`<dt>${label}</dt>
          <dd>${value}</dd>`,
    )}
  </dl>`;

export const chartBox = (id: string, title: string, height = 260) =>
  html`<figure class="chart">
    <figcaption>${title}</figcaption>
    <div class="chart-area" style="height:${height}px"><canvas id="${id}" data-chart="${id}" role="img" aria-label="${title}"></canvas></div>
  </figure>`;

/** A long identifier (signature, wallet, hash) shortened, whole in its title, copied on click. */
export const mono = (value: string | null | undefined, keep = 8) =>
  value ? html`<code class="id" title="${value}" data-copy="${value}">${short(value, keep)}</code>` : html`<span class="muted">—</span>`;

export const link = (href: string, text: string | Html) => html`<a href="${href}">${text}</a>`;

export const loading = (what = 'Loading') => html`<div class="loading"><span class="spinner"></span>${what}…</div>`;

export const empty = (text: string) => html`<p class="empty">${text}</p>`;

/** An API refusal or failure, said plainly: 401 and 403 tell what key the dashboard needs. */
export function problemBox(error: unknown): Html {
  if (error instanceof ApiError) {
    const advice =
      error.status === 403
        ? 'The dashboard needs an operator or auditor key.'
        : error.status === 401
          ? 'The key was not accepted: it may be mistyped or revoked.'
          : error.status === 503
            ? 'The engine is not ready for this yet; try again shortly.'
            : '';
    return html`<div class="problem" role="alert" data-status="${String(error.status)}">
      <div class="problem-title">${error.status > 0 ? `${error.status} ${error.title}` : error.title}</div>
      <div class="problem-detail">${error.detail}</div>
      ${
        error.problems.length > 0 && error.problems.some((p) => p.reason !== error.detail)
          ? html`<ul>
              ${error.problems.map((p) => html`<li><b>${p.field}</b>: ${p.reason}</li>`)}
            </ul>`
          : ''
      }
      ${advice ? html`<div class="problem-advice">${advice}</div>` : ''}
      <div class="problem-path muted">GET ${error.path}</div>
      ${error.status === 401 || error.status === 403 ? html`<button type="button" class="button" data-action="change-key">Use another key</button>` : ''}
    </div>`;
  }
  return html`<div class="problem" role="alert">
    <div class="problem-title">Something went wrong</div>
    <div class="problem-detail">${String((error as Error)?.message ?? error)}</div>
  </div>`;
}
