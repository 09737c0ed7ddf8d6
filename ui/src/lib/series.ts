// Turns grouped stats buckets into aligned chart columns: one x axis (seconds), one series per
// group. Counts are 0 where a bucket is empty; latencies are null (a gap, not a zero).
import type { StatsBucket } from './api.gen';

export type Metric = 'count' | 'errors' | 'latency_p95_ms' | 'cost_usd';

export function columns(buckets: StatsBucket[], fromMs: number, toMs: number, stepMs: number, metric: Metric) {
  const xs: number[] = [];
  for (let t = fromMs; t < toMs; t += stepMs) xs.push(t / 1000);
  const groups = [...new Set(buckets.map((b) => b.group ?? '(none)'))].sort();
  const index = new Map(groups.map((g, i) => [g, i]));
  const gaps = metric === 'latency_p95_ms';
  const series: (number | null)[][] = groups.map(() => xs.map(() => (gaps ? null : 0)));
  for (const b of buckets) {
    const i = Math.floor((b.t_ms - fromMs) / stepMs);
    const g = index.get(b.group ?? '(none)');
    if (g === undefined || i < 0 || i >= xs.length) continue;
    series[g][i] = b[metric];
  }
  return { xs, groups, series };
}
