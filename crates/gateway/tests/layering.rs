//! The layering rule of ARCHITECTURE.md, checked: every `crate::…` path (and every `super::…`
//! path that climbs out of its top-level module) in `crates/gateway/src` is an edge between
//! top-level modules; each edge must be allowed by `LAYERS`, and the module graph must have no
//! cycles. `cargo test --test layering -- --nocapture` prints the graph.
//!
//! The parser is deliberately small (comments and literals blanked, then paths read as tokens):
//! it needs to see module edges, not to understand Rust.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Top-level modules, leaves first, each with the modules it may `use crate::`. A module may
/// only name modules listed above it, so this table is a DAG by construction (checked).
const LAYERS: &[(&str, &[&str])] = &[
    // Leaves: no `crate::` imports at all.
    ("wire", &[]),
    ("clock", &[]),
    ("tokens", &[]),
    ("events", &[]),
    ("api", &["events"]),
    ("capture", &[]),
    ("affinity", &[]),
    ("secret", &[]),
    ("keychain", &["secret"]),
    ("session", &["secret"]),
    // Reading secret references (env, file, keychain), kept off the request path.
    ("credentials", &["keychain", "secret"]),
    // Pure translation between dialects: the wire types only.
    ("translate", &["wire"]),
    ("error", &["translate", "wire"]),
    ("config", &["api", "capture", "secret", "wire"]),
    ("discover", &["config"]),
    ("limits", &["config"]),
    ("routing", &["affinity", "config", "events"]),
    (
        "provider",
        &["config", "credentials", "secret", "translate", "wire"],
    ),
    ("telemetry", &["config", "wire"]),
    (
        "store",
        &["api", "capture", "clock", "config", "telemetry", "wire"],
    ),
    ("spend", &["config", "events", "store", "wire"]),
    // The running gateway and what sits on it.
    (
        "gateway",
        &[
            "api",
            "clock",
            "config",
            "credentials",
            "events",
            "limits",
            "provider",
            "routing",
            "secret",
            "session",
            "spend",
            "store",
        ],
    ),
    ("watch", &["gateway"]),
    (
        "admin",
        &[
            "api",
            "clock",
            "config",
            "credentials",
            "discover",
            "gateway",
            "keychain",
            "provider",
            "routing",
            "secret",
            "session",
            "spend",
            "store",
            "tokens",
        ],
    ),
    (
        "server",
        &[
            "admin",
            "affinity",
            "api",
            "capture",
            "clock",
            "config",
            "error",
            "events",
            "gateway",
            "limits",
            "provider",
            "routing",
            "secret",
            "session",
            "spend",
            "store",
            "telemetry",
            "tokens",
            "translate",
            "wire",
        ],
    ),
    // The shells' side: one lifecycle, and the typed client of a running gateway's admin API
    // (its tests start a gateway in-process).
    (
        "supervisor",
        &["admin", "config", "events", "gateway", "server", "watch"],
    ),
    (
        "admin_client",
        &["api", "config", "gateway", "secret", "session"],
    ),
];

/// Edges against the layering that other branches of issue 14 are removing: (from, to, who).
/// Empty it as they merge; the test fails when an entry is no longer needed, so it cannot rot.
const KNOWN_CYCLES_TO_REMOVE: &[(&str, &str, &str)] = &[];

// ---------------------------------------------------------------------------------------------
// Reading the sources.

/// One `crate::` edge found in a source file.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Ref {
    file: String,
    line: usize,
    from: String,
    to: String,
}

/// Replaces comments and the insides of string and char literals with spaces (newlines kept,
/// so line numbers still hold).
fn blank_comments_and_literals(src: &str) -> String {
    let c: Vec<char> = src.chars().collect();
    let mut out = String::with_capacity(src.len());
    let blank = |out: &mut String, ch: char| out.push(if ch == '\n' { '\n' } else { ' ' });
    let mut i = 0;
    while i < c.len() {
        let at = |k: usize| c.get(k).copied().unwrap_or('\0');
        let prev_ident = i > 0 && (c[i - 1].is_alphanumeric() || c[i - 1] == '_');
        if at(i) == '/' && at(i + 1) == '/' {
            while i < c.len() && c[i] != '\n' {
                blank(&mut out, c[i]);
                i += 1;
            }
        } else if at(i) == '/' && at(i + 1) == '*' {
            let mut depth = 0;
            while i < c.len() {
                if at(i) == '/' && at(i + 1) == '*' {
                    depth += 1;
                    out.push_str("  ");
                    i += 2;
                } else if at(i) == '*' && at(i + 1) == '/' {
                    depth -= 1;
                    out.push_str("  ");
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    blank(&mut out, c[i]);
                    i += 1;
                }
            }
        } else if !prev_ident && (at(i) == 'r' || (at(i) == 'b' && at(i + 1) == 'r')) && {
            // A raw string: r"…", r#"…"#, br"…".
            let mut k = i + if at(i) == 'b' { 2 } else { 1 };
            while at(k) == '#' {
                k += 1;
            }
            at(k) == '"'
        } {
            let start = i;
            let mut k = i + if at(i) == 'b' { 2 } else { 1 };
            let mut hashes = 0;
            while at(k) == '#' {
                hashes += 1;
                k += 1;
            }
            k += 1;
            loop {
                if k >= c.len() {
                    break;
                }
                if c[k] == '"' && (1..=hashes).all(|h| at(k + h) == '#') {
                    k += 1 + hashes;
                    break;
                }
                k += 1;
            }
            for &ch in &c[start..k.min(c.len())] {
                blank(&mut out, ch);
            }
            i = k;
        } else if at(i) == '"' {
            blank(&mut out, c[i]);
            i += 1;
            while i < c.len() && c[i] != '"' {
                if c[i] == '\\' {
                    blank(&mut out, c[i]);
                    i += 1;
                }
                if i < c.len() {
                    blank(&mut out, c[i]);
                    i += 1;
                }
            }
            if i < c.len() {
                blank(&mut out, c[i]);
                i += 1;
            }
        } else if at(i) == '\'' && (at(i + 1) == '\\' || at(i + 2) == '\'') {
            // A char literal ('x', '\n', '\u{1F600}'); a lifetime ('a) has no closing quote.
            blank(&mut out, c[i]);
            i += 1;
            if at(i) == '\\' {
                blank(&mut out, c[i]);
                i += 1;
            }
            while i < c.len() && c[i] != '\'' {
                blank(&mut out, c[i]);
                i += 1;
            }
            if i < c.len() {
                blank(&mut out, c[i]);
                i += 1;
            }
        } else {
            out.push(c[i]);
            i += 1;
        }
    }
    out
}

fn is_ident(ch: char) -> bool {
    ch.is_alphanumeric() || ch == '_'
}

/// The top-level modules a source file's paths reach, with line numbers. `module_depth` is how
/// deep the file's module is (`a.rs`, `a/mod.rs`: 1; `a/b.rs`: 2), for `super::` paths.
fn module_refs(src: &str, module_depth: usize) -> Vec<(usize, String)> {
    let text = blank_comments_and_literals(src);
    let c: Vec<char> = text.chars().collect();
    let at = |k: usize| c.get(k).copied().unwrap_or('\0');
    let skip_ws = |mut k: usize| {
        while at(k).is_whitespace() {
            k += 1;
        }
        k
    };
    let word_at = |k: usize| -> String { c[k..].iter().take_while(|ch| is_ident(**ch)).collect() };
    let sep_at = |k: usize| {
        let k = skip_ws(k);
        (at(k) == ':' && at(k + 1) == ':').then(|| skip_ws(k + 2))
    };
    // The first segment of each item of a path's tail: `x…` or a `{a…, b…}` group.
    let heads = |k: usize| -> Vec<String> {
        if at(k) != '{' {
            return vec![word_at(k)];
        }
        let mut found = Vec::new();
        let (mut k, mut depth, mut item_start) = (k + 1, 1, true);
        while k < c.len() && depth > 0 {
            match c[k] {
                '{' => depth += 1,
                '}' => depth -= 1,
                ',' if depth == 1 => item_start = true,
                ch if item_start && depth == 1 && is_ident(ch) => {
                    found.push(word_at(k));
                    item_start = false;
                }
                ch if !ch.is_whitespace() => item_start = false,
                _ => {}
            }
            k += 1;
        }
        found
    };

    let mut refs = Vec::new();
    let mut line = 1;
    let mut braces = 0usize;
    // Brace depths at which inline `mod name {` blocks opened: each nests one module deeper.
    let mut inline_mods: Vec<usize> = Vec::new();
    let mut pending_mod = false;
    let mut i = 0;
    while i < c.len() {
        let ch = c[i];
        if ch == '\n' {
            line += 1;
        }
        if ch == '{' {
            braces += 1;
            if pending_mod {
                inline_mods.push(braces);
                pending_mod = false;
            }
        } else if ch == '}' {
            if inline_mods.last() == Some(&braces) {
                inline_mods.pop();
            }
            braces = braces.saturating_sub(1);
        } else if ch == ';' {
            pending_mod = false;
        }
        let starts_word = is_ident(ch) && (i == 0 || !(is_ident(c[i - 1]) || c[i - 1] == '$'));
        if !starts_word {
            i += 1;
            continue;
        }
        let word = word_at(i);
        let end = i + word.chars().count();
        match word.as_str() {
            "mod" => {
                let k = skip_ws(end);
                let name = word_at(k);
                pending_mod = !name.is_empty() && at(skip_ws(k + name.chars().count())) == '{';
            }
            "crate" => {
                if let Some(k) = sep_at(end) {
                    refs.extend(heads(k).into_iter().map(|m| (line, m)));
                }
            }
            "super" => {
                let mut supers = 1;
                let mut k = end;
                while let Some(next) = sep_at(k) {
                    if word_at(next) == "super" {
                        supers += 1;
                        k = next + "super".len();
                    } else {
                        k = next;
                        break;
                    }
                }
                // Climbing to the crate root: the next segment is a top-level module.
                if sep_at(end).is_some() && supers == module_depth + inline_mods.len() {
                    refs.extend(heads(k).into_iter().map(|m| (line, m)));
                }
                i = k.max(end);
                continue;
            }
            _ => {}
        }
        i = end;
    }
    refs.retain(|(_, m)| !m.is_empty() && m != "self");
    refs
}

/// The top-level module of a file under `src/` and its module depth; `None` for `lib.rs`.
fn module_of(relative: &Path) -> Option<(String, usize)> {
    let parts: Vec<String> = relative
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    let last = parts.last()?;
    if parts.len() == 1 && last == "lib.rs" {
        return None;
    }
    let depth = if last == "mod.rs" {
        parts.len() - 1
    } else {
        parts.len()
    };
    Some((parts[0].trim_end_matches(".rs").to_owned(), depth))
}

/// Every `.rs` file under `dir`, relative to it, sorted.
fn rust_files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap_or_else(|e| panic!("{}: {e}", d.display())) {
            let path = entry
                .unwrap_or_else(|e| panic!("{}: {e}", d.display()))
                .path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                if let Ok(relative) = path.strip_prefix(dir) {
                    out.push(relative.to_path_buf());
                }
            }
        }
    }
    out.sort();
    out
}

/// The crate's top-level modules and every edge between them.
fn read_crate(src: &Path) -> (BTreeSet<String>, Vec<Ref>) {
    let files: Vec<(std::path::PathBuf, String)> = rust_files(src)
        .into_iter()
        .map(|relative| {
            let path = src.join(&relative);
            let text = std::fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            (relative, text)
        })
        .collect();
    // Files pulled in with `#[path = "…"] mod x;` belong to the declaring file's module, one
    // level deeper (`supervisor.rs` → `supervisor_tests.rs`), wherever they sit.
    let mut declared_by: BTreeMap<std::path::PathBuf, (String, usize)> = BTreeMap::new();
    for (relative, text) in &files {
        if let Some((module, depth)) = module_of(relative) {
            let dir = relative.parent().unwrap_or(Path::new(""));
            for target in path_attributes(text) {
                declared_by.insert(dir.join(target), (module.clone(), depth + 1));
            }
        }
    }
    let mut modules = BTreeSet::new();
    let mut refs = Vec::new();
    for (relative, text) in &files {
        let Some((module, depth)) = declared_by
            .get(relative)
            .cloned()
            .or_else(|| module_of(relative))
        else {
            continue;
        };
        modules.insert(module.clone());
        for (line, to) in module_refs(text, depth) {
            if to != module {
                refs.push(Ref {
                    file: format!("src/{}", relative.display()),
                    line,
                    from: module.clone(),
                    to,
                });
            }
        }
    }
    (modules, refs)
}

/// The file names of a source's `#[path = "…"]` attributes.
fn path_attributes(src: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = src;
    while let Some(at) = rest.find("#[path") {
        rest = &rest[at + "#[path".len()..];
        let after_eq = rest.trim_start().strip_prefix('=').map(str::trim_start);
        if let Some(quoted) = after_eq.and_then(|r| r.strip_prefix('"')) {
            if let Some(end) = quoted.find('"') {
                out.push(quoted[..end].to_owned());
            }
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Checking the graph.

type Graph = BTreeMap<String, BTreeSet<String>>;

/// One cycle in `graph`, as a path that ends where it starts, if there is any.
fn find_cycle(graph: &Graph) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        graph: &Graph,
        state: &mut BTreeMap<String, u8>,
        path: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        match state.get(node) {
            Some(2) => return None,
            Some(1) => {
                let from = path.iter().position(|n| n == node).unwrap_or(0);
                let mut cycle = path[from..].to_vec();
                cycle.push(node.to_owned());
                return Some(cycle);
            }
            _ => {}
        }
        state.insert(node.to_owned(), 1);
        path.push(node.to_owned());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(next, graph, state, path) {
                return Some(cycle);
            }
        }
        path.pop();
        state.insert(node.to_owned(), 2);
        None
    }
    let mut state = BTreeMap::new();
    graph
        .keys()
        .find_map(|node| visit(node, graph, &mut state, &mut Vec::new()))
}

fn graph_of(refs: &[Ref]) -> Graph {
    let mut graph = Graph::new();
    for r in refs {
        graph
            .entry(r.from.clone())
            .or_default()
            .insert(r.to.clone());
    }
    graph
}

/// Everything wrong with `refs` against `layers` and `known` allowances, in words.
fn check(
    layers: &[(&str, &[&str])],
    known: &[(&str, &str, &str)],
    modules: &BTreeSet<String>,
    refs: &[Ref],
) -> Vec<String> {
    let mut problems = Vec::new();
    let mut declared: BTreeMap<&str, &[&str]> = BTreeMap::new();
    for (module, may_use) in layers {
        for dep in *may_use {
            if !declared.contains_key(dep) {
                problems.push(format!(
                    "LAYERS: `{module}` may use `{dep}`, which is not listed above it (the table \
                     must go leaves first, so it stays a DAG)"
                ));
            }
        }
        if declared.insert(module, may_use).is_some() {
            problems.push(format!("LAYERS: `{module}` is listed twice"));
        }
    }
    for module in modules {
        if !declared.contains_key(module.as_str()) {
            problems.push(format!(
                "module `{module}` is not in LAYERS: add it (tests/layering.rs and \
                 ARCHITECTURE.md) with the modules it may use"
            ));
        }
    }
    for module in declared.keys() {
        if !modules.contains(*module) {
            problems.push(format!(
                "LAYERS names `{module}`, which is no module: remove it"
            ));
        }
    }
    let is_known = |from: &str, to: &str| known.iter().any(|(f, t, _)| *f == from && *t == to);
    let mut reported = BTreeSet::new();
    for r in refs {
        if !modules.contains(&r.to) {
            problems.push(format!(
                "{}:{}: `crate::{}` is not a module path; name the module the item lives in \
                 (lib.rs re-exports are for other crates)",
                r.file, r.line, r.to
            ));
            continue;
        }
        let allowed = declared.get(r.from.as_str()).copied().unwrap_or(&[]);
        if !allowed.contains(&r.to.as_str())
            && !is_known(&r.from, &r.to)
            && reported.insert((r.file.clone(), r.to.clone()))
        {
            problems.push(format!(
                "{}:{}: `{}` may not use `crate::{}` (it may use: {}); move the shared item \
                 down a layer, or change LAYERS and ARCHITECTURE.md if the rule is wrong",
                r.file,
                r.line,
                r.from,
                r.to,
                if allowed.is_empty() {
                    "nothing, it is a leaf".to_owned()
                } else {
                    allowed.join(", ")
                }
            ));
        }
    }
    let graph = graph_of(refs);
    for (from, to, who) in known {
        if !graph.get(*from).is_some_and(|deps| deps.contains(*to)) {
            problems.push(format!(
                "KNOWN_CYCLES_TO_REMOVE: `{from}` → `{to}` ({who}) is gone: remove the allowance"
            ));
        } else if declared.get(from).is_some_and(|deps| deps.contains(to)) {
            problems.push(format!(
                "KNOWN_CYCLES_TO_REMOVE: `{from}` → `{to}` is allowed by LAYERS: remove the allowance"
            ));
        }
    }
    let mut without_known = graph.clone();
    for (from, to, _) in known {
        if let Some(deps) = without_known.get_mut(*from) {
            deps.remove(*to);
        }
    }
    if let Some(cycle) = find_cycle(&without_known) {
        problems.push(format!("module cycle: {}", cycle.join(" → ")));
    }
    problems
}

fn src_dir() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// `print_module_graph` reads another tree when `LAYERING_SRC` names one (to compare a graph
/// before and after a change); the check itself always reads this crate.
fn print_dir() -> std::path::PathBuf {
    std::env::var_os("LAYERING_SRC")
        .filter(|dir| !dir.is_empty())
        .map_or_else(src_dir, Into::into)
}

#[test]
fn modules_follow_the_layering_rule_and_have_no_cycles() {
    let (modules, refs) = read_crate(&src_dir());
    assert!(
        refs.len() > 50 && modules.len() > 10,
        "the reader found almost nothing ({} modules, {} edges): is it broken?",
        modules.len(),
        refs.len()
    );
    let problems = check(LAYERS, KNOWN_CYCLES_TO_REMOVE, &modules, &refs);
    assert!(
        problems.is_empty(),
        "layering (ARCHITECTURE.md, \"Layering\"):\n  {}",
        problems.join("\n  ")
    );
}

/// The graph as it is, for reading: `--nocapture` prints it (edges still allowed only by
/// KNOWN_CYCLES_TO_REMOVE are marked `!`).
#[test]
#[allow(clippy::print_stdout)] // printing the graph is what this test is for
fn print_module_graph() {
    let dir = print_dir();
    let (modules, refs) = read_crate(&dir);
    let graph = graph_of(&refs);
    let known = |from: &str, to: &str| {
        KNOWN_CYCLES_TO_REMOVE
            .iter()
            .any(|(f, t, _)| *f == from && *t == to)
    };
    println!(
        "module dependency graph of {} (`!` = edge in KNOWN_CYCLES_TO_REMOVE):",
        dir.display()
    );
    // LAYERS order first (leaves first), then modules the table does not know.
    let mut order: Vec<&str> = LAYERS.iter().map(|(m, _)| *m).collect();
    let extra: Vec<&str> = modules
        .iter()
        .map(String::as_str)
        .filter(|m| !order.contains(m))
        .collect();
    order.extend(extra);
    for module in order {
        let deps: Vec<String> = graph
            .get(module)
            .into_iter()
            .flatten()
            .map(|d| {
                if known(module, d) {
                    format!("!{d}")
                } else {
                    d.clone()
                }
            })
            .collect();
        println!("  {module} -> {}", deps.join(", "));
    }
    let tangles = tangles(&graph);
    if tangles.is_empty() {
        println!("no cycles");
    }
    for group in tangles {
        println!("modules in a cycle together: {}", group.join(", "));
    }
}

/// The strongly connected groups of two or more modules (each group is one or more cycles).
fn tangles(graph: &Graph) -> Vec<Vec<String>> {
    let reach = |from: &str| {
        let mut seen = BTreeSet::new();
        let mut stack = vec![from.to_owned()];
        while let Some(node) = stack.pop() {
            for next in graph.get(&node).into_iter().flatten() {
                if seen.insert(next.clone()) {
                    stack.push(next.clone());
                }
            }
        }
        seen
    };
    let reaches: BTreeMap<&String, BTreeSet<String>> =
        graph.keys().map(|node| (node, reach(node))).collect();
    let mut groups: Vec<Vec<String>> = Vec::new();
    for (node, reached) in &reaches {
        if groups.iter().any(|g| g.contains(*node)) || !reached.contains(*node) {
            continue;
        }
        let group: Vec<String> = reached
            .iter()
            .filter(|other| reaches.get(other).is_some_and(|r| r.contains(*node)))
            .cloned()
            .collect();
        groups.push(group);
    }
    groups
}

// ---------------------------------------------------------------------------------------------
// The checker itself can fail.

fn r(from: &str, to: &str) -> Ref {
    Ref {
        file: format!("src/{from}.rs"),
        line: 1,
        from: from.into(),
        to: to.into(),
    }
}

fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|s| s.to_string()).collect()
}

#[test]
fn reads_paths_groups_and_super_but_not_comments_or_strings() {
    let src = r##"
//! uses crate::doc_comment
use crate::{a::{b, c}, d as e, self};
use crate::f::G;
/* crate::block /* nested crate::nested */ */
const S: &str = "crate::string";
const R: &str = r#"crate::raw " crate::still_raw"#;
const C: char = '"'; fn f<'a>(x: &'a str) -> &'a str { crate::g::h(x) }
macro_rules! m { () => { $crate::dollar::x() } }
pub(crate) fn i() { super::j::k(); }
mod tests {
    use super::*;
    use super::super::l;
}
"##;
    let mut found: Vec<String> = module_refs(src, 1).into_iter().map(|(_, m)| m).collect();
    found.sort();
    assert_eq!(found, ["a", "d", "f", "g", "j", "l"]);
    // One level deeper (`x/y.rs`), a single `super::` stays inside the top-level module.
    let found: Vec<String> = module_refs("fn f() { super::z::w(); }", 2)
        .into_iter()
        .map(|(_, m)| m)
        .collect();
    assert!(found.is_empty(), "{found:?}");
    assert_eq!(
        module_refs("\n\nuse crate::x;", 1),
        [(3, "x".to_string())],
        "line numbers"
    );
}

#[test]
fn maps_files_to_top_level_modules() {
    assert_eq!(module_of(Path::new("lib.rs")), None);
    assert_eq!(module_of(Path::new("a.rs")), Some(("a".into(), 1)));
    assert_eq!(module_of(Path::new("a/mod.rs")), Some(("a".into(), 1)));
    assert_eq!(module_of(Path::new("a/b.rs")), Some(("a".into(), 2)));
    assert_eq!(module_of(Path::new("a/b/mod.rs")), Some(("a".into(), 2)));
    assert_eq!(
        path_attributes(
            "#[cfg(test)]\n#[path = \"a_tests.rs\"]\nmod tests;\n#[path=\"b.rs\"] mod b;"
        ),
        ["a_tests.rs", "b.rs"]
    );
}

#[test]
fn a_forbidden_edge_is_named_with_its_file() {
    let layers: &[(&str, &[&str])] = &[("leaf", &[]), ("top", &["leaf"])];
    let modules = set(&["leaf", "top"]);
    assert!(check(layers, &[], &modules, &[r("top", "leaf")]).is_empty());
    let problems = check(layers, &[], &modules, &[r("top", "leaf"), r("leaf", "top")]);
    assert!(
        problems
            .iter()
            .any(|p| p.starts_with("src/leaf.rs:1: `leaf` may not use `crate::top`")),
        "{problems:?}"
    );
    assert!(
        problems.iter().any(|p| p.contains("module cycle")),
        "{problems:?}"
    );
}

#[test]
fn a_known_cycle_is_tolerated_until_it_is_gone() {
    let layers: &[(&str, &[&str])] = &[("leaf", &[]), ("top", &["leaf"])];
    let known: &[(&str, &str, &str)] = &[("leaf", "top", "someone")];
    let modules = set(&["leaf", "top"]);
    let edges = [r("top", "leaf"), r("leaf", "top")];
    assert!(check(layers, known, &modules, &edges).is_empty());
    let problems = check(layers, known, &modules, &[r("top", "leaf")]);
    assert!(
        problems
            .iter()
            .any(|p| p.contains("is gone: remove the allowance")),
        "{problems:?}"
    );
}

#[test]
fn the_table_must_be_leaves_first_and_cover_every_module() {
    let layers: &[(&str, &[&str])] = &[("top", &["leaf"]), ("leaf", &[])];
    let problems = check(layers, &[], &set(&["leaf", "top", "new"]), &[]);
    assert!(
        problems.iter().any(|p| p.contains("not listed above it")),
        "{problems:?}"
    );
    assert!(
        problems
            .iter()
            .any(|p| p.contains("`new` is not in LAYERS")),
        "{problems:?}"
    );
    let problems = check(
        &[("leaf", &[])],
        &[],
        &set(&["leaf"]),
        &[r("leaf", "Thing")],
    );
    assert!(
        problems.iter().any(|p| p.contains("not a module path")),
        "{problems:?}"
    );
}

#[test]
fn finds_cycles_of_any_length() {
    let mut graph = Graph::new();
    for (a, b) in [("a", "b"), ("b", "c"), ("c", "d"), ("x", "a")] {
        graph.entry(a.into()).or_default().insert(b.into());
    }
    assert_eq!(find_cycle(&graph), None);
    graph.entry("d".into()).or_default().insert("b".into());
    assert_eq!(
        find_cycle(&graph),
        Some(vec!["b".into(), "c".into(), "d".into(), "b".into()])
    );
    assert_eq!(
        tangles(&graph),
        [vec!["b".to_string(), "c".into(), "d".into()]]
    );
}
