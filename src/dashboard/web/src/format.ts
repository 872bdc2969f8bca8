/**
 * Amounts arrive as decimal strings of base units. They are written with bigint arithmetic only: $SYNQ has 6 decimals,
 * SOL 9 (lamports). Number() is used for chart heights, never for a figure shown as text.
 */

const group = (digits: string) => digits.replace(/\B(?=(\d{3})+(?!\d))/g, ',');

function decimal(base: string, decimals: number): string {
  let value = BigInt(base);
  const negative = value < 0n;
  if (negative) value = -value;
  const scale = 10n ** BigInt(decimals);
  const whole = group((value / scale).toString());
  const fraction = (value % scale).toString().padStart(decimals, '0');
  return `${negative ? '-' : ''}${whole}.${fraction}`;
}

/** "1,234.567890 $SYNQ" from base units. */
export function synq(base: string | null | undefined, unit = true): string {
  if (base === null || base === undefined) return '—';
  return unit ? `${decimal(base, 6)} $SYNQ` : decimal(base, 6);
}

/** "0.000015000 SOL" from lamports. */
export function sol(lamports: string | null | undefined, unit = true): string {
  if (lamports === null || lamports === undefined) return '—';
  return unit ? `${decimal(lamports, 9)} SOL` : decimal(lamports, 9);
}

/** For chart heights only. */
export const synqNumber = (base: string | null | undefined): number => (base ? Number(base) / 1e6 : 0);

export const integer = (value: string | number | null | undefined): string => (value === null || value === undefined ? '—' : group(String(value)));

/** Basis points as a percentage, "95.00 %". */
export function bps(value: number | null | undefined): string {
  if (value === null || value === undefined) return '—';
  return `${(value / 100).toFixed(2)} %`;
}

const UNITS = ['B', 'kB', 'MB', 'GB', 'TB', 'PB'];
/** "12.3 MB" (decimal units); the exact count is given in a title by the caller. */
export function bytes(value: string | null | undefined): string {
  if (value === null || value === undefined) return '—';
  let n = Number(value);
  let unit = 0;
  while (n >= 1000 && unit < UNITS.length - 1) {
    n /= 1000;
    unit++;
  }
  return unit === 0 ? `${n} B` : `${n.toFixed(n >= 100 ? 0 : 1)} ${UNITS[unit]}`;
}

/** "2026-11-01 00:00 UTC". */
export function instant(iso: string | null | undefined): string {
  if (!iso) return '—';
  return iso.replace('T', ' ').replace(/:\d\d(\.\d+)?Z$/, ' UTC');
}

/** "3ZkU…x9Qa": the start and end of a long identifier (the whole of it goes in a title). */
export function short(value: string | null | undefined, keep = 6): string {
  if (!value) return '—';
  return value.length <= keep * 2 + 1 ? value : `${value.slice(0, keep)}…${value.slice(-keep)}`;
}

export const plural = (count: number, one: string, many = `${one}s`) => `${integer(count)} ${count === 1 ? one : many}`;

/** Reason codes as words: "uptime_below_minimum" → "uptime below minimum". */
export const words = (code: string) => code.replace(/_/g, ' ');
