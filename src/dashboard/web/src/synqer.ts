import { find, get, mapLimit, type Payout, type PolicyInfo, type Stake, type Synqer, type SynqerEpoch } from './api';
import { barChart, COLORS, lineChart } from './charts';
import { bps, bytes, integer, plural, synq, synqNumber, words } from './format';
import { html, mount, type Html } from './html';
import { amount, badge, card, chartBox, empty, facts, link, mono, modeBadge, section, statusBadge, type PageContext } from './ui';

export async function synqerPage({ view, stale }: PageContext, id: string): Promise<void> {
  const path = `/synqers/${encodeURIComponent(id)}`;
  const [synqer, stake, { epochs }, policy] = await Promise.all([
    get<Synqer>(path),
    get<Stake>(`${path}/stake`),
    get<{ epochs: SynqerEpoch[] }>(`${path}/epochs`),
    get<PolicyInfo>('/policy'),
  ]);
  // How each paid epoch was settled, and the transaction that carried this synqer's leaf.
  const payouts = await mapLimit(epochs, 4, (e) => (e.leaf ? find<Payout>(`/epochs/${e.epoch}/settlement`) : Promise.resolve(undefined)));
  if (stale()) return;

  const earned = epochs.reduce((sum, e) => sum + BigInt(e.reward ?? '0'), 0n);
  const calculated = epochs.filter((e) => e.calculated);
  const eligibleCount = calculated.filter((e) => e.eligible).length;
  const totalBytes = epochs.reduce((sum, e) => sum + BigInt(e.bytes), 0n);

  const head = html`<div class="page-head">
    <div class="crumbs">${link('#/', 'Overview')} / synqer</div>
    <h1>Synqer ${synqer.synqerId} ${badge(synqer.status, synqer.status === 'active' ? 'good' : 'bad')}</h1>
    <p class="muted">
      region
      ${synqer.region}${
        Object.keys(synqer.labels ?? {}).length > 0
          ? ` · ${Object.entries(synqer.labels)
              .map(([k, v]) => `${k}=${v}`)
              .join(', ')}`
          : ''
      }
    </p>
  </div>`;

  const cards = html`<div class="cards">
    ${card('Rewards earned', amount(earned.toString()), `over ${plural(calculated.length, 'closed epoch')}`)}
    ${card('Eligible', `${eligibleCount} / ${calculated.length}`, 'closed epochs it reported in', calculated.length > eligibleCount ? 'warn' : 'good')}
    ${card('Bytes relayed', bytes(totalBytes.toString()), `${plural(epochs.length, 'epoch')} shown`)}
    ${card('Active stake', amount(stake.active), BigInt(stake.slashed) > 0n ? `${synq(stake.slashed)} slashed` : BigInt(stake.held) > 0n ? `${synq(stake.held)} held` : 'nothing slashed')}
  </div>`;

  const labels = epochs.map((e) => `#${e.epoch}`);
  const chartsBody =
    epochs.length === 0
      ? section('Metrics', empty('This synqer has not reported in any epoch yet.'), 'metrics')
      : html`<div class="grid two">
          ${section('Bytes relayed', chartBox('chart-bytes', 'bytes per epoch', 220), 'bytes')}
          ${section('Sessions', chartBox('chart-sessions', 'sessions per epoch', 220), 'sessions')}
          ${section('Uptime and QoS', chartBox('chart-quality', 'per epoch, with the minimum the policy requires', 220), 'quality')}
          ${section('Reward per epoch', chartBox('chart-rewards', '$SYNQ per epoch (ineligible epochs in amber)', 220), 'rewards')}
        </div>`;

  const profile = facts([
    ['Payout wallet', html`<code class="hash">${synqer.payoutWallet}</code>`],
    ...(synqer.wallets.length > 1
      ? ([['Wallet history', html`${synqer.wallets.map((w) => html`<div>${mono(w.payoutWallet)} from epoch ${w.fromEpoch}</div>`)}`]] as [string, Html][])
      : []),
    ['Reporting key', html`<code class="hash">${synqer.reportingKey}</code>`],
  ]);

  const stakeFacts = facts([
    ['Active', synq(stake.active)],
    ['Held (active and unstaking)', synq(stake.held)],
    ['Slashed', synq(stake.slashed)],
    [
      'Unstaking',
      stake.unstaking.length === 0
        ? 'nothing'
        : html`${stake.unstaking.map((u) => html`<div>${synq(u.amount)} · unlocks at epoch ${u.unlockEpoch} ${u.withdrawn ? badge('withdrawn', 'neutral') : badge('pending', 'warn')}</div>`)}`,
    ],
  ]);

  const rows = [...epochs].reverse().map((e) => {
    const payout = payouts[epochs.indexOf(e)];
    return html`<tr data-epoch="${String(e.epoch)}">
      <td>${link(`#/epochs/${e.epoch}`, html`<b>#${e.epoch}</b>`)}</td>
      <td class="num" title="${e.bytes} bytes">${bytes(e.bytes)}</td>
      <td class="num">${integer(e.sessions)}</td>
      <td class="num">${bps(e.uptimeBps)}</td>
      <td class="num">${bps(e.qosBps)}</td>
      <td class="num">${e.stakeBoostBps === null ? '—' : bps(e.stakeBoostBps)}</td>
      <td>
        ${!e.calculated ? badge('epoch open', 'info') : e.eligible ? badge('eligible', 'good') : html`${badge('ineligible', 'warn')} <span class="small">${e.reasons.map(words).join(', ')}</span>`}
      </td>
      <td class="num">${e.reward === null ? html`<span class="muted">—</span>` : synq(e.reward, false)}</td>
      <td>${payoutCell(e, payout)}</td>
    </tr>`;
  });
  const table =
    epochs.length === 0
      ? empty('No epochs yet.')
      : html`<div class="table-wrap">
          <table class="table" id="synqer-epochs">
            <thead>
              <tr>
                <th>Epoch</th>
                <th class="num">Bytes</th>
                <th class="num">Sessions</th>
                <th class="num">Uptime</th>
                <th class="num">QoS</th>
                <th class="num">Stake boost</th>
                <th>Eligibility</th>
                <th class="num">Reward ($SYNQ)</th>
                <th>Payout</th>
              </tr>
            </thead>
            <tbody>
              ${rows}
            </tbody>
          </table>
        </div>`;

  mount(
    view,
    html`${head}${cards}${chartsBody}
      <div class="grid two">${section('Profile', profile, 'profile')}${section('Stake', stakeFacts, 'stake')}</div>
      ${section('Epochs and payouts', table, 'payouts')}`,
  );
  if (epochs.length === 0) return;

  barChart('chart-bytes', {
    labels,
    datasets: [{ label: 'bytes', data: epochs.map((e) => Number(e.bytes)), backgroundColor: COLORS.primary }],
    tooltip: (_d, i) => `${bytes(epochs[i].bytes)} (${integer(epochs[i].bytes)} bytes)`,
    ticks: (value) => bytes(String(value)),
  });
  barChart('chart-sessions', {
    labels,
    datasets: [{ label: 'sessions', data: epochs.map((e) => Number(e.sessions)), backgroundColor: COLORS.teal }],
    yTitle: 'sessions',
  });
  const minimum = (value: number) => epochs.map(() => value / 100);
  lineChart('chart-quality', {
    labels,
    datasets: [
      { label: 'Uptime', data: epochs.map((e) => e.uptimeBps / 100), borderColor: COLORS.primary, backgroundColor: COLORS.primary, tension: 0.2 },
      { label: 'QoS', data: epochs.map((e) => e.qosBps / 100), borderColor: COLORS.teal, backgroundColor: COLORS.teal, tension: 0.2 },
      {
        label: `Min. uptime (policy v${policy.inForce.version})`,
        data: minimum(policy.inForce.minUptimeBps),
        borderColor: COLORS.primary,
        borderDash: [6, 4],
        borderWidth: 1,
        pointRadius: 0,
      },
      { label: 'Min. QoS', data: minimum(policy.inForce.minQosBps), borderColor: COLORS.teal, borderDash: [2, 3], borderWidth: 1, pointRadius: 0 },
    ],
    min: 0,
    max: 100,
    unit: ' %',
    tooltip: (d, i) =>
      d === 0
        ? `Uptime ${bps(epochs[i].uptimeBps)}`
        : d === 1
          ? `QoS ${bps(epochs[i].qosBps)}`
          : d === 2
            ? `Minimum uptime ${bps(policy.inForce.minUptimeBps)}`
            : `Minimum QoS ${bps(policy.inForce.minQosBps)}`,
  });
  barChart('chart-rewards', {
    labels,
    datasets: [
      {
        label: 'reward',
        data: epochs.map((e) => synqNumber(e.reward)),
        backgroundColor: epochs.map((e) => (e.calculated && !e.eligible ? COLORS.amber : COLORS.primary)),
        minBarLength: 3,
      },
    ],
    tooltip: (_d, i) =>
      epochs[i].reward === null ? 'epoch open' : epochs[i].eligible ? synq(epochs[i].reward) : `ineligible: ${epochs[i].reasons.map(words).join(', ')}`,
    yTitle: '$SYNQ',
    onClick: (i) => (location.hash = `#/epochs/${epochs[i].epoch}`),
  });
}

/** Where the synqer's leaf stands: settled in the books (web2), paid by transaction (hybrid), claimable (web3). */
function payoutCell(e: SynqerEpoch, payout: Payout | undefined): Html {
  if (!e.leaf) return html`<span class="muted">${e.calculated ? 'nothing to pay' : '—'}</span>`;
  const amount = e.leaf.amount !== e.reward ? html`<div class="small muted">wallet leaf ${synq(e.leaf.amount)}</div>` : '';
  if (!payout) return html`${badge('not settled', 'warn')}${amount}`;
  const leaf = e.leaf.index;
  if (payout.mode === 'hybrid') {
    const batch = payout.batches.find((b) => b.kind === 'payout' && leaf >= b.firstLeaf && leaf < b.firstLeaf + b.leafCount);
    return html`${modeBadge('hybrid')} ${statusBadge(batch?.status ?? payout.status)}
    ${batch?.signature ? html`<code class="id" data-copy="${batch.signature}" title="${batch.signature}">${batch.signature.slice(0, 10)}…</code>` : ''}${amount}`;
  }
  if (payout.mode === 'web3') return html`${modeBadge('web3')} ${badge('claimable', 'info', 'root anchored on chain; claim with the proof')}${amount}`;
  return html`${modeBadge('web2')} ${statusBadge(payout.status)} <span class="small muted">in the books</span>${amount}`;
}
