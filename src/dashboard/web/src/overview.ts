import { find, get, mapLimit, modeOf, type Epoch, type Job, type Payout, type ProjectionInfo, type SettlementControl, type VerificationRun } from './api';
import { followJobs, jobsTable, redraw } from './jobs';
import { barChart, COLORS } from './charts';
import { instant, integer, plural, sol, synq, synqNumber } from './format';
import { html, mount } from './html';
import { amount, badge, card, chartBox, empty, facts, link, mono, modeBadge, section, statusBadge, type PageContext } from './ui';

/** "2026-11-01 02:00 – 03:00 UTC", or both instants in full when the window spans days. */
function epochWindow(start: string, end: string) {
  const [from, to] = [instant(start), instant(end)];
  return from.slice(0, 10) === to.slice(0, 10) ? html`${from.slice(0, 16)} – ${to.slice(11)}` : html`${from}<br /><span class="muted">to ${to}</span>`;
}

/** The recent jobs the overview shows (and polls while one runs). */
const RECENT_JOBS = '/jobs?limit=8';

export async function overviewPage({ view, stale }: PageContext): Promise<void> {
  const [{ epochs }, control, { projections }, { runs }, { jobs }] = await Promise.all([
    get<{ epochs: Epoch[] }>('/epochs'),
    get<SettlementControl>('/settlement'),
    get<{ projections: ProjectionInfo[] }>('/projections'),
    get<{ runs: VerificationRun[] }>('/verification/runs?limit=1'),
    get<{ jobs: Job[] }>(RECENT_JOBS),
  ]);
  // An epoch's settlement is asked for only once it has a distribution to settle.
  const payouts = await mapLimit(epochs, 4, (epoch) =>
    epoch.settlement?.distribution ? find<Payout>(`/epochs/${epoch.epoch}/settlement`) : Promise.resolve(undefined),
  );
  if (stale()) return;

  const byEpoch = new Map(epochs.map((epoch, i) => [epoch.epoch, payouts[i]]));
  const paid = epochs.reduce((sum, epoch) => sum + BigInt(epoch.settlement?.paid ?? '0'), 0n);
  const latest = epochs.at(-1);
  const lastRun = runs[0];
  const worstLag = projections.reduce(
    (worst, p) => (BigInt(p.lagEvents) > BigInt(worst?.lagEvents ?? '-1') ? p : worst),
    projections[0] as ProjectionInfo | undefined,
  );
  const projectionsHealthy = projections.every((p) => p.status === 'running' || p.status === 'rebuilding');
  const settledCount = payouts.filter((p) => p?.status === 'settled').length;

  const cards = html`<div class="cards">
    ${card('Epochs', integer(epochs.length), latest ? html`latest #${latest.epoch} ${statusBadge(latest.status)}` : 'none opened yet')}
    ${card('Paid to synqers', amount(paid.toString()), `${plural(settledCount, 'epoch')} settled`)}
    ${card(
      'Settlement',
      control.paused ? 'paused' : 'running',
      control.paused
        ? html`circuit breaker open: run ${mono(control.paused.verificationRunId, 4)} found
          ${plural(control.paused.discrepancies, 'discrepancy', 'discrepancies')}`
        : html`epoch #${control.nextEpoch} will settle ${modeBadge(control.modeOfNextEpoch)}`,
      control.paused ? 'warn' : 'good',
    )}
    ${card(
      'Last verification',
      lastRun ? plural(lastRun.discrepancyCount, 'discrepancy', 'discrepancies') : 'never run',
      lastRun
        ? html`${instant(lastRun.completedAt)} · ${link(`#/verification/${encodeURIComponent(lastRun.runId)}`, 'details')}`
        : 'POST /verification/runs starts one',
      !lastRun ? 'warn' : lastRun.discrepancyCount === 0 ? 'good' : 'bad',
    )}
    ${card(
      'Projections',
      projectionsHealthy ? 'healthy' : 'attention',
      worstLag ? `lag at most ${plural(Number(worstLag.lagEvents), 'event')} · ${worstLag.lagSeconds.toFixed(1)} s` : 'none',
      projectionsHealthy ? 'good' : 'bad',
    )}
  </div>`;

  const closed = epochs.filter((epoch) => epoch.settlement);
  const charts =
    closed.length > 0
      ? html`<div class="grid two">
          ${section('Reward pool and amount paid per epoch', chartBox('chart-pool', '$SYNQ per epoch'), 'pool-chart')}
          ${section('Synqers per epoch', chartBox('chart-eligibility', 'eligible and ineligible synqers'), 'eligibility-chart')}
        </div>`
      : '';

  const rows = [...epochs].reverse().map((epoch) => {
    const payout = byEpoch.get(epoch.epoch);
    const settlement = epoch.settlement;
    const settlementCell = payout
      ? html`${statusBadge(payout.status)}`
      : epoch.status === 'open'
        ? html`<span class="muted">epoch open</span>`
        : settlement?.distribution
          ? badge('not settled', 'warn')
          : html`<span class="muted">closing…</span>`;
    const transactions = payout
      ? payout.transactions.planned === 0
        ? html`<span class="muted">none (books)</span>`
        : `${payout.transactions.confirmed} / ${payout.transactions.planned} confirmed`
      : html`<span class="muted">—</span>`;
    return html`<tr data-epoch="${String(epoch.epoch)}">
      <td>${link(`#/epochs/${epoch.epoch}`, html`<b>#${epoch.epoch}</b>`)}</td>
      <td class="nowrap">${epochWindow(epoch.start, epoch.end)}</td>
      <td>${statusBadge(epoch.status)}</td>
      <td class="num">${synq(epoch.rewardPool, false)}</td>
      <td class="num">${settlement ? synq(settlement.paid, false) : html`<span class="muted">—</span>`}</td>
      <td class="num">
        ${settlement ? html`${integer(settlement.eligible)} <span class="muted">/ ${integer(settlement.synqers)}</span>` : html`<span class="muted">—</span>`}
      </td>
      <td data-column="mode">${modeBadge(modeOf(control, epoch.epoch, payout))}</td>
      <td data-column="settlement">${settlementCell}</td>
      <td>${transactions}</td>
      <td class="num">${payout ? sol(payout.cost.totalLamports, false) : html`<span class="muted">—</span>`}</td>
    </tr>`;
  });
  const table =
    epochs.length === 0
      ? empty('No epoch has been opened yet.')
      : html`<div class="table-wrap">
          <table class="table" id="epochs-table">
            <thead>
              <tr>
                <th>Epoch</th>
                <th>Window</th>
                <th>Status</th>
                <th class="num">Reward pool ($SYNQ)</th>
                <th class="num">Paid ($SYNQ)</th>
                <th class="num">Eligible</th>
                <th>Mode</th>
                <th>Settlement</th>
                <th>Transactions</th>
                <th class="num">Cost (SOL)</th>
              </tr>
            </thead>
            <tbody>
              ${rows}
            </tbody>
          </table>
        </div>`;

  const projectionTable = html`<div class="table-wrap">
    <table class="table compact" id="projections-table">
      <thead>
        <tr>
          <th>Projection</th>
          <th>Status</th>
          <th class="num">Position</th>
          <th class="num">Lag</th>
        </tr>
      </thead>
      <tbody>
        ${projections.map(
          (p) =>
            html`<tr>
              <td><b>${p.name}</b> <span class="muted small">v${p.version} · generation ${p.generation}</span></td>
              <td>${statusBadge(p.status)}</td>
              <td class="num">${integer(p.position)}</td>
              <td class="num">${plural(Number(p.lagEvents), 'event')} · ${p.lagSeconds.toFixed(1)} s</td>
            </tr>`,
        )}
      </tbody>
    </table>
  </div>`;

  const verification = lastRun
    ? facts([
        ['Completed', instant(lastRun.completedAt)],
        ['Run', link(`#/verification/${encodeURIComponent(lastRun.runId)}`, mono(lastRun.runId, 8))],
        ['Cluster', lastRun.cluster],
        ['Replayed up to', `position ${integer(lastRun.upToPosition)}`],
        [
          'Checked',
          Object.entries(lastRun.checked)
            .map(([what, count]) => `${integer(count)} ${what.replace(/([A-Z])/g, ' $1').toLowerCase()}`)
            .join(' · '),
        ],
        [
          'Result',
          lastRun.discrepancyCount === 0
            ? badge('chain matches the books', 'good')
            : badge(plural(lastRun.discrepancyCount, 'discrepancy', 'discrepancies'), 'bad'),
        ],
      ])
    : empty('No verification run yet.');

  mount(
    view,
    html`<div class="page-head">
        <h1>Overview</h1>
        <p class="muted">Epochs, their settlement on Solana and the health of the read side.</p>
      </div>
      ${cards} ${charts} ${section('Epochs', table, 'epochs')} ${section('Jobs', html`<div id="jobs-panel">${jobsTable(jobs)}</div>`, 'jobs')}
      <div class="grid two">
        ${section('Verification', verification, 'verification', link('#/verification', 'all runs →'))} ${section('Projections', projectionTable, 'projections')}
      </div>`,
  );

  const panel = document.getElementById('jobs-panel')!;
  followJobs(RECENT_JOBS, jobs, stale, (listed) => mount(panel, jobsTable(listed)), redraw);

  if (closed.length > 0) {
    const labels = closed.map((epoch) => `#${epoch.epoch}`);
    barChart('chart-pool', {
      labels,
      datasets: [
        {
          label: 'Reward pool',
          data: closed.map((e) => synqNumber(e.rewardPool)),
          backgroundColor: COLORS.primarySoft,
          borderColor: COLORS.primary,
          borderWidth: 1,
        },
        { label: 'Paid', data: closed.map((e) => synqNumber(e.settlement!.paid)), backgroundColor: COLORS.primary },
      ],
      tooltip: (dataset, i) => (dataset === 0 ? `Reward pool: ${synq(closed[i].rewardPool)}` : `Paid: ${synq(closed[i].settlement!.paid)}`),
      yTitle: '$SYNQ',
      onClick: (i) => (location.hash = `#/epochs/${closed[i].epoch}`),
    });
    barChart('chart-eligibility', {
      labels,
      datasets: [
        { label: 'Eligible', data: closed.map((e) => e.settlement!.eligible), backgroundColor: COLORS.teal },
        { label: 'Ineligible', data: closed.map((e) => e.settlement!.ineligible), backgroundColor: COLORS.amber },
      ],
      stacked: true,
      yTitle: 'synqers',
      onClick: (i) => (location.hash = `#/epochs/${closed[i].epoch}`),
    });
  }
}
