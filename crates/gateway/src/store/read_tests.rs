// The benchmark prints its figures.
#![allow(clippy::print_stdout)]

use std::collections::BTreeMap;

use super::*;
use crate::store::{insert, open, LogRow};

fn row_at(ts_ms: i64, alias: &str, status: u16, latency_ms: f64) -> LogRow {
    LogRow {
        ts_ms,
        correlation_id: format!("c-{ts_ms}-{alias}"),
        endpoint: "chat/completions",
        alias: Some(alias.into()),
        target: Some(format!("p/{alias}")),
        status,
        error_type: (status >= 400).then(|| "backend_error".to_owned()),
        latency_ms,
        ttft_ms: Some(latency_ms / 2.0),
        input_tokens: Some(10),
        output_tokens: Some(5),
        cost_usd: Some(0.001),
        client: Some(if ts_ms % 2 == 0 { "even" } else { "odd" }.into()),
        attempts: Some(format!(
            r#"[{{"target":"p/{alias}","outcome":"ok","ms":{latency_ms}}}]"#
        )),
        ..LogRow::default()
    }
}

async fn log_with(rows: &[LogRow]) -> anyhow::Result<(tempfile::TempDir, LogReader)> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("log.db");
    let pool = open(&path).await.map_err(anyhow::Error::msg)?;
    for chunk in rows.chunks(512) {
        insert(&pool, chunk).await?;
    }
    pool.close().await;
    Ok((dir, LogReader::new(path)))
}

#[test]
fn percentiles_are_nearest_rank() {
    let mut v: Vec<f64> = (1..=100).rev().map(f64::from).collect();
    assert_eq!(percentile(&mut v, 0.5), Some(50.0));
    assert_eq!(percentile(&mut v, 0.95), Some(95.0));
    assert_eq!(percentile(&mut [7.0], 0.95), Some(7.0));
    assert_eq!(percentile(&mut [], 0.5), None);
}

#[tokio::test]
async fn filters_and_cursor_pages_walk_the_log_newest_first() -> anyhow::Result<()> {
    let rows: Vec<LogRow> = (0..250)
        .map(|i| {
            let alias = if i % 5 == 0 { "cloud" } else { "local" };
            let status = if i % 10 == 3 { 502 } else { 200 };
            row_at(1_000 + i, alias, status, i as f64)
        })
        .collect();
    let (_dir, reader) = log_with(&rows).await?;
    // Pages of 100 without overlap or gaps, newest first.
    let mut seen = Vec::new();
    let mut cursor = None;
    loop {
        let page = reader
            .list(&RequestQuery {
                cursor: cursor.clone(),
                ..RequestQuery::default()
            })
            .await?;
        seen.extend(page.rows.iter().map(|r| r.ts_ms));
        cursor = page.next_cursor;
        if cursor.is_none() {
            break;
        }
    }
    let expected: Vec<i64> = (1_000..1_250).rev().collect();
    assert_eq!(seen, expected);

    let cloud = reader
        .list(&RequestQuery {
            alias: Some("cloud".into()),
            limit: Some(1000),
            ..RequestQuery::default()
        })
        .await?;
    assert_eq!(cloud.rows.len(), 50);
    assert!(cloud
        .rows
        .iter()
        .all(|r| r.alias.as_deref() == Some("cloud")));

    let failed = reader
        .list(&RequestQuery {
            status: Some("5xx".into()),
            from_ms: Some(1_100),
            to_ms: Some(1_200),
            limit: Some(1000),
            ..RequestQuery::default()
        })
        .await?;
    let ts: Vec<i64> = failed.rows.iter().map(|r| r.ts_ms).collect();
    assert_eq!(
        ts,
        vec![1193, 1183, 1173, 1163, 1153, 1143, 1133, 1123, 1113, 1103]
    );
    for class in ["2xx", "4xx", "error"] {
        let page = reader
            .list(&RequestQuery {
                status: Some(class.into()),
                limit: Some(1000),
                ..RequestQuery::default()
            })
            .await?;
        let expected = match class {
            "2xx" => 225,
            "4xx" => 0,
            _ => 25,
        };
        assert_eq!(page.rows.len(), expected, "{class}");
    }
    assert!(matches!(
        reader
            .list(&RequestQuery {
                status: Some("bad".into()),
                ..RequestQuery::default()
            })
            .await,
        Err(ReadError::BadQuery(_))
    ));
    let one = reader
        .list(&RequestQuery {
            correlation_id: Some("c-1003-local".into()),
            ..RequestQuery::default()
        })
        .await?;
    assert_eq!(one.rows.len(), 1);
    let detail = reader.get(one.rows[0].id).await?;
    let detail = detail.ok_or_else(|| anyhow::anyhow!("row missing"))?;
    assert_eq!(detail.row.status, 502);
    assert_eq!(detail.attempts.len(), 1);
    assert_eq!(detail.attempts[0].target.as_deref(), Some("p/local"));
    assert!(reader.get(999_999).await?.is_none());
    // The live tail's query: rows after an id, oldest first.
    let after = reader.after(detail.row.id, 3).await?;
    let ids: Vec<i64> = after.iter().map(|r| r.id).collect();
    assert_eq!(
        ids,
        vec![detail.row.id + 1, detail.row.id + 2, detail.row.id + 3]
    );
    assert_eq!(reader.last_id().await?, 250);
    Ok(())
}

#[tokio::test]
async fn stats_bucket_and_group_with_percentiles() -> anyhow::Result<()> {
    // Two minutes; in each, `a` has latencies 1..=10 and `b` one failed request.
    let mut rows = Vec::new();
    for minute in 0..2 {
        for i in 1..=10 {
            rows.push(row_at(minute * 60_000 + i, "a", 200, i as f64));
        }
        rows.push(row_at(minute * 60_000 + 30_000, "b", 503, 100.0));
    }
    let (_dir, reader) = log_with(&rows).await?;
    let stats = reader
        .stats(
            &StatsQuery {
                from_ms: Some(0),
                to_ms: Some(120_000),
                step_ms: Some(60_000),
                group_by: Some(GroupBy::Alias),
            },
            0,
        )
        .await?;
    assert_eq!(stats.buckets.len(), 4);
    let a0 = &stats.buckets[0];
    assert_eq!((a0.t_ms, a0.group.as_deref()), (0, Some("a")));
    assert_eq!((a0.count, a0.errors), (10, 0));
    // Whole-minute steps read the rollup: percentiles within its ±4.5 %.
    assert!(near(a0.latency_p50_ms, 5.0));
    assert!(near(a0.latency_p95_ms, 10.0));
    assert!(near(a0.ttft_p50_ms, 2.5));
    assert_eq!(a0.input_tokens, 100);
    let b1 = &stats.buckets[3];
    assert_eq!((b1.t_ms, b1.group.as_deref()), (60_000, Some("b")));
    assert_eq!((b1.count, b1.errors), (1, 1));
    assert_eq!(stats.totals.count, 22);
    assert_eq!(stats.totals.errors, 2);
    assert!((stats.totals.cost_usd - 0.022).abs() < 1e-9);
    let bad = reader
        .stats(
            &StatsQuery {
                from_ms: Some(0),
                to_ms: Some(10_000_000),
                step_ms: Some(1),
                group_by: None,
            },
            0,
        )
        .await;
    assert!(matches!(bad, Err(ReadError::BadQuery(_))));
    Ok(())
}

fn near(got: Option<f64>, want: f64) -> bool {
    // Under the histogram's floor (0.1 ms) the rollup says 0.
    got.is_some_and(|g| (g - want).abs() <= want * 0.045 + 1e-9 || (want < 0.1 && g == 0.0))
}

/// Pseudo-random traffic over about 3 h 20 min: three aliases, two clients, some failures.
fn traffic() -> Vec<LogRow> {
    let mut seed = 42_u64;
    let mut next = move || {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        seed >> 33
    };
    (0..4_000)
        .map(|i| {
            let ts = 1_700_000_000_000 + i * 3_001 + (next() % 1_000) as i64;
            let alias = ["a", "b", "c"][(next() % 3) as usize];
            let status = if next() % 13 == 0 { 502 } else { 200 };
            let mut row = row_at(ts, alias, status, 0.5 + (next() % 20_000) as f64 / 7.0);
            row.ttft_ms = (next() % 4 != 0).then(|| (next() % 900) as f64);
            row.client = (next() % 5 != 0).then(|| format!("client-{}", next() % 2));
            row.input_tokens = Some(next() % 500);
            row.cost_usd = Some((next() % 100) as f64 / 1e4);
            // Now and then under the histogram's floor: bucket 0 (a zero byte in its encoding).
            if i % 97 == 0 {
                row.latency_ms = 0.0;
                row.ttft_ms = Some(0.01);
            }
            row
        })
        .collect()
}

/// What stats must say, computed from the rows themselves.
fn expected(rows: &[LogRow], from: i64, to: i64, step: i64, group: GroupBy) -> Vec<StatsBucket> {
    let mut by: BTreeMap<(i64, Option<String>), Vec<&LogRow>> = BTreeMap::new();
    for r in rows.iter().filter(|r| r.ts_ms >= from && r.ts_ms < to) {
        let g = match group {
            GroupBy::Alias => r.alias.clone(),
            GroupBy::Target => r.target.clone(),
            GroupBy::Client => r.client.clone(),
        };
        by.entry((from + (r.ts_ms - from) / step * step, g))
            .or_default()
            .push(r);
    }
    by.into_iter()
        .map(|((t_ms, group), rs)| {
            let mut lat: Vec<f64> = rs.iter().map(|r| r.latency_ms).collect();
            let mut ttft: Vec<f64> = rs.iter().filter_map(|r| r.ttft_ms).collect();
            StatsBucket {
                t_ms,
                group,
                count: rs.len() as u32,
                errors: rs.iter().filter(|r| r.status >= 400).count() as u32,
                latency_p50_ms: percentile(&mut lat, 0.5),
                latency_p95_ms: percentile(&mut lat, 0.95),
                ttft_p50_ms: percentile(&mut ttft, 0.5),
                ttft_p95_ms: percentile(&mut ttft, 0.95),
                input_tokens: rs.iter().map(|r| r.input_tokens.unwrap_or(0) as i64).sum(),
                output_tokens: rs.iter().map(|r| r.output_tokens.unwrap_or(0) as i64).sum(),
                cost_usd: rs.iter().map(|r| r.cost_usd.unwrap_or(0.0)).sum(),
            }
        })
        .collect()
}

fn assert_agrees(got: &[StatsBucket], want: &[StatsBucket], exact: bool) {
    assert_eq!(got.len(), want.len());
    for (g, w) in got.iter().zip(want) {
        assert_eq!((g.t_ms, &g.group), (w.t_ms, &w.group));
        assert_eq!(
            (g.count, g.errors, g.input_tokens, g.output_tokens),
            (w.count, w.errors, w.input_tokens, w.output_tokens),
            "{w:?}"
        );
        assert!((g.cost_usd - w.cost_usd).abs() < 1e-9);
        for (a, b) in [
            (g.latency_p50_ms, w.latency_p50_ms),
            (g.latency_p95_ms, w.latency_p95_ms),
            (g.ttft_p50_ms, w.ttft_p50_ms),
            (g.ttft_p95_ms, w.ttft_p95_ms),
        ] {
            match (exact, b) {
                (true, _) => assert_eq!(a, b),
                (false, None) => assert_eq!(a, None),
                (false, Some(b)) => assert!(near(a, b), "{a:?} vs {b} in {w:?}"),
            }
        }
    }
}

#[tokio::test]
async fn rollup_stats_agree_with_the_rows_for_every_step() -> anyhow::Result<()> {
    let rows = traffic();
    let (_dir, reader) = log_with(&rows).await?;
    let first = rows[0].ts_ms;
    // An unaligned range that ends in the middle of a minute (that part is read from rows).
    let (from, to) = (
        first + 7 * 60_000 + 1_234,
        first + 3 * 3_600_000 + 17 * 60_000 + 12_345,
    );
    for (step, group, unit, exact) in [
        (3_600_000, GroupBy::Alias, 3_600_000, false),
        (2 * 3_600_000, GroupBy::Client, 3_600_000, false),
        (5 * 60_000, GroupBy::Target, 60_000, false),
        (60_000, GroupBy::Client, 60_000, false),
        (7_000, GroupBy::Alias, 1, true),
    ] {
        let stats = reader
            .stats(
                &StatsQuery {
                    from_ms: Some(from),
                    to_ms: Some(to),
                    step_ms: Some(step),
                    group_by: Some(group),
                },
                0,
            )
            .await?;
        let snapped = from.div_euclid(unit) * unit;
        assert_eq!(stats.from_ms, snapped, "step {step}");
        assert_agrees(
            &stats.buckets,
            &expected(&rows, snapped, to, step, group),
            exact,
        );
        let all = expected(&rows, snapped, to, to - snapped, group);
        assert_eq!(stats.totals.count, all.iter().map(|b| b.count).sum::<u32>());
    }
    Ok(())
}

#[tokio::test]
async fn rows_logged_before_the_rollup_are_backfilled_and_old_periods_pruned() -> anyhow::Result<()>
{
    let rows = traffic();
    let (dir, reader) = log_with(&rows).await?;
    let query = StatsQuery {
        from_ms: Some(rows[0].ts_ms),
        to_ms: Some(rows[0].ts_ms + 4 * 3_600_000),
        step_ms: Some(3_600_000),
        group_by: Some(GroupBy::Alias),
    };
    let before = reader.stats(&query, 0).await?;
    assert_eq!(before.totals.count, 4_000);
    // As a log from before migration 0008 looks: rows, no rollup, a backfill to do.
    let pool = open(&dir.path().join("log.db"))
        .await
        .map_err(anyhow::Error::msg)?;
    sqlx::query("DELETE FROM request_minutes")
        .execute(&pool)
        .await?;
    sqlx::query("DELETE FROM request_hours")
        .execute(&pool)
        .await?;
    sqlx::query("UPDATE rollup_backfill SET done_id = 0, upto_id = 4000")
        .execute(&pool)
        .await?;
    assert_eq!(reader.stats(&query, 0).await?.totals.count, 0);
    let mut steps = 0;
    while !crate::store::rollup::backfill_step(&pool, 1_500).await? {
        steps += 1;
    }
    assert_eq!(steps, 2, "4,000 rows in chunks of 1,500");
    // The same figures (cost summed in another order: equal to rounding).
    let rounded = |mut s: Stats| {
        for b in s.buckets.iter_mut().chain([&mut s.totals]) {
            b.cost_usd = (b.cost_usd * 1e9).round();
        }
        s
    };
    assert_eq!(rounded(reader.stats(&query, 0).await?), rounded(before));
    assert!(crate::store::rollup::backfill_step(&pool, 1_500).await?);
    // Retention took the first hour and a half of rows: periods that ended before the oldest
    // row left go; the period holding it stays.
    let cut = rows[0].ts_ms + 90 * 60_000;
    sqlx::query("DELETE FROM requests WHERE ts_ms < ?")
        .bind(cut)
        .execute(&pool)
        .await?;
    assert!(crate::store::rollup::prune(&pool, 0).await? > 0);
    let (oldest_minute, oldest_hour): (i64, i64) = sqlx::query_as(
        "SELECT (SELECT MIN(start_ms) FROM request_minutes), (SELECT MIN(start_ms) FROM request_hours)",
    )
    .fetch_one(&pool)
    .await?;
    let (oldest_row,): (i64,) = sqlx::query_as("SELECT MIN(ts_ms) FROM requests")
        .fetch_one(&pool)
        .await?;
    assert_eq!(oldest_minute, oldest_row / 60_000 * 60_000);
    assert_eq!(oldest_hour, oldest_row / 3_600_000 * 3_600_000);
    assert_eq!(crate::store::rollup::prune(&pool, 0).await?, 0);
    // The tray's "requests today": from a whole hour, a whole minute, or any instant.
    let last = rows.last().map_or(0, |r| r.ts_ms);
    for from in [oldest_hour + 3_600_000, oldest_minute + 120_000, cut + 777] {
        let want = rows
            .iter()
            .filter(|r| r.ts_ms >= from.max(oldest_row))
            .count() as u64;
        assert_eq!(reader.count_since(from, last).await?, want, "from {from}");
    }
    Ok(())
}

/// The dashboard's queries on a 1,000,000-row log (30 days, ~23 requests a minute, 3% failed):
/// `cargo test -p switchboard-gateway --release --lib bench_million -- --ignored --nocapture`.
/// A benchmark, not a timed test: it prints the figures.
#[tokio::test]
#[ignore = "benchmark: builds a 1,000,000-row log (about a minute)"]
async fn bench_million_row_log() -> anyhow::Result<()> {
    const ROWS: i64 = 1_000_000;
    const SPAN: i64 = 30 * DAY_MS;
    let now = 1_760_000_000_000_i64;
    let aliases = ["local/chat", "cloud/smart", "cloud/fast", "embed", "code"];
    let rows: Vec<LogRow> = (0..ROWS)
        .map(|i| {
            let ts = now - SPAN + i * (SPAN / ROWS);
            let alias = aliases[(i % 5) as usize];
            let status = if i % 33 == 0 { 502 } else { 200 };
            let mut row = row_at(ts, alias, status, (i % 997) as f64);
            row.client = Some(format!("client-{}", i % 7));
            row
        })
        .collect();
    let started = std::time::Instant::now();
    let (_dir, reader) = log_with(&rows).await?;
    println!(
        "built {ROWS} rows in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let queries: Vec<(&str, RequestQuery)> = vec![
        ("latest page", RequestQuery::default()),
        (
            "alias filter",
            RequestQuery {
                alias: Some("cloud/fast".into()),
                ..Default::default()
            },
        ),
        (
            "errors only",
            RequestQuery {
                status: Some("error".into()),
                ..Default::default()
            },
        ),
        (
            "5xx of one target",
            RequestQuery {
                target: Some("p/code".into()),
                status: Some("5xx".into()),
                ..Default::default()
            },
        ),
        (
            "client + last hour",
            RequestQuery {
                client: Some("client-3".into()),
                from_ms: Some(now - 3_600_000),
                ..Default::default()
            },
        ),
        (
            "one day a week ago",
            RequestQuery {
                from_ms: Some(now - 8 * DAY_MS),
                to_ms: Some(now - 7 * DAY_MS),
                ..Default::default()
            },
        ),
        (
            "correlation id",
            RequestQuery {
                correlation_id: Some(format!("c-{}-code", now - SPAN + 4 * (SPAN / ROWS))),
                ..Default::default()
            },
        ),
    ];
    let mut worst = 0.0_f64;
    for (name, query) in &queries {
        let _ = reader.list(query).await?; // warm the page cache once
        let t = std::time::Instant::now();
        let n = 5;
        let mut rows = 0;
        for _ in 0..n {
            rows = reader.list(query).await?.rows.len();
        }
        let ms = t.elapsed().as_secs_f64() * 1000.0 / f64::from(n);
        worst = worst.max(ms);
        println!("list  {name:<22} {ms:>7.2} ms  ({rows} rows)");
    }
    let stats: Vec<(&str, StatsQuery)> = vec![
        (
            "last hour by alias",
            StatsQuery {
                from_ms: Some(now - 3_600_000),
                to_ms: Some(now),
                step_ms: None,
                group_by: Some(GroupBy::Alias),
            },
        ),
        (
            "last 24 h",
            StatsQuery {
                from_ms: None,
                to_ms: Some(now),
                step_ms: None,
                group_by: None,
            },
        ),
        (
            "last 24 h by target",
            StatsQuery {
                from_ms: None,
                to_ms: Some(now),
                step_ms: Some(3_600_000),
                group_by: Some(GroupBy::Target),
            },
        ),
        (
            "24 h by alias, 15 min",
            StatsQuery {
                from_ms: Some(now - DAY_MS),
                to_ms: Some(now),
                step_ms: Some(15 * 60_000),
                group_by: Some(GroupBy::Alias),
            },
        ),
        (
            "30 days by client, 1 d",
            StatsQuery {
                from_ms: Some(now - 30 * DAY_MS),
                to_ms: Some(now),
                step_ms: Some(DAY_MS),
                group_by: Some(GroupBy::Client),
            },
        ),
        (
            "last 7 days by alias",
            StatsQuery {
                from_ms: Some(now - 7 * DAY_MS),
                to_ms: Some(now),
                step_ms: Some(6 * 3_600_000),
                group_by: Some(GroupBy::Alias),
            },
        ),
    ];
    let mut worst_stats = 0.0_f64;
    for (name, query) in &stats {
        // Before: every row in the range; after: the rollups (and rows past the last minute).
        for rollups in [false, true] {
            let _ = reader.stats_with(query, now, rollups).await?;
            let t = std::time::Instant::now();
            let n = 3;
            let mut count = 0;
            for _ in 0..n {
                count = reader.stats_with(query, now, rollups).await?.totals.count;
            }
            let ms = t.elapsed().as_secs_f64() * 1000.0 / f64::from(n);
            if rollups {
                worst_stats = worst_stats.max(ms);
            }
            let how = if rollups { "rollup" } else { "rows  " };
            println!("stats {name:<22} {how} {ms:>7.2} ms  ({count} requests)");
        }
    }
    println!("slowest list call: {worst:.2} ms; slowest stats call (rollup): {worst_stats:.2} ms");
    Ok(())
}

#[tokio::test]
async fn captured_bodies_are_read_with_their_row_and_deleted_with_it() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("log.db");
    let pool = open(&path).await.map_err(anyhow::Error::msg)?;
    let mut with = row_at(5, "a", 200, 1.0);
    with.bodies = Some(Box::new(crate::capture::CapturedBodies {
        request: Some(r#"{"model":"a"}"#.into()),
        response: Some("data: {}\n\n".into()),
        truncated: true,
    }));
    insert(
        &pool,
        &[row_at(4, "a", 200, 1.0), with, row_at(6, "a", 200, 1.0)],
    )
    .await?;
    let reader = LogReader::new(path);
    let detail = reader
        .get(2)
        .await?
        .ok_or_else(|| anyhow::anyhow!("missing"))?;
    let bodies = detail.bodies.ok_or_else(|| anyhow::anyhow!("no bodies"))?;
    assert_eq!(bodies.request.as_deref(), Some(r#"{"model":"a"}"#));
    assert!(bodies.truncated);
    assert!(reader.get(1).await?.and_then(|d| d.bodies).is_none());
    sqlx::query("DELETE FROM requests WHERE id = 2")
        .execute(&pool)
        .await?;
    let (left,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM request_bodies")
        .fetch_one(&pool)
        .await?;
    assert_eq!(left, 0, "bodies go with their row");
    Ok(())
}

#[tokio::test]
async fn every_logs_filter_reads_an_index_in_time_order() -> anyhow::Result<()> {
    let (dir, _reader) = log_with(&[row_at(1_000, "local", 200, 1.0)]).await?;
    let conn = rusqlite::Connection::open(dir.path().join("log.db"))?;
    let value = Some("x".to_owned());
    let cases = [
        (
            RequestQuery {
                alias: value.clone(),
                ..Default::default()
            },
            "requests_alias_ts",
        ),
        (
            RequestQuery {
                target: value.clone(),
                ..Default::default()
            },
            "requests_target_ts",
        ),
        (
            RequestQuery {
                client: value.clone(),
                ..Default::default()
            },
            "requests_client_ts",
        ),
        // A partial index (failures only): the equality must still select it.
        (
            RequestQuery {
                error_type: value.clone(),
                ..Default::default()
            },
            "requests_error_ts",
        ),
        (
            RequestQuery {
                status: Some("error".into()),
                ..Default::default()
            },
            "requests_failed_ts",
        ),
        (RequestQuery::default(), "requests_ts"),
    ];
    for (query, index) in cases {
        let sql = list_query(&query, 100)?.into_sql();
        let mut plan = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}"))?;
        let nulls = vec![rusqlite::types::Null; plan.parameter_count()];
        let details: Vec<String> = plan
            .query_map(rusqlite::params_from_iter(nulls), |r| r.get::<_, String>(3))?
            .collect::<Result<_, _>>()?;
        let details = details.join("; ");
        assert!(details.contains(index), "{query:?}: {details}");
        assert!(
            !details.contains("TEMP B-TREE"),
            "{query:?} sorts: {details}"
        );
    }
    Ok(())
}
