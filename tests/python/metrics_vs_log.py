"""Parses a /metrics scrape with prometheus_client's text parser and sums the request log's rows
the same way, so the Rust test can compare them. Usage: metrics_vs_log.py METRICS_FILE LOG_DB"""

import json
import sqlite3
import sys

from prometheus_client.parser import text_string_to_metric_families


def status_class(status):
    return f"{max(1, min(5, status // 100))}xx"


def main():
    text = open(sys.argv[1], encoding="utf-8").read()
    metrics = {"requests": {}, "tokens": {}, "errors": {}, "latency_count": {}, "other": {}}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = sample.labels
            sample = sample._replace(value=int(sample.value) if sample.value == int(sample.value) else sample.value)
            if sample.name == "switchboard_requests_total" and sample.value:
                key = f"{labels['alias']}|{labels['target']}|{labels['status_class']}"
                metrics["requests"][key] = sample.value
            elif sample.name == "switchboard_tokens_total" and sample.value:
                key = f"{labels['alias']}|{labels['target']}|{labels['part']}"
                metrics["tokens"][key] = sample.value
            elif sample.name == "switchboard_errors_total":
                key = f"{labels['alias']}|{labels['target']}|{labels['type']}"
                metrics["errors"][key] = sample.value
            elif sample.name == "switchboard_request_duration_seconds_count" and sample.value:
                metrics["latency_count"][f"{labels['alias']}|{labels['target']}"] = sample.value
            elif not labels or sample.name.startswith(("switchboard_breaker", "switchboard_config")):
                tail = ",".join(f"{k}={v}" for k, v in sorted(labels.items()))
                metrics["other"][f"{sample.name}{{{tail}}}"] = sample.value

    log = {"requests": {}, "tokens": {}, "errors": {}, "latency_count": {}}
    db = sqlite3.connect(sys.argv[2])
    rows = db.execute(
        "SELECT coalesce(alias,''), coalesce(target,''), status, error_type,"
        " input_tokens, output_tokens, cache_read_tokens, cache_write_tokens FROM requests"
    )
    for alias, target, status, error, inp, out, cache_read, cache_write in rows:
        pair = f"{alias}|{target}"
        key = f"{pair}|{status_class(status)}"
        log["requests"][key] = log["requests"].get(key, 0) + 1
        log["latency_count"][pair] = log["latency_count"].get(pair, 0) + 1
        if error:
            key = f"{pair}|{error}"
            log["errors"][key] = log["errors"].get(key, 0) + 1
        fresh = (inp or 0) - (cache_read or 0) - (cache_write or 0)
        for part, n in (("input", fresh), ("output", out or 0)):
            if n:
                key = f"{pair}|{part}"
                log["tokens"][key] = log["tokens"].get(key, 0) + n
    print(json.dumps({"metrics": metrics, "log": log}))


main()
