//! How long a config reload takes (read, parse, validate, build the snapshot, swap) for a config
//! of 100 aliases. Run: `cargo bench -p switchboard-gateway --bench reload`.

#![allow(clippy::print_stdout, clippy::unwrap_used, clippy::expect_used)]

use std::fmt::Write;
use std::time::{Duration, Instant};

use switchboard_gateway::{config, Gateway, GatewayOptions};

fn big_config(variant: usize, providers_change: bool) -> String {
    let port = if providers_change {
        8000 + variant
    } else {
        8000
    };
    let mut text =
        String::from("# generated for the reload benchmark\nlisten = \"127.0.0.1:4000\"\n");
    for p in 0..10 {
        writeln!(text, "\n# provider {p}\n[providers.p{p}]\nkind = \"openai\"\nbase_url = \"http://10.0.0.{p}:{port}/v1\"\napi_key = \"env:KEY_{p}\"\ntimeouts = {{ connect_s = 5, total_s = 600 }}").unwrap();
    }
    for a in 0..100 {
        let fallback = if a > 0 {
            format!("fallbacks = [\"team/alias-{}\"]\n", a - 1)
        } else {
            String::new()
        };
        writeln!(
            text,
            "\n# alias {a}\n[aliases.\"team/alias-{a}\"]\ndescription = \"alias {a} v{variant}\"\ntargets = [\"p{}/model-{a}\", {{ model = \"p{}/big-{a}\", timeouts = {{ total_s = 60 }} }}]\n{fallback}",
            a % 10,
            (a + 1) % 10
        )
        .unwrap();
    }
    text
}

fn main() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        std::fs::write(&path, big_config(0, false)).unwrap();
        let config = config::load_file(&path).unwrap();
        assert_eq!(config.aliases.len(), 100);
        let options = GatewayOptions {
            config_path: Some(path.clone()),
            database_path: Some(dir.path().join("log.db")),
        };
        let gateway = Gateway::start(config, options).await.unwrap();

        let bytes = big_config(0, false).len();
        for (label, providers_change) in [
            ("aliases changed", false),
            ("aliases and all 10 providers changed", true),
        ] {
            let runs = 200;
            let mut samples: Vec<Duration> = Vec::with_capacity(runs);
            for i in 1..=runs {
                std::fs::write(&path, big_config(i, providers_change)).unwrap();
                let started = Instant::now();
                let outcome = gateway.reload().await.unwrap();
                samples.push(started.elapsed());
                assert!(outcome.changed);
            }
            samples.sort();
            let ms = |d: Duration| d.as_secs_f64() * 1000.0;
            println!(
                "reload, {bytes}-byte config, 100 aliases, 10 providers, {label}, {runs} runs: \
                 min {:.2} ms, median {:.2} ms, p99 {:.2} ms, max {:.2} ms",
                ms(samples[0]),
                ms(samples[runs / 2]),
                ms(samples[runs * 99 / 100]),
                ms(samples[runs - 1])
            );
        }
        gateway.shutdown().await;
    });
}
