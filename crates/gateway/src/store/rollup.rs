//! Per-minute and per-hour rollups of the request log (migration 0008): one row per period ×
//! alias × target × client with counts, errors, tokens, cost and latency/TTFT histograms. The
//! log writer adds each batch in the batch's own transaction (off the request path); stats read
//! a few rollup rows per period instead of every request. Rows logged before the migration are
//! rolled up in the background (`backfill_step`); pruning drops periods older than the log.

use std::collections::HashMap;
use std::time::Duration;

use sqlx::{QueryBuilder, Sqlite, SqliteConnection, SqlitePool};

use super::LogRow;

pub(crate) const MINUTE_MS: i64 = 60_000;
pub(crate) const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 24 * HOUR_MS;

/// One rollup table and the period it sums.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Tier {
    pub unit_ms: i64,
    table: &'static str,
}

pub(crate) const MINUTES: Tier = Tier {
    unit_ms: MINUTE_MS,
    table: "request_minutes",
};
pub(crate) const HOURS: Tier = Tier {
    unit_ms: HOUR_MS,
    table: "request_hours",
};
const TIERS: [Tier; 2] = [MINUTES, HOURS];

/// Buckets per doubling: a value is reported within ±4.5 % (half a bucket).
const PER_DOUBLING: f64 = 8.0;
/// Bucket 0 holds everything below this; 255 buckets reach about 100 hours.
const FLOOR_MS: f64 = 0.1;

/// A log-scale histogram of milliseconds: counts by bucket index (dense, grown as needed;
/// stored sparse, see `encode`). Dense so that merging thousands of them is array additions.
#[derive(Debug, Clone, Default)]
pub(crate) struct Hist(Vec<u64>);

impl PartialEq for Hist {
    /// Equal counts, whatever the trailing empty buckets.
    fn eq(&self, other: &Hist) -> bool {
        let (short, long) = if self.0.len() <= other.0.len() {
            (&self.0, &other.0)
        } else {
            (&other.0, &self.0)
        };
        long[..short.len()] == short[..] && long[short.len()..].iter().all(|n| *n == 0)
    }
}

impl Hist {
    fn index(ms: f64) -> u8 {
        if ms >= FLOOR_MS {
            (1.0 + ((ms / FLOOR_MS).log2() * PER_DOUBLING).floor()).min(255.0) as u8
        } else {
            0
        }
    }

    /// The bucket's geometric middle.
    fn value(index: usize) -> f64 {
        if index == 0 {
            0.0
        } else {
            FLOOR_MS * ((index as f64 - 0.5) / PER_DOUBLING).exp2()
        }
    }

    fn bump(&mut self, index: u8, n: u64) {
        let i = usize::from(index);
        if i >= self.0.len() {
            self.0.resize(i + 1, 0);
        }
        self.0[i] += n;
    }

    pub fn add(&mut self, ms: f64) {
        self.bump(Self::index(ms), 1);
    }

    pub fn merge(&mut self, other: &Hist) {
        if other.0.len() > self.0.len() {
            self.0.resize(other.0.len(), 0);
        }
        for (mine, theirs) in self.0.iter_mut().zip(&other.0) {
            *mine += theirs;
        }
    }

    pub fn total(&self) -> u64 {
        self.0.iter().sum()
    }

    /// Nearest rank, like `read::percentile`, to within a bucket.
    pub fn percentile(&self, q: f64) -> Option<f64> {
        let total = self.total();
        if total == 0 {
            return None;
        }
        let rank = ((q * total as f64).ceil() as u64).clamp(1, total);
        let mut seen = 0;
        for (i, &n) in self.0.iter().enumerate() {
            seen += n;
            if seen >= rank {
                return Some(Self::value(i));
            }
        }
        None
    }

    /// Index byte, then the count as LEB128, per non-empty bucket.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for (i, &n) in self.0.iter().enumerate().filter(|(_, n)| **n > 0) {
            out.push(i as u8);
            let mut n = n;
            loop {
                let byte = (n & 0x7f) as u8;
                n >>= 7;
                if n == 0 {
                    out.push(byte);
                    break;
                }
                out.push(byte | 0x80);
            }
        }
        out
    }

    /// Adds the counts of `bytes` (one encoding, or several concatenated); stops at the first
    /// malformed entry (keeps what came before).
    pub fn add_encoded(&mut self, bytes: &[u8]) {
        let mut it = bytes.iter();
        while let Some(&i) = it.next() {
            let (mut n, mut shift) = (0u64, 0u32);
            loop {
                let Some(&b) = it.next() else { return };
                if shift > 63 {
                    return;
                }
                n |= u64::from(b & 0x7f) << shift;
                shift += 7;
                if b & 0x80 == 0 {
                    break;
                }
            }
            self.bump(i, n);
        }
    }

    pub fn decode(bytes: &[u8]) -> Hist {
        let mut hist = Hist::default();
        hist.add_encoded(bytes);
        hist
    }
}

/// The sums of one period × key.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Cell {
    pub count: i64,
    pub errors: i64,
    pub input_tokens: i64,
    pub output_tokens: i64,
    pub cost_usd: f64,
    pub latency: Hist,
    pub ttft: Hist,
}

impl Cell {
    fn add(&mut self, row: &LogRow) {
        self.count += 1;
        self.errors += i64::from(row.status >= 400 || row.error_type.is_some());
        self.input_tokens += row.input_tokens.unwrap_or(0) as i64;
        self.output_tokens += row.output_tokens.unwrap_or(0) as i64;
        self.cost_usd += row.cost_usd.unwrap_or(0.0);
        self.latency.add(row.latency_ms);
        if let Some(t) = row.ttft_ms {
            self.ttft.add(t);
        }
    }

    fn merge(&mut self, other: &Cell) {
        self.count += other.count;
        self.errors += other.errors;
        self.input_tokens += other.input_tokens;
        self.output_tokens += other.output_tokens;
        self.cost_usd += other.cost_usd;
        self.latency.merge(&other.latency);
        self.ttft.merge(&other.ttft);
    }
}

/// Rows per multi-row upsert (11 parameters each).
const CELLS_PER_STATEMENT: usize = 64;

type Stored = (
    i64,
    String,
    String,
    String,
    i64,
    i64,
    i64,
    i64,
    f64,
    Vec<u8>,
    Vec<u8>,
);

/// Adds `rows` to every tier (the backfill; the log writer uses `add_blocking`), inside the caller's transaction: per tier, one read of the
/// periods the batch touches and one write per 64 cells (a batch touches few periods).
pub(super) async fn add(conn: &mut SqliteConnection, rows: &[LogRow]) -> sqlx::Result<()> {
    for tier in TIERS {
        let mut cells = batch_cells(tier, rows);
        let (Some(first), Some(last)) = (
            cells.keys().map(|k| k.0).min(),
            cells.keys().map(|k| k.0).max(),
        ) else {
            continue;
        };
        let stored: Vec<Stored> = sqlx::query_as(&format!(
            "SELECT start_ms, alias, target, client, count, errors, input_tokens, output_tokens, \
             cost_usd, latency_hist, ttft_hist FROM {} WHERE start_ms >= ? AND start_ms <= ?",
            tier.table
        ))
        .bind(first)
        .bind(last)
        .fetch_all(&mut *conn)
        .await?;
        let mut stored: HashMap<(i64, String, String, String), Cell> = stored
            .into_iter()
            .map(
                |(start, a, t, c, count, errors, input, output, cost, lat, ttft)| {
                    let cell = Cell {
                        count,
                        errors,
                        input_tokens: input,
                        output_tokens: output,
                        cost_usd: cost,
                        latency: Hist::decode(&lat),
                        ttft: Hist::decode(&ttft),
                    };
                    ((start, a, t, c), cell)
                },
            )
            .collect();
        for (&(start, a, t, c), cell) in cells.iter_mut() {
            if let Some(old) = stored.remove(&(start, a.to_owned(), t.to_owned(), c.to_owned())) {
                cell.merge(&old);
            }
        }
        let cells: Vec<_> = cells.into_iter().collect();
        for chunk in cells.chunks(CELLS_PER_STATEMENT) {
            let mut sql = QueryBuilder::<Sqlite>::new(format!(
                "INSERT OR REPLACE INTO {} (start_ms, alias, target, client, count, errors, \
                 input_tokens, output_tokens, cost_usd, latency_hist, ttft_hist) ",
                tier.table
            ));
            sql.push_values(chunk, |mut b, ((start, alias, target, client), cell)| {
                b.push_bind(*start)
                    .push_bind(alias.to_string())
                    .push_bind(target.to_string())
                    .push_bind(client.to_string())
                    .push_bind(cell.count)
                    .push_bind(cell.errors)
                    .push_bind(cell.input_tokens)
                    .push_bind(cell.output_tokens)
                    .push_bind(cell.cost_usd)
                    .push_bind(cell.latency.encode())
                    .push_bind(cell.ttft.encode());
            });
            sql.build().execute(&mut *conn).await?;
        }
    }
    Ok(())
}

/// The batch's sums per period × key, for one tier.
fn batch_cells(tier: Tier, rows: &[LogRow]) -> HashMap<(i64, &str, &str, &str), Cell> {
    let mut cells: HashMap<(i64, &str, &str, &str), Cell> = HashMap::new();
    for row in rows {
        let key = (
            row.ts_ms.div_euclid(tier.unit_ms) * tier.unit_ms,
            row.alias.as_deref().unwrap_or(""),
            row.target.as_deref().unwrap_or(""),
            row.client.as_deref().unwrap_or(""),
        );
        cells.entry(key).or_default().add(row);
    }
    cells
}

/// `add` for the log writer's own (rusqlite) connection, inside its transaction: per tier, one
/// read of the periods the batch touches and one cached upsert per cell.
pub(super) fn add_blocking(conn: &rusqlite::Connection, rows: &[LogRow]) -> rusqlite::Result<()> {
    for tier in TIERS {
        let mut cells = batch_cells(tier, rows);
        let (Some(first), Some(last)) = (
            cells.keys().map(|k| k.0).min(),
            cells.keys().map(|k| k.0).max(),
        ) else {
            continue;
        };
        let mut select = conn.prepare_cached(&format!(
            "SELECT start_ms, alias, target, client, count, errors, input_tokens, output_tokens, \
             cost_usd, latency_hist, ttft_hist FROM {} WHERE start_ms >= ?1 AND start_ms <= ?2",
            tier.table
        ))?;
        let mut stored = select.query(rusqlite::params![first, last])?;
        while let Some(r) = stored.next()? {
            let (start, alias, target, client) = (
                r.get::<_, i64>(0)?,
                r.get_ref(1)?.as_str()?,
                r.get_ref(2)?.as_str()?,
                r.get_ref(3)?.as_str()?,
            );
            // A batch touches a handful of cells: a scan, not an owned key per stored row.
            let mine = cells
                .iter_mut()
                .find(|(k, _)| k.0 == start && k.1 == alias && k.2 == target && k.3 == client);
            if let Some((_, cell)) = mine {
                cell.merge(&Cell {
                    count: r.get(4)?,
                    errors: r.get(5)?,
                    input_tokens: r.get(6)?,
                    output_tokens: r.get(7)?,
                    cost_usd: r.get(8)?,
                    latency: Hist::decode(r.get_ref(9)?.as_blob()?),
                    ttft: Hist::decode(r.get_ref(10)?.as_blob()?),
                });
            }
        }
        let mut upsert = conn.prepare_cached(&format!(
            "INSERT OR REPLACE INTO {} (start_ms, alias, target, client, count, errors, \
             input_tokens, output_tokens, cost_usd, latency_hist, ttft_hist) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
            tier.table
        ))?;
        for ((start, alias, target, client), cell) in &cells {
            upsert.execute(rusqlite::params![
                start,
                alias,
                target,
                client,
                cell.count,
                cell.errors,
                cell.input_tokens,
                cell.output_tokens,
                cell.cost_usd,
                cell.latency.encode(),
                cell.ttft.encode(),
            ])?;
        }
    }
    Ok(())
}

type RawRow = (
    i64,
    i64,
    Option<String>,
    Option<String>,
    Option<String>,
    i64,
    Option<String>,
    f64,
    Option<f64>,
    Option<i64>,
    Option<i64>,
    Option<f64>,
);

/// Rolls up the next `max_rows` rows logged before migration 0008. Returns true when none
/// are left.
pub(crate) async fn backfill_step(pool: &SqlitePool, max_rows: i64) -> sqlx::Result<bool> {
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
    let state: Option<(i64, i64)> =
        sqlx::query_as("SELECT done_id, upto_id FROM rollup_backfill WHERE id = 1")
            .fetch_optional(&mut *tx)
            .await?;
    let Some((done, upto)) = state.filter(|(done, upto)| done < upto) else {
        return Ok(true);
    };
    let raw: Vec<RawRow> = sqlx::query_as(
        "SELECT id, ts_ms, alias, target, client, status, error_type, latency_ms, ttft_ms, \
         input_tokens, output_tokens, cost_usd FROM requests WHERE id > ? AND id <= ? \
         ORDER BY id LIMIT ?",
    )
    .bind(done)
    .bind(upto)
    .bind(max_rows)
    .fetch_all(&mut *tx)
    .await?;
    let reached = if raw.len() < max_rows as usize {
        upto
    } else {
        raw.last().map_or(upto, |r| r.0)
    };
    let rows: Vec<LogRow> = raw
        .into_iter()
        .map(
            |(_, ts_ms, alias, target, client, status, error_type, latency, ttft, i, o, cost)| {
                LogRow {
                    ts_ms,
                    alias,
                    target,
                    client,
                    status: status.clamp(0, 999) as u16,
                    error_type,
                    latency_ms: latency,
                    ttft_ms: ttft,
                    input_tokens: i.map(|t| t.max(0) as u64),
                    output_tokens: o.map(|t| t.max(0) as u64),
                    cost_usd: cost,
                    ..LogRow::default()
                }
            },
        )
        .collect();
    add(&mut tx, &rows).await?;
    sqlx::query("UPDATE rollup_backfill SET done_id = ? WHERE id = 1")
        .bind(reached)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(reached >= upto)
}

/// Drops periods that end before the oldest row left in the log (after pruning), a day of
/// periods per statement so the write lock is held briefly. Returns the rollup rows removed.
pub(crate) async fn prune(pool: &SqlitePool, now_ms: i64) -> sqlx::Result<u64> {
    let (oldest,): (Option<i64>,) = sqlx::query_as("SELECT MIN(ts_ms) FROM requests")
        .fetch_one(pool)
        .await?;
    let oldest = oldest.unwrap_or(now_ms);
    let mut removed = 0;
    for tier in TIERS {
        // Periods starting before this end before the oldest row.
        let before = oldest.div_euclid(tier.unit_ms) * tier.unit_ms;
        loop {
            let (first,): (Option<i64>,) =
                sqlx::query_as(&format!("SELECT MIN(start_ms) FROM {}", tier.table))
                    .fetch_one(pool)
                    .await?;
            let Some(first) = first.filter(|f| *f < before) else {
                break;
            };
            removed += sqlx::query(&format!("DELETE FROM {} WHERE start_ms < ?", tier.table))
                .bind(before.min(first + DAY_MS))
                .execute(pool)
                .await?
                .rows_affected();
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
    Ok(removed)
}

/// One stats bucket from a rollup: (bucket start, group or `None`, sums).
pub(crate) type Line = (i64, Option<String>, Cell);

type ReadRow = (
    i64,
    Option<String>,
    i64,
    i64,
    i64,
    i64,
    f64,
    Vec<u8>,
    Vec<u8>,
);

/// Sums the rows of `tier` whose periods start in `[from_ms, to_ms)` into buckets of
/// `step_ms` from `origin_ms` (a multiple of the period), per `group` (a column name) or not.
/// SQLite sums and groups; the histograms' bytes are concatenated (the encoding is
/// self-delimiting and decoding adds repeated buckets), so only one row per bucket and group
/// comes back.
pub(crate) async fn read(
    pool: &SqlitePool,
    tier: Tier,
    group: Option<&str>,
    (from_ms, to_ms): (i64, i64),
    (origin_ms, step_ms): (i64, i64),
) -> sqlx::Result<Vec<Line>> {
    let group = group.map_or("NULL".to_owned(), |g| format!("NULLIF({g}, '')"));
    let rows: Vec<ReadRow> = sqlx::query_as(&format!(
        "SELECT ?1 + (start_ms - ?1) / ?2 * ?2 AS bucket, {group} AS grp, SUM(count), \
         SUM(errors), SUM(input_tokens), SUM(output_tokens), SUM(cost_usd), \
         CAST(group_concat(latency_hist, '') AS BLOB), CAST(group_concat(ttft_hist, '') AS BLOB) \
         FROM {} WHERE start_ms >= ?3 AND start_ms < ?4 GROUP BY bucket, grp",
        tier.table
    ))
    .bind(origin_ms)
    .bind(step_ms)
    .bind(from_ms)
    .bind(to_ms)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(
            |(bucket, group, count, errors, i, o, cost, latency, ttft)| {
                let cell = Cell {
                    count,
                    errors,
                    input_tokens: i,
                    output_tokens: o,
                    cost_usd: cost,
                    latency: Hist::decode(&latency),
                    ttft: Hist::decode(&ttft),
                };
                (bucket, group, cell)
            },
        )
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histograms_round_trip_and_answer_within_half_a_bucket() {
        let mut h = Hist::default();
        for ms in 1..=1000 {
            h.add(f64::from(ms));
        }
        h.add(0.0);
        h.add(1e12);
        let back = Hist::decode(&h.encode());
        assert_eq!(back, h);
        assert_eq!(back.total(), 1002);
        let p50 = back.percentile(0.5).unwrap_or_default();
        assert!((p50 / 500.0 - 1.0).abs() < 0.05, "p50 {p50}");
        let p95 = back.percentile(0.95).unwrap_or_default();
        assert!((p95 / 951.0 - 1.0).abs() < 0.05, "p95 {p95}");
        assert_eq!(Hist::default().percentile(0.5), None);
        // A truncated blob keeps the entries before the cut.
        let bytes = h.encode();
        assert!(Hist::decode(&bytes[..bytes.len() - 1]).total() < 1002);
        assert_eq!(Hist::decode(&[]).total(), 0);
        // Concatenated encodings decode to the merged histogram (how stats read them).
        let mut twice = bytes.clone();
        twice.extend_from_slice(&bytes);
        assert_eq!(Hist::decode(&twice).total(), 2004);
    }
}
