import {
  ApiError,
  find,
  get,
  modeOf,
  type Claim,
  type ClaimsProgress,
  type ClawbackRecord,
  type Epoch,
  type EpochStatistics,
  type Job,
  type Payout,
  type RewardRow,
  type SettlementControl,
} from './api';
import { barChart, COLORS, doughnutChart } from './charts';
import { followJobs, jobsTable, redraw } from './jobs';
import { bps, bytes, instant, integer, plural, sol, synq, synqNumber, words } from './format';
import { html, mount } from './html';
import { amount, badge, card, chartBox, empty, facts, link, modeBadge, problemBox, section, statusBadge, type PageContext } from './ui';

const TOP = 10;
const BATCHES_SHOWN = 200;

/** "12.34" from base units: a short axis label (bigint arithmetic, truncated to 2 decimals). */
function synqShort(base: string): string {
  const value = BigInt(base);
  const whole = (value / 1_000_000n).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  return `${whole}.${(value % 1_000_000n).toString().padStart(6, '0').slice(0, 2)}`;
}

export async function epochPage({ view, stale }: PageContext, epochParam: string): Promise<void> {
  const n = Number(epochParam);
  const jobsPath = `/jobs?epoch=${n}&limit=5`;
  const [epoch, statistics, payout, control, { jobs }] = await Promise.all([
    get<Epoch>(`/epochs/${n}`),
    get<EpochStatistics>(`/epochs/${n}/statistics`),
    find<Payout>(`/epochs/${n}/settlement`),
    get<SettlementControl>('/settlement'),
    get<{ jobs: Job[] }>(jobsPath),
  ]);
  const top = statistics.calculated ? (await get<{ results: RewardRow[] }>(`/epochs/${n}/rewards?limit=${TOP}`)).results : [];
  // web3: how far the claims have come, and the clawback once the deadline passed.
  const [claims, clawback] = payout?.funded
    ? await Promise.all([find<ClaimsProgress>(`/epochs/${n}/claims?limit=1`), find<ClawbackRecord>(`/epochs/${n}/clawback`)])
    : [undefined, undefined];
  if (stale()) return;

  const books = epoch.settlement;
  const mode = modeOf(control, n, payout);
  const eligibility = statistics.eligibility;
  const rewards = statistics.rewards;

  const head = html`<div class="page-head">
    <div class="crumbs">${link('#/', 'Overview')} / epoch #${n}</div>
    <h1>Epoch #${n} ${statusBadge(epoch.status)} ${modeBadge(mode)}</h1>
    <p class="muted">${instant(epoch.start)} to ${instant(epoch.end)}${epoch.stage ? ` · close stage: ${words(epoch.stage)}` : ''}</p>
  </div>`;

  const cards = html`<div class="cards">
    ${card('Reward pool', amount(epoch.rewardPool))}
    ${card('Paid', books ? amount(books.paid) : '—', books && BigInt(books.returnedToTreasury) > 0n ? `${synq(books.returnedToTreasury)} returned to the treasury` : books ? 'the whole pool' : 'not calculated yet')}
    ${card(
      'Eligible synqers',
      eligibility ? `${integer(eligibility.eligible)} / ${integer(eligibility.synqers)}` : integer(statistics.reported.synqers),
      eligibility ? `${plural(eligibility.ineligible, 'synqer')} ineligible` : 'reporting so far',
      eligibility && eligibility.ineligible > 0 ? 'warn' : 'neutral',
    )}
    ${card(
      'Settlement',
      payout ? payout.status.replace('_', ' ') : epoch.status === 'open' ? 'epoch open' : 'not settled',
      payout
        ? payout.transactions.planned === 0
          ? 'marked paid in the books, nothing on chain'
          : `${payout.transactions.confirmed} / ${plural(payout.transactions.planned, 'transaction')} confirmed`
        : `will settle ${mode}`,
      payout?.status === 'settled' ? 'good' : payout ? 'warn' : 'neutral',
    )}
    ${card('Cost', payout ? sol(payout.cost.totalLamports) : '—', payout ? (payout.cost.percentOfPaid !== null ? `${payout.cost.percentOfPaid} % of the rewards paid` : `fees ${sol(payout.cost.feeLamports)} · rent ${sol(payout.cost.rentLamports)}`) : '')}
  </div>`;

  const booksFacts = facts([
    ['Window', `${instant(epoch.start)} to ${instant(epoch.end)}`],
    [
      'Reported',
      `${plural(statistics.reported.reports, 'report')} from ${plural(statistics.reported.synqers, 'synqer')} · ${bytes(statistics.reported.bytes)} · ${plural(Number(statistics.reported.sessions), 'session')}`,
    ],
    ...(books
      ? ([
          ['Cut-off position', integer(books.cutOffPosition)],
          ['Policy', `version ${books.policyVersion}`],
          ['Rewards digest', html`<code class="hash">${books.digest}</code>`],
          ['Distribution root', books.distribution ? html`<code class="hash" id="distribution-root">${books.distribution.root}</code>` : '—'],
          ['Leaves', books.distribution ? `${integer(books.distribution.leafCount)} · total ${synq(books.distribution.total)}` : '—'],
        ] as [string, ReturnType<typeof html> | string][])
      : []),
  ]);

  const charts = rewards
    ? html`<div class="grid two">
        ${section('Reward distribution', rewards.count > 0 ? chartBox('chart-histogram', 'synqers per reward range ($SYNQ)') : empty('Nobody was paid in this epoch.'), 'histogram', rewards.count > 0 ? html`<span class="muted">median ${synq(rewards.median)}</span>` : undefined)}
        ${section('Eligibility', eligibilityBody(statistics), 'eligibility')}
      </div>`
    : section(
        'Rewards',
        empty(epoch.status === 'open' ? 'The epoch is open: rewards are calculated when it closes.' : 'Rewards are being calculated.'),
        'rewards',
      );

  const topSection =
    top.length > 0
      ? section(
          `Top ${Math.min(TOP, top.length)} synqers by reward`,
          html`<div class="grid split">${chartBox('chart-top', 'reward ($SYNQ)', 300)}${topTable(top)}</div>`,
          'top',
        )
      : '';

  const lookup = books?.distribution
    ? section(
        'Proof lookup',
        html`<form class="inline-form" id="proof-form">
            <input
              id="wallet-input"
              name="wallet"
              type="text"
              placeholder="payout wallet (base58)"
              autocomplete="off"
              spellcheck="false"
              aria-label="Payout wallet"
              required
            />
            <button type="submit" class="button primary">Look up</button>
          </form>
          <p class="muted small">
            A wallet's claim in this distribution (Jito merkle-distributor format): amount, leaf index and proof, bottom up. Click a wallet above to fill it in.
          </p>
          <div id="proof-result"></div>`,
        'proof',
      )
    : '';

  const claimsSection = claims && payout ? section('Claims', claimsBody(claims, clawback ?? undefined, payout), 'claims') : '';

  // Its close and settlement jobs, the running one's progress polled until it ends.
  const jobsSection = jobs.length > 0 ? section('Jobs', html`<div id="jobs-panel">${jobsTable(jobs)}</div>`, 'jobs') : '';

  mount(
    view,
    html`${head}${cards}${jobsSection}${claimsSection}${charts}${topSection}
      <div class="grid two">${section('Books', booksFacts, 'books')} ${lookup}</div>
      ${section('Settlement transactions', settlementBody(payout, epoch, mode), 'settlement')}`,
  );

  const panel = document.getElementById('jobs-panel');
  if (panel) followJobs(jobsPath, jobs, stale, (listed) => mount(panel, jobsTable(listed)), redraw);

  if (rewards && rewards.count > 0) {
    const buckets = rewards.histogram;
    barChart('chart-histogram', {
      labels: buckets.map((b) => synqShort(b.from)),
      datasets: [{ label: 'synqers', data: buckets.map((b) => b.count), backgroundColor: COLORS.primary, barPercentage: 1, categoryPercentage: 0.92 }],
      title: (i) => `${synq(buckets[i].from)} to ${synq(buckets[i].to)}`,
      tooltip: (_d, i) => plural(buckets[i].count, 'synqer'),
      yTitle: 'synqers',
      xTitle: 'reward from ($SYNQ)',
    });
  }
  if (eligibility && eligibility.synqers > 0) {
    doughnutChart('chart-eligibility', ['Eligible', 'Ineligible'], [eligibility.eligible, eligibility.ineligible], [COLORS.teal, COLORS.amber]);
  }
  if (top.length > 0) {
    barChart('chart-top', {
      labels: top.map((r) => r.synqerId),
      datasets: [{ label: 'reward', data: top.map((r) => synqNumber(r.reward)), backgroundColor: COLORS.primary }],
      horizontal: true,
      tooltip: (_d, i) => synq(top[i].reward),
      onClick: (i) => (location.hash = `#/synqers/${encodeURIComponent(top[i].synqerId)}`),
    });
  }

  const form = document.getElementById('proof-form') as HTMLFormElement | null;
  form?.addEventListener('submit', (event) => {
    event.preventDefault();
    void lookUp(n, String(new FormData(form).get('wallet') ?? '').trim());
  });
  view.querySelectorAll<HTMLElement>('[data-wallet]').forEach((element) =>
    element.addEventListener('click', () => {
      const input = document.getElementById('wallet-input') as HTMLInputElement | null;
      if (input) {
        input.value = element.dataset.wallet!;
        input.focus();
      }
    }),
  );
}

function eligibilityBody(statistics: EpochStatistics) {
  const eligibility = statistics.eligibility!;
  if (eligibility.synqers === 0) return empty('No synqer reported in this epoch.');
  const reasons =
    eligibility.reasons.length === 0
      ? html`<p class="muted">Every synqer that reported is eligible.</p>`
      : html`<table class="table compact" id="reasons-table">
            <thead>
              <tr>
                <th>Ineligible because</th>
                <th class="num">Synqers</th>
              </tr>
            </thead>
            <tbody>
              ${eligibility.reasons.map(
                (r) =>
                  html`<tr data-reason="${r.reason}">
                    <td>${words(r.reason)}</td>
                    <td class="num">
                      <span class="bar" style="width:${Math.max(4, Math.round((r.count / eligibility.synqers) * 80))}px"></span>${integer(r.count)}
                    </td>
                  </tr>`,
              )}
            </tbody>
          </table>
          <p class="muted small">A synqer can have several reasons.</p>`;
  return html`<div class="grid two tight">
    ${chartBox('chart-eligibility', 'eligible and ineligible synqers', 200)}
    <div>${reasons}</div>
  </div>`;
}

function topTable(top: RewardRow[]) {
  return html`<div class="table-wrap">
    <table class="table compact" id="top-table">
      <thead>
        <tr>
          <th>Synqer</th>
          <th class="num">Bytes</th>
          <th class="num">Sessions</th>
          <th class="num">Uptime</th>
          <th class="num">QoS</th>
          <th>Wallet</th>
          <th class="num">Reward ($SYNQ)</th>
        </tr>
      </thead>
      <tbody>
        ${top.map(
          (r) =>
            html`<tr>
              <td>
                ${link(`#/synqers/${encodeURIComponent(r.synqerId)}`, r.synqerId)}${r.eligible ? '' : html` ${badge('ineligible', 'warn', r.reasons.map(words).join(', '))}`}
              </td>
              <td class="num" title="${r.bytes} bytes">${bytes(r.bytes)}</td>
              <td class="num">${integer(r.sessions)}</td>
              <td class="num">${bps(r.uptimeBps)}</td>
              <td class="num">${bps(r.qosBps)}</td>
              <td>
                ${r.payoutWallet ? html`<button type="button" class="link-button mono-button" data-wallet="${r.payoutWallet}" title="${r.payoutWallet}: look up its proof">${r.payoutWallet.slice(0, 6)}…</button>` : '—'}
              </td>
              <td class="num">${synq(r.reward, false)}</td>
            </tr>`,
        )}
      </tbody>
    </table>
  </div>`;
}

async function lookUp(epoch: number, wallet: string): Promise<void> {
  const result = document.getElementById('proof-result')!;
  if (!wallet) return;
  mount(result, html`<p class="muted">Looking up…</p>`);
  try {
    const claim = await get<Claim>(`/epochs/${epoch}/distribution/${encodeURIComponent(wallet)}`);
    mount(
      result,
      html`<div class="claim" data-wallet="${claim.wallet}">
        <div class="claim-amount" id="claim-amount">${synq(claim.amount)}</div>
        ${facts([
          ['Wallet', html`<code class="hash">${claim.wallet}</code>`],
          ['Leaf index', integer(claim.index)],
          ['Root', html`<code class="hash">${claim.root}</code>`],
          [
            'Proof',
            claim.proof.length === 0
              ? 'empty (a single leaf is the root)'
              : html`<ol class="proof">
                  ${claim.proof.map((node) => html`<li><code class="hash">${node}</code></li>`)}
                </ol>`,
          ],
        ])}
      </div>`,
    );
  } catch (error) {
    if (error instanceof ApiError && error.status === 404) mount(result, html`<div class="notice">No claim: ${error.detail}.</div>`);
    else mount(result, problemBox(error));
  }
}

function settlementBody(payout: Payout | undefined, epoch: Epoch, mode: string) {
  if (!payout) {
    if (epoch.status === 'open') return empty(`The epoch is open; once closed it settles in ${mode} mode.`);
    return empty(`Not settled yet: POST /epochs/${epoch.epoch}/settlement settles it in ${mode} mode.`);
  }
  const t = payout.transactions;
  const summary = facts([
    [
      'Mode',
      html`${modeBadge(payout.mode)}
      ${payout.mode === 'web2' ? 'marked paid in the books; nothing moves on chain' : payout.mode === 'hybrid' ? 'SPL transfers from the treasury to each leaf' : payout.distributor ? "the epoch's Jito merkle distributor, created and funded; synqers claim with proofs" : 'root anchored by a memo; claims through proofs'}`,
    ],
    ['Status', statusBadge(payout.status)],
    ['Leaves', `${integer(payout.leafCount)} · total ${synq(payout.total)}`],
    [
      'Transactions',
      t.planned === 0
        ? 'none'
        : html`${integer(t.confirmed)} confirmed of
          ${integer(t.planned)}${t.awaiting ? html` · ${badge(`${t.awaiting} awaiting`, 'warn')}` : ''}${t.failed ? html` · ${badge(`${t.failed} failed`, 'bad')}` : ''}${t.unsigned ? html` · ${badge(`${t.unsigned} not sent`, 'warn')}` : ''}`,
    ],
    [
      'Cost',
      html`${sol(payout.cost.totalLamports)}
        <span class="muted">(fees ${sol(payout.cost.feeLamports)}, rent ${sol(payout.cost.rentLamports)})</span
        >${payout.cost.percentOfPaid !== null ? ` · ${payout.cost.percentOfPaid} % of the rewards paid` : ''}`,
    ],
  ]);
  if (payout.batches.length === 0) return summary;
  const shown = payout.batches.slice(0, BATCHES_SHOWN);
  return html`${summary}
    <div class="table-wrap">
      <table class="table compact" id="batches-table">
        <thead>
          <tr>
            <th class="num">Batch</th>
            <th>Kind</th>
            <th class="num">Leaves</th>
            <th>Status</th>
            <th class="num">Attempts</th>
            <th>Signature</th>
          </tr>
        </thead>
        <tbody>
          ${shown.map(
            (b) =>
              html`<tr>
                <td class="num">${b.batch}</td>
                <td>${b.kind}</td>
                <td class="num">${b.kind === 'anchor' ? '—' : `${integer(b.firstLeaf)}–${integer(b.firstLeaf + b.leafCount - 1)}`}</td>
                <td>${statusBadge(b.status)}</td>
                <td class="num">${b.attempts}</td>
                <td>
                  ${b.signature ? html`<code class="hash sig" data-copy="${b.signature}" title="click to copy">${b.signature}</code>` : html`<span class="muted">—</span>`}
                </td>
              </tr>`,
          )}
        </tbody>
      </table>
    </div>
    ${payout.batches.length > shown.length ? html`<p class="muted small">Showing ${integer(shown.length)} of ${integer(payout.batches.length)} transactions.</p>` : ''}`;
}

/** Claim progress of a web3 epoch: claimed and unclaimed, count and amount, the deadline, and the clawback. */
function claimsBody(claims: ClaimsProgress, clawback: ClawbackRecord | undefined, payout: Payout) {
  const { claimed, unclaimed, leaves, sponsored } = claims.totals;
  const share = leaves === 0 ? 0 : Math.round((claimed.count / leaves) * 100);
  const deadline = claims.claimDeadline ?? payout.claimDeadline;
  return html`<div id="claim-progress" data-claimed="${claimed.count}" data-unclaimed="${unclaimed.count}">
    <div class="progress" role="progressbar" aria-valuemin="0" aria-valuemax="${leaves}" aria-valuenow="${claimed.count}">
      <div class="progress-bar" style="width: ${share}%"></div>
    </div>
    ${facts([
      [
        'Claimed',
        `${integer(claimed.count)} of ${plural(leaves, 'leaf', 'leaves')} · ${synq(claimed.amount)}${sponsored.count > 0 ? ` · ${integer(sponsored.count)} sponsored` : ''}`,
      ],
      ['Unclaimed', `${plural(unclaimed.count, 'leaf', 'leaves')} · ${synq(unclaimed.amount)}`],
      ['Claim deadline', deadline ? instant(deadline.at) : '—'],
      [
        'Clawback',
        clawback?.amount
          ? `${synq(clawback.amount)} back to the treasury (${clawback.policy === 'return' ? 'returned to the pool' : "carried into those wallets' next leaves"})`
          : 'not yet: after the deadline, what is unclaimed comes back to the treasury',
      ],
      ['Distributor', html`<code class="hash">${payout.distributor ?? '—'}</code>`],
      ['Vault', html`<code class="hash">${payout.vault ?? '—'}</code>`],
      ['Paid by claimants', payout.cost.claims ? `${sol(payout.cost.claims.claimantLamports)} · sponsor ${sol(payout.cost.claims.sponsorLamports)}` : '—'],
    ])}
  </div>`;
}
