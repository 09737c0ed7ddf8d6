//! The conversation every wire-format mock plays, so SDK tests can do a tool-call round trip
//! against any of them: with tools and no tool results yet, call the first tool twice in
//! parallel (Paris and Tokyo, arguments streamed in small pieces); with tool results, answer
//! with text that quotes them; otherwise greet the last user text. Coding agents get one
//! harmless shell call instead (the agent e2e tests): Codex CLI's `exec_command` an `echo`
//! whose output (`tool-ran-42`) differs from its arguments; a shell tool named `Bash` (Claude
//! Code) or `bash` (opencode) `echo hi`.

pub(crate) enum Reply {
    Text(String),
    /// (name, arguments as JSON text)
    ToolCalls(Vec<(String, String)>),
}

pub(crate) fn decide(who: &str, tools: &[String], results: &[String], last_user: &str) -> Reply {
    if !results.is_empty() {
        return Reply::Text(format!("{who} got tool results: {}", results.join(" | ")));
    }
    if tools.iter().any(|t| t == "exec_command") {
        return Reply::ToolCalls(vec![(
            "exec_command".to_owned(),
            r#"{"cmd": "echo tool-ran-$((6*7))"}"#.to_owned(),
        )]);
    }
    if let Some(shell) = tools.iter().find(|t| *t == "Bash" || *t == "bash") {
        return Reply::ToolCalls(vec![(
            shell.clone(),
            r#"{"command": "echo hi", "description": "Print hi"}"#.to_owned(),
        )]);
    }
    if let Some(tool) = tools.first() {
        return Reply::ToolCalls(vec![
            (
                tool.clone(),
                r#"{"city": "Paris", "unit": "celsius"}"#.to_owned(),
            ),
            (
                tool.clone(),
                r#"{"city": "Tokyo", "unit": "celsius"}"#.to_owned(),
            ),
        ]);
    }
    Reply::Text(format!("{who} says hello to: {last_user}"))
}

/// `text` in pieces of at most `n` characters (never splitting a character).
pub(crate) fn pieces(text: &str, n: usize) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    chars.chunks(n.max(1)).map(|c| c.iter().collect()).collect()
}
