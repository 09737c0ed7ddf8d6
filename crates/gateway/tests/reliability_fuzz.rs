//! The fuzz regression step: every fuzz target (`fuzz/src/targets.rs`) over every file of its
//! committed corpus (`fuzz/corpus/<target>/`: the seeds, what the fuzzer kept, and each crash it
//! found once fixed), on the stable toolchain. `make fuzz` runs the real fuzzer.

#![cfg(test)] // clippy.toml's allow-unwrap-in-tests then covers the helpers too

#[path = "../../../fuzz/src/targets.rs"]
mod targets;

use std::path::PathBuf;

fn corpus_dir(target: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/corpus")
        .join(target)
}

#[test]
fn every_target_replays_its_corpus() {
    let mut replayed = Vec::new();
    for (name, run) in targets::TARGETS {
        let dir = corpus_dir(name);
        let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|entry| entry.unwrap().path())
            .collect();
        files.sort();
        assert!(!files.is_empty(), "{name}: the corpus is empty");
        for file in &files {
            let data = std::fs::read(file).unwrap();
            // Name the input that fails, so the fix starts from it.
            let outcome = std::panic::catch_unwind(|| run(&data));
            assert!(outcome.is_ok(), "{name}: {} fails", file.display());
        }
        replayed.push(format!("{name}: {}", files.len()));
    }
    eprintln!("replayed: {}", replayed.join(", "));
}

#[test]
fn every_target_has_a_fuzz_binary() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fuzz");
    let manifest = std::fs::read_to_string(root.join("Cargo.toml")).unwrap();
    for (name, _) in targets::TARGETS {
        assert!(
            root.join(format!("fuzz_targets/{name}.rs")).exists()
                && manifest.contains(&format!("name = \"{name}\"")),
            "{name} has no fuzz binary"
        );
    }
}
