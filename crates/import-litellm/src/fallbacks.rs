//! Fallbacks (ordinary, default and context-window), model group aliases and the names of
//! literal keys.

use super::*;

impl Importer {
    /// LiteLLM's format: a list of single-key maps, `[{"gpt-4": ["gpt-3.5", "claude"]}]`.
    pub(crate) fn fallback_list(&mut self, v: &Value, path: &str, kind: FallbackKind) {
        let items: Vec<(String, &Value)> = match v {
            Value::Sequence(items) => items
                .iter()
                .enumerate()
                .map(|(j, item)| (format!("{path}[{j}]"), item))
                .collect(),
            Value::Mapping(_) => vec![(path.to_owned(), v)],
            Value::Null => return,
            other => {
                self.note(
                    path,
                    format!(
                        "not imported: expected a list like [{{\"gpt-4\": [\"gpt-3.5\"]}}], found {}",
                        type_name(other)
                    ),
                );
                return;
            }
        };
        for (item_path, item) in items {
            let Some(map) = item.as_mapping() else {
                self.note(
                    item_path,
                    format!(
                        "not imported: expected a map like {{\"gpt-4\": [\"gpt-3.5\"]}}, found {}",
                        type_name(item)
                    ),
                );
                continue;
            };
            for (from, to) in map {
                let from = key_text(from);
                let Some(to) = self.name_list(to, &item_path) else {
                    continue;
                };
                if from == "*" && kind == FallbackKind::Regular {
                    self.default_fallbacks.push((to, item_path.clone()));
                    continue;
                }
                self.fallback_specs.push(FallbackSpec {
                    from,
                    to,
                    kind,
                    path: item_path.clone(),
                });
            }
        }
    }

    pub(crate) fn default_fallbacks(&mut self, v: &Value, path: &str) {
        if let Some(list) = self.name_list(v, path) {
            self.default_fallbacks.push((list, path.to_owned()));
        }
    }

    pub(crate) fn name_list(&mut self, v: &Value, path: &str) -> Option<Vec<String>> {
        match v {
            Value::String(s) => Some(vec![s.clone()]),
            Value::Sequence(items) => {
                let mut names = Vec::new();
                for item in items {
                    match scalar_text(item) {
                        Some(name) => names.push(name),
                        None => self.note(
                            path,
                            format!(
                                "a fallback that is {} instead of a model name is ignored",
                                type_name(item)
                            ),
                        ),
                    }
                }
                Some(names)
            }
            other => {
                self.note(
                    path,
                    format!(
                        "not imported: expected a list of model names, found {}",
                        type_name(other)
                    ),
                );
                None
            }
        }
    }

    pub(crate) fn model_group_alias(&mut self, v: &Value, path: &str) {
        let Some(map) = v.as_mapping() else {
            self.note(
                path,
                "not imported: expected a mapping of name → model group",
            );
            return;
        };
        for (name, target) in map {
            let name = key_text(name);
            let referent = match target {
                Value::Mapping(m) => {
                    if m.get("hidden").and_then(Value::as_bool) == Some(true) {
                        self.note(
                            path,
                            format!("model_group_alias `{name}`: `hidden` not imported; Switchboard lists every alias"),
                        );
                    }
                    m.get("model").and_then(scalar_text)
                }
                other => scalar_text(other),
            };
            match referent {
                Some(referent) => {
                    self.group_aliases.push((
                        normalize_alias_name(&name),
                        referent,
                        path.to_owned(),
                    ));
                }
                None => self.note(
                    path,
                    format!("model_group_alias `{name}` not imported: it names no model group"),
                ),
            }
        }
    }

    /// The imported alias a LiteLLM model name refers to, or why there is none.
    pub(crate) fn resolve_ref(&self, raw: &str) -> Result<String, String> {
        let name = normalize_alias_name(raw);
        if let Some(&index) = self.alias_index.get(&name) {
            return if self.aliases[index].targets.is_empty() {
                Err(format!(
                    "`{raw}` was not imported (none of its deployments could be translated)"
                ))
            } else {
                Ok(name)
            };
        }
        if let Some((_, referent, _)) = self.group_aliases.iter().find(|(n, _, _)| *n == name) {
            let referent = normalize_alias_name(referent);
            if let Some(&index) = self.alias_index.get(&referent) {
                if !self.aliases[index].targets.is_empty() {
                    return Ok(referent);
                }
            }
        }
        if let Some(reason) = self.skipped.get(&name) {
            return Err(format!("`{raw}` was not imported: {reason}"));
        }
        Err(format!("no model_list entry is named `{raw}`"))
    }

    pub(crate) fn resolve_fallbacks(&mut self) {
        let mut wanted: HashMap<String, Vec<Edge>> = HashMap::new();
        let mut has_own: HashSet<String> = HashSet::new();
        let specs = std::mem::take(&mut self.fallback_specs);

        // Context-window fallbacks per alias, in the order first seen: (alias, fallbacks, where).
        let mut context: Vec<(String, Vec<Edge>, String)> = Vec::new();
        for kind in [FallbackKind::Regular, FallbackKind::ContextWindow] {
            for spec in specs.iter().filter(|s| s.kind == kind) {
                let label = match kind {
                    FallbackKind::Regular => "fallbacks",
                    FallbackKind::ContextWindow => "context_window_fallbacks",
                };
                let from = match self.resolve_ref(&spec.from) {
                    Ok(from) => from,
                    Err(reason) => {
                        self.note(
                            &spec.path,
                            format!("{label} of `{}` not imported: {reason}", spec.from),
                        );
                        continue;
                    }
                };
                if kind == FallbackKind::Regular {
                    has_own.insert(from.clone());
                }
                let at = match kind {
                    FallbackKind::Regular => None,
                    FallbackKind::ContextWindow => {
                        let at = match context.iter().position(|(f, _, _)| *f == from) {
                            Some(at) => at,
                            None => {
                                context.push((from.clone(), Vec::new(), spec.path.clone()));
                                context.len() - 1
                            }
                        };
                        Some(at)
                    }
                };
                for to in &spec.to {
                    match self.resolve_ref(to) {
                        Ok(to) if to == from => self.note(
                            &spec.path,
                            format!("`{from}` lists itself as a fallback; dropped"),
                        ),
                        Ok(to) => {
                            let edge = Edge {
                                to,
                                path: spec.path.clone(),
                            };
                            match at {
                                Some(at) => context[at].1.push(edge),
                                None => wanted.entry(from.clone()).or_default().push(edge),
                            }
                        }
                        Err(reason) => self.note(
                            &spec.path,
                            format!("fallback `{to}` of `{from}` dropped: {reason}"),
                        ),
                    }
                }
            }
            if kind == FallbackKind::Regular {
                self.apply_default_fallbacks(&has_own, &mut wanted);
            }
        }
        for (from, edges, path) in context {
            self.context_window_fallbacks(&from, edges, &path, &mut wanted);
        }

        // Accept edges in alias order; drop any that would close a cycle.
        let order: Vec<String> = self.aliases.iter().map(|a| a.name.clone()).collect();
        for from in order {
            let Some(edges) = wanted.remove(&from) else {
                continue;
            };
            for edge in edges {
                let Some(&index) = self.alias_index.get(&from) else {
                    continue;
                };
                if self.aliases[index].fallbacks.contains(&edge.to) {
                    self.note(
                        &edge.path,
                        format!(
                            "fallback `{}` of `{from}` is listed more than once; kept once",
                            edge.to
                        ),
                    );
                    continue;
                }
                if let Some(path_back) = self.fallback_path(&edge.to, &from) {
                    let cycle = std::iter::once(from.as_str())
                        .chain(path_back.iter().map(String::as_str))
                        .collect::<Vec<_>>()
                        .join(" → ");
                    self.note(
                        &edge.path,
                        format!(
                            "fallback `{from}` → `{}` dropped: it would close the cycle {cycle}, which Switchboard rejects",
                            edge.to
                        ),
                    );
                    continue;
                }
                self.aliases[index].fallbacks.push(edge.to);
            }
        }
    }

    /// One alias's context-window fallbacks: `long_context` when there is a single one and the
    /// alias's context window is known, else ordinary fallbacks.
    pub(crate) fn context_window_fallbacks(
        &mut self,
        from: &str,
        mut edges: Vec<Edge>,
        path: &str,
        wanted: &mut HashMap<String, Vec<Edge>>,
    ) {
        let mut seen = HashSet::new();
        edges.retain(|e| seen.insert(e.to.clone()));
        let Some(&index) = self.alias_index.get(from) else {
            return;
        };
        let windows: Option<Vec<u64>> = self.aliases[index]
            .targets
            .iter()
            .map(|t| t.max_input_tokens)
            .collect();
        let smallest = windows.and_then(|w| w.into_iter().min());
        let names = edges
            .iter()
            .map(|e| format!("`{}`", e.to))
            .collect::<Vec<_>>()
            .join(", ");
        let ordinary = format!("context_window_fallbacks of `{from}` ({names}) imported as ordinary fallbacks: Switchboard tries them when every target failed with a transient error (connect, timeout, 5xx, 429), not specifically when the prompt is too long");
        match (edges.as_slice(), smallest) {
            ([], _) => self.note(
                path,
                format!("context_window_fallbacks of `{from}`: no fallback left to import"),
            ),
            ([edge], Some(above)) => {
                let to = edge.to.clone();
                let also = if wanted
                    .get(from)
                    .is_some_and(|list| list.iter().any(|e| e.to == to))
                {
                    "it also stays in `fallbacks`, where it was listed too"
                } else {
                    "it is not added to `fallbacks`, as it was only a context-window fallback"
                };
                self.note(
                    path,
                    format!("context_window_fallbacks of `{from}` imported as `long_context = {{ above_tokens = {above}, alias = \"{to}\" }}`: Switchboard sends a request whose input it estimates (roughly, about ±25%) above {above} tokens, the smallest max_input_tokens of `{from}`'s targets, straight to `{to}`, where LiteLLM switched only after a context-window error; {also}"),
                );
                self.aliases[index].long_context = Some((above, to));
            }
            ([_], None) => {
                self.note(
                    path,
                    format!("{ordinary}. To send long inputs to {names} ahead of time instead (`long_context`), give every deployment of `{from}` a model_info.max_input_tokens and import again"),
                );
                wanted.entry(from.to_owned()).or_default().extend(edges);
            }
            (_, _) => {
                self.note(
                    path,
                    format!("{ordinary}. Switchboard's `long_context` names a single alias; set it by hand to route long inputs ahead of time"),
                );
                wanted.entry(from.to_owned()).or_default().extend(edges);
            }
        }
    }

    pub(crate) fn apply_default_fallbacks(
        &mut self,
        has_own: &HashSet<String>,
        wanted: &mut HashMap<String, Vec<Edge>>,
    ) {
        let defaults = std::mem::take(&mut self.default_fallbacks);
        for (names, path) in defaults {
            let mut resolved = Vec::new();
            for raw in &names {
                match self.resolve_ref(raw) {
                    Ok(name) => resolved.push(name),
                    Err(reason) => {
                        self.note(&path, format!("default fallback `{raw}` dropped: {reason}"))
                    }
                }
            }
            if resolved.is_empty() {
                continue;
            }
            let mut applied = 0;
            let names: Vec<String> = self
                .aliases
                .iter()
                .filter(|a| !a.targets.is_empty() && !has_own.contains(&a.name))
                .map(|a| a.name.clone())
                .collect();
            for alias in names {
                let edges = wanted.entry(alias.clone()).or_default();
                let mut added = false;
                for to in resolved.iter().filter(|to| **to != alias) {
                    edges.push(Edge {
                        to: to.clone(),
                        path: path.clone(),
                    });
                    added = true;
                }
                if added {
                    applied += 1;
                }
            }
            let message = if applied == 0 {
                format!(
                    "default fallbacks ({}) not used: every alias has fallbacks of its own",
                    resolved.join(", ")
                )
            } else {
                format!("default fallbacks ({}) added to the {applied} aliases that have no fallbacks of their own", resolved.join(", "))
            };
            self.note(&path, message);
        }
    }

    /// A fallback chain from `start` to `goal` over the accepted fallbacks, if there is one.
    pub(crate) fn fallback_path(&self, start: &str, goal: &str) -> Option<Vec<String>> {
        let mut stack: Vec<(String, Vec<String>)> =
            vec![(start.to_owned(), vec![start.to_owned()])];
        let mut seen: HashSet<String> = HashSet::new();
        while let Some((node, path)) = stack.pop() {
            if node == goal {
                return Some(path);
            }
            if !seen.insert(node.clone()) {
                continue;
            }
            if let Some(&index) = self.alias_index.get(&node) {
                for next in &self.aliases[index].fallbacks {
                    let mut longer = path.clone();
                    longer.push(next.clone());
                    stack.push((next.clone(), longer));
                }
            }
        }
        None
    }

    /// `model_group_alias` entries become aliases with the targets and fallbacks of the alias
    /// they stand for.
    pub(crate) fn add_group_aliases(&mut self) {
        let groups = std::mem::take(&mut self.group_aliases);
        for (name, referent, path) in &groups {
            if self.alias_index.contains_key(name) {
                self.note(
                    path,
                    format!("model_group_alias `{name}` not imported: a model_list entry already has that name"),
                );
                continue;
            }
            if let Some(kept) = self.lowercase.get(&name.to_lowercase()) {
                let kept = kept.clone();
                self.note(
                    path,
                    format!("model_group_alias `{name}` not imported: it differs from `{kept}` only in case"),
                );
                continue;
            }
            let source = normalize_alias_name(referent);
            let index = match self.alias_index.get(&source) {
                Some(&index) if !self.aliases[index].targets.is_empty() => index,
                _ => {
                    let reason = self
                        .resolve_ref(referent)
                        .err()
                        .unwrap_or_else(|| format!("`{referent}` is itself an alias"));
                    self.note(
                        path,
                        format!("model_group_alias `{name}` not imported: {reason}"),
                    );
                    continue;
                }
            };
            let copy = Alias {
                name: name.clone(),
                first_path: path.clone(),
                deployments: 0,
                targets: self.aliases[index].targets.clone(),
                untranslated: Vec::new(),
                fallbacks: self.aliases[index].fallbacks.clone(),
                long_context: self.aliases[index].long_context.clone(),
                copy_of: Some(source.clone()),
                budget: None,
            };
            self.note(
                path,
                format!("model_group_alias `{name}` imported as an alias with the same targets, fallbacks and routing as `{source}`"),
            );
            self.lowercase.insert(name.to_lowercase(), name.clone());
            self.aliases.push(copy);
            self.alias_index
                .insert(name.clone(), self.aliases.len() - 1);
        }
    }

    /// A provider with a literal key reads it from `env:NAME_API_KEY`, a variable no other
    /// provider reads, which the report asks the user to export.
    pub(crate) fn name_literal_keys(&mut self) {
        let mut taken: HashSet<String> = self
            .providers
            .iter()
            .filter_map(|p| match &p.key.key {
                KeyRef::Env(var) => Some(var.clone()),
                _ => None,
            })
            .collect();
        let mut notes = Vec::new();
        for provider in &mut self.providers {
            if !matches!(provider.key.key, KeyRef::Literal(_)) {
                continue;
            }
            let stem = provider.name.to_uppercase().replace('-', "_");
            let mut var = format!("{stem}_API_KEY");
            let mut n = 2;
            while taken.contains(&var) {
                var = format!("{stem}_{n}_API_KEY");
                n += 1;
            }
            taken.insert(var.clone());
            for path in &provider.literal_paths {
                notes.push((path.clone(), format!("literal API key not copied (Switchboard stores references, never key values): provider `{}` reads it from api_key = \"env:{var}\"; export {var} with that key before starting Switchboard", provider.name)));
            }
            provider.literal_env = Some(var);
        }
        for (path, message) in notes {
            self.note(path, message);
        }
    }
}
