import { get, type SettlementControl, type VerificationRun } from './api';
import { barChart, COLORS } from './charts';
import { instant, integer, plural, synq, words } from './format';
import { html, mount } from './html';
import { badge, card, chartBox, empty, facts, link, mono, section, type PageContext } from './ui';

const RUNS = 100;

const checkedText = (checked: Record<string, number>) =>
  Object.entries(checked)
    .map(([what, count]) => `${integer(count)} ${what.replace(/([A-Z])/g, ' $1').toLowerCase()}`)
    .join(' · ');

const runLink = (run: VerificationRun, text: string | ReturnType<typeof html>) => link(`#/verification/${encodeURIComponent(run.runId)}`, text);

const result = (run: VerificationRun) =>
  run.discrepancyCount === 0 ? badge('0 discrepancies', 'good') : badge(plural(run.discrepancyCount, 'discrepancy', 'discrepancies'), 'bad');

function breaker(control: SettlementControl) {
  return control.paused
    ? html`<div class="banner warn" id="breaker">
        Settlement is <b>paused</b>: run ${mono(control.paused.verificationRunId)} found
        ${plural(control.paused.discrepancies, 'discrepancy', 'discrepancies')}. An operator resumes it with <code>POST /settlement/resume</code> and a reason.
      </div>`
    : html`<div class="banner good" id="breaker">Settlement is running: no verification run is waiting to be acknowledged.</div>`;
}

export async function verificationPage({ view, stale }: PageContext): Promise<void> {
  const [{ runs }, control] = await Promise.all([get<{ runs: VerificationRun[] }>(`/verification/runs?limit=${RUNS}`), get<SettlementControl>('/settlement')]);
  if (stale()) return;
  const chronological = [...runs].reverse();
  const clean = runs.filter((r) => r.discrepancyCount === 0).length;

  const table =
    runs.length === 0
      ? empty('No verification run yet: POST /verification/runs (or npm run verify -- chain) runs one.')
      : html`<div class="table-wrap">
          <table class="table" id="runs-table">
            <thead>
              <tr>
                <th>Completed</th>
                <th>Run</th>
                <th>Cluster</th>
                <th class="num">Up to position</th>
                <th>Checked</th>
                <th>Result</th>
              </tr>
            </thead>
            <tbody>
              ${runs.map(
                (run) =>
                  html`<tr data-run="${run.runId}" data-discrepancies="${String(run.discrepancyCount)}">
                    <td class="nowrap">${instant(run.completedAt)}</td>
                    <td>${runLink(run, html`<code class="id">${run.runId.slice(0, 8)}</code>`)}</td>
                    <td class="small">${run.cluster}</td>
                    <td class="num">${integer(run.upToPosition)}</td>
                    <td class="small">${checkedText(run.checked)}</td>
                    <td>${result(run)}</td>
                  </tr>`,
              )}
            </tbody>
          </table>
        </div>`;

  mount(
    view,
    html`<div class="page-head">
        <h1>Verification</h1>
        <p class="muted">Replay-verification of the chain against the books: each run replays the event log into the chain state it implies and compares.</p>
      </div>
      ${breaker(control)}
      <div class="cards">
        ${card('Runs', integer(runs.length), runs.length === RUNS ? `the latest ${RUNS}` : 'recorded')}
        ${card('Clean runs', integer(clean), 'found no discrepancy', 'good')}
        ${card('Runs with discrepancies', integer(runs.length - clean), runs.length - clean > 0 ? 'open one to see each' : 'none', runs.length - clean > 0 ? 'bad' : 'neutral')}
        ${card('Last run', runs[0] ? instant(runs[0].completedAt) : '—', runs[0] ? result(runs[0]) : '')}
      </div>
      ${runs.length > 0 ? section('Discrepancies per run', chartBox('chart-runs', 'discrepancies found by each run, oldest first (green: a clean run)', 220), 'runs-chart') : ''}
      ${section('Runs', table, 'runs')}`,
  );
  if (runs.length > 0) {
    barChart('chart-runs', {
      labels: chronological.map((r) => instant(r.completedAt).slice(5, 16)),
      datasets: [
        {
          label: 'discrepancies',
          data: chronological.map((r) => r.discrepancyCount),
          backgroundColor: chronological.map((r) => (r.discrepancyCount > 0 ? COLORS.red : COLORS.green)),
          minBarLength: 3,
        },
      ],
      title: (i) => `run ${chronological[i].runId} · ${instant(chronological[i].completedAt)}`,
      tooltip: (_d, i) => plural(chronological[i].discrepancyCount, 'discrepancy', 'discrepancies'),
      yTitle: 'discrepancies',
      suggestedMax: 4,
      onClick: (i) => (location.hash = `#/verification/${encodeURIComponent(chronological[i].runId)}`),
    });
  }
}

/** Amounts in a discrepancy are base units of $SYNQ (balances, transfers); anything else is shown as it is. */
const value = (text: string | null) =>
  text === null ? html`<span class="muted">—</span>` : /^-?\d+$/.test(text) ? html`<span title="${text} base units">${synq(text, false)}</span>` : text;

/** Actual minus expected, where both are amounts. */
function difference(expected: string | null, actual: string | null) {
  if (expected === null || actual === null || !/^-?\d+$/.test(expected) || !/^-?\d+$/.test(actual)) return html`<span class="muted">—</span>`;
  const delta = BigInt(actual) - BigInt(expected);
  return html`<span class="${delta < 0n ? 'negative' : 'positive'}">${delta > 0n ? '+' : ''}${synq(delta.toString(), false)}</span>`;
}

export async function verificationRunPage({ view, stale }: PageContext, runId: string): Promise<void> {
  const run = await get<VerificationRun>(`/verification/runs/${encodeURIComponent(runId)}`);
  if (stale()) return;
  const discrepancies = run.discrepancies ?? [];
  const types = Object.entries(run.byType).sort((a, b) => b[1] - a[1]);

  const body =
    discrepancies.length === 0
      ? html`<div class="banner good" id="no-discrepancies">No discrepancies: the chain matches the books.</div>`
      : html`<div class="table-wrap">
            <table class="table compact" id="discrepancies-table">
              <thead>
                <tr>
                  <th>Type</th>
                  <th class="num">Epoch</th>
                  <th>Account</th>
                  <th>Signature</th>
                  <th class="num">Expected ($SYNQ)</th>
                  <th class="num">Actual ($SYNQ)</th>
                  <th class="num">Difference</th>
                  <th class="detail">Detail</th>
                </tr>
              </thead>
              <tbody>
                ${discrepancies.map(
                  (d) =>
                    html`<tr data-type="${d.type}">
                      <td>${badge(words(d.type), 'bad')}</td>
                      <td class="num">${d.epoch === null ? '—' : link(`#/epochs/${d.epoch}`, `#${d.epoch}`)}</td>
                      <td>${mono(d.account, 6)}</td>
                      <td>${mono(d.signature, 6)}</td>
                      <td class="num nowrap">${value(d.expected)}</td>
                      <td class="num nowrap">${value(d.actual)}</td>
                      <td class="num nowrap">${difference(d.expected, d.actual)}</td>
                      <td class="small detail">${d.detail}</td>
                    </tr>`,
                )}
              </tbody>
            </table>
          </div>
          ${run.discrepancyCount > discrepancies.length ? html`<p class="muted small">The run lists ${integer(discrepancies.length)} of its ${integer(run.discrepancyCount)} discrepancies.</p>` : ''}`;

  mount(
    view,
    html`<div class="page-head">
        <div class="crumbs">${link('#/verification', 'Verification')} / run</div>
        <h1>Verification run ${result(run)}</h1>
        <p class="muted"><code>${run.runId}</code></p>
      </div>
      <div class="grid two">
        ${section(
          'Run',
          facts([
            ['Completed', instant(run.completedAt)],
            ['Cluster', run.cluster],
            ['Replayed up to', `position ${integer(run.upToPosition)}`],
            ['Checked', checkedText(run.checked)],
          ]),
          'run',
        )}
        ${types.length > 0 ? section('By type', chartBox('chart-types', 'discrepancies by type', Math.min(320, 70 + types.length * 44)), 'by-type') : section('By type', empty('Nothing found.'), 'by-type')}
      </div>
      ${section('Discrepancies', body, 'discrepancies')}`,
  );
  if (types.length > 0) {
    barChart('chart-types', {
      labels: types.map(([type]) => words(type)),
      datasets: [{ label: 'discrepancies', data: types.map(([, count]) => count), backgroundColor: COLORS.red }],
      horizontal: true,
    });
  }
}
