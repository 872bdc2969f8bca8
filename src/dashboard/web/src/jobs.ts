import { get, type Job } from './api';
import { instant, integer, words } from './format';
import { html, type Html } from './html';
import { badge, empty, link, type Tone } from './ui';

/**
 * Long work (settlements, closes, verification runs) is a job on the engine (`GET /jobs`): the dashboard shows the
 * recent ones and, while one is queued or running, polls them every second and draws their progress; when one ends,
 * the page is drawn again with what it changed.
 */

const TONES: Record<Job['state'], Tone> = { queued: 'info', running: 'info', succeeded: 'good', failed: 'bad', interrupted: 'warn' };
const POLL_MS = 1000;

export const isActive = (job: Job) => job.state === 'queued' || job.state === 'running';

function what(job: Job): Html {
  const epoch = job.epoch === undefined ? '' : html` of ${link(`#/epochs/${job.epoch}`, `epoch #${job.epoch}`)}`;
  if (job.kind === 'verification') {
    const run = job.links.run?.split('/').pop();
    return run ? link(`#/verification/${encodeURIComponent(run)}`, 'Verification run') : html`Verification run`;
  }
  return html`${job.kind === 'settlement' ? 'Settlement' : 'Close'}${epoch}`;
}

function progressOf(job: Job): Html {
  const progress = job.progress;
  if (!progress) return html`<span class="muted">—</span>`;
  const unit = job.kind === 'close' ? 'steps' : 'transactions';
  const share = progress.total > 0 ? Math.min(100, Math.round((progress.done / progress.total) * 100)) : isActive(job) ? 0 : 100;
  return html`<div class="job-progress" data-done="${String(progress.done)}" data-total="${String(progress.total)}">
    <div class="progress" role="progressbar" aria-valuemin="0" aria-valuemax="${String(progress.total)}" aria-valuenow="${String(progress.done)}">
      <div class="progress-bar" style="width: ${share}%"></div>
    </div>
    <span class="small"
      >${progress.phase === unit ? '' : `${words(progress.phase)}${progress.total > 0 ? ': ' : ''}`}${progress.total > 0 ? `${integer(progress.done)} / ${integer(progress.total)} ${unit}` : ''}</span
    >
  </div>`;
}

/** A table of jobs, most recent first: what, state (with the problem of one that failed or stopped), progress, when. */
export function jobsTable(jobs: Job[]): Html {
  if (jobs.length === 0) return empty('No settlement, close or verification has run yet.');
  return html`<div class="table-wrap">
    <table class="table compact" id="jobs-table">
      <thead>
        <tr>
          <th>Job</th>
          <th>State</th>
          <th>Progress</th>
          <th>Started</th>
          <th>Updated</th>
        </tr>
      </thead>
      <tbody>
        ${jobs.map(
          (job) =>
            html`<tr data-job="${job.id}" data-kind="${job.kind}" data-state="${job.state}">
              <td>${what(job)}${job.runs > 1 ? html` <span class="muted small">(run ${job.runs})</span>` : ''}</td>
              <td>
                ${badge(job.state, TONES[job.state])}
                ${job.error ? html`<div class="small muted" title="${job.error.detail}">${job.error.status} ${job.error.detail.slice(0, 140)}</div>` : ''}
              </td>
              <td>${progressOf(job)}</td>
              <td class="nowrap">${instant(job.createdAt)}</td>
              <td class="nowrap">${instant(job.updatedAt)}</td>
            </tr>`,
        )}
      </tbody>
    </table>
  </div>`;
}

/**
 * While any of `jobs` is queued or running: every second, `path` is listed again and handed to `draw`; once one of
 * them has ended, `ended` is called (the page draws itself again). Stops when the page is left (`stale`).
 */
export function followJobs(path: string, jobs: Job[], stale: () => boolean, draw: (jobs: Job[]) => void, ended: () => void): void {
  let running = new Set(jobs.filter(isActive).map((job) => job.id));
  if (running.size === 0) return;
  const tick = async () => {
    if (stale()) return;
    let listed: Job[];
    try {
      listed = (await get<{ jobs: Job[] }>(path)).jobs;
    } catch {
      setTimeout(() => void tick(), POLL_MS * 2);
      return;
    }
    if (stale()) return;
    draw(listed);
    const still = new Set(listed.filter(isActive).map((job) => job.id));
    if ([...running].some((id) => !still.has(id))) return ended();
    running = still;
    if (running.size > 0) setTimeout(() => void tick(), POLL_MS);
  };
  setTimeout(() => void tick(), POLL_MS);
}

/** The current page drawn again (the router listens to hash changes). */
export const redraw = () => window.dispatchEvent(new HashChangeEvent('hashchange'));
