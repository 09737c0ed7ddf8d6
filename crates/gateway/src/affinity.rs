//! Prompt-cache affinity: the requests of one agent session go to the target that served the
//! session before, so the provider's prompt cache (keyed per backend) stays warm. A session is
//! named by the client: `server.affinity_header` if configured, else Claude Code's
//! `x-claude-code-session-id`, opencode's `x-session-affinity` / `x-session-id`. The Responses
//! API can key by `previous_response_id` with [`SessionKey::response`] (pin the new response's
//! id after serving it).
//!
//! Affinity only reorders: the pinned target goes first, and if it is unusable (breaker open,
//! misconfigured, over its limits, context too small) the request falls through to the
//! strategy's next choice, which then becomes the session's target. Memory is bounded: at most
//! `MAX_SESSIONS` sessions, least recently used evicted first, forgotten after `IDLE`.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, HeaderName};
use hashlink::LruCache;

/// Headers coding agents send to name their session, in the order they are checked.
pub const SESSION_HEADERS: [&str; 4] = [
    "x-claude-code-session-id",
    "x-session-affinity",
    "x-session-id",
    // Codex CLI (seen from 0.171), once per conversation.
    "session-id",
];
const MAX_SESSIONS: usize = 10_000;
const IDLE: Duration = Duration::from_secs(3600);
/// Longer values are ignored, so a client cannot make the table hold large keys.
const MAX_KEY_LEN: usize = 200;

/// What names one session (a header's value, or a previous response's id).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SessionKey(String);

impl SessionKey {
    /// The session a request belongs to, from `configured` (checked first) or an agent's header.
    pub fn from_headers(headers: &HeaderMap, configured: Option<&HeaderName>) -> Option<Self> {
        configured
            .and_then(|name| headers.get(name))
            .into_iter()
            .chain(SESSION_HEADERS.iter().filter_map(|name| headers.get(*name)))
            .filter_map(|value| value.to_str().ok())
            .map(str::trim)
            .find(|value| !value.is_empty() && value.len() <= MAX_KEY_LEN)
            .map(|value| SessionKey(format!("h:{value}")))
    }

    /// A Responses API conversation: look up by `previous_response_id`, pin each new id.
    pub fn response(id: &str) -> Option<Self> {
        (!id.is_empty() && id.len() <= MAX_KEY_LEN).then(|| SessionKey(format!("r:{id}")))
    }
}

struct Pin {
    target: String,
    seen: Instant,
}

/// Session → target, per alias.
pub struct Affinity {
    sessions: Mutex<LruCache<(String, SessionKey), Pin>>,
    idle: Duration,
}

impl Default for Affinity {
    fn default() -> Self {
        Affinity::with_limits(MAX_SESSIONS, IDLE)
    }
}

impl Affinity {
    pub fn with_limits(capacity: usize, idle: Duration) -> Self {
        Affinity {
            sessions: Mutex::new(LruCache::new(capacity.max(1))),
            idle,
        }
    }

    /// The target (`provider/model`) the session last used on `alias`, unless idle too long.
    pub fn pinned(&self, alias: &str, session: &SessionKey, now: Instant) -> Option<String> {
        let mut sessions = self.sessions.lock().ok()?;
        let key = (alias.to_owned(), session.clone());
        let pin = sessions.get_mut(&key)?;
        if now.duration_since(pin.seen) > self.idle {
            sessions.remove(&key);
            return None;
        }
        pin.seen = now;
        Some(pin.target.clone())
    }

    /// Remembers that `target` served the session on `alias`.
    pub fn pin(&self, alias: &str, session: &SessionKey, target: &str, now: Instant) {
        if let Ok(mut sessions) = self.sessions.lock() {
            let key = (alias.to_owned(), session.clone());
            match sessions.get_mut(&key) {
                Some(pin) if pin.target == target => pin.seen = now,
                _ => {
                    sessions.insert(
                        key,
                        Pin {
                            target: target.to_owned(),
                            seen: now,
                        },
                    );
                }
            }
        }
    }

    pub fn len(&self) -> usize {
        self.sessions.lock().map(|s| s.len()).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            if let (Ok(name), Ok(value)) = (HeaderName::try_from(*k), HeaderValue::from_str(v)) {
                map.append(name, value);
            }
        }
        map
    }

    #[test]
    fn sessions_are_named_by_the_configured_header_then_the_agents_headers() {
        let custom = HeaderName::from_static("x-my-session");
        type Case<'a> = (
            &'a [(&'a str, &'a str)],
            Option<&'a HeaderName>,
            Option<&'a str>,
        );
        let cases: [Case; 8] = [
            (
                &[("x-claude-code-session-id", "cc-1")],
                None,
                Some("h:cc-1"),
            ),
            (
                &[("x-session-affinity", "oc-1"), ("x-session-id", "oc-2")],
                None,
                Some("h:oc-1"),
            ),
            (&[("x-session-id", "s-1")], None, Some("h:s-1")),
            (
                &[("x-my-session", "m-1"), ("x-session-id", "s-1")],
                Some(&custom),
                Some("h:m-1"),
            ),
            (&[("x-my-session", "m-1")], None, None),
            (&[("session-id", "codex-1")], None, Some("h:codex-1")),
            (&[("x-session-id", "  ")], None, None),
            (
                &[("x-session-id", &"x".repeat(MAX_KEY_LEN + 1))],
                None,
                None,
            ),
        ];
        for (pairs, configured, expected) in cases {
            let key = SessionKey::from_headers(&headers(pairs), configured);
            assert_eq!(key.map(|k| k.0), expected.map(str::to_owned), "{pairs:?}");
        }
        assert_eq!(
            SessionKey::response("resp_1").map(|k| k.0).as_deref(),
            Some("r:resp_1")
        );
        assert_eq!(SessionKey::response(""), None);
    }

    #[test]
    fn pins_are_per_alias_refreshed_on_use_and_forgotten_when_idle() {
        let affinity = Affinity::with_limits(100, Duration::from_secs(60));
        let session = SessionKey("h:a".into());
        let t0 = Instant::now();
        affinity.pin("chat", &session, "p1/m", t0);
        assert_eq!(
            affinity.pinned("chat", &session, t0).as_deref(),
            Some("p1/m")
        );
        assert_eq!(affinity.pinned("other", &session, t0), None);
        // Used at 50 s, so still there at 100 s (idle 50 s), gone at 161 s.
        let at = |s| t0 + Duration::from_secs(s);
        assert!(affinity.pinned("chat", &session, at(50)).is_some());
        assert!(affinity.pinned("chat", &session, at(100)).is_some());
        assert_eq!(affinity.pinned("chat", &session, at(161)), None);
        assert!(affinity.is_empty(), "an expired pin is removed");
        // A new target replaces the old one (the session moved after a failure).
        affinity.pin("chat", &session, "p1/m", t0);
        affinity.pin("chat", &session, "p2/m", t0);
        assert_eq!(
            affinity.pinned("chat", &session, t0).as_deref(),
            Some("p2/m")
        );
    }

    #[test]
    fn memory_is_bounded_and_the_least_recently_used_session_goes_first() {
        let affinity = Affinity::with_limits(3, IDLE);
        let now = Instant::now();
        let key = |n: u32| SessionKey(format!("h:{n}"));
        for n in 0..3 {
            affinity.pin("chat", &key(n), "p/m", now);
        }
        assert!(affinity.pinned("chat", &key(0), now).is_some()); // 0 is now the most recent
        affinity.pin("chat", &key(3), "p/m", now);
        assert_eq!(affinity.len(), 3);
        assert_eq!(
            affinity.pinned("chat", &key(1), now),
            None,
            "1 was least recently used"
        );
        assert!(affinity.pinned("chat", &key(0), now).is_some());
        assert!(affinity.pinned("chat", &key(3), now).is_some());
    }
}
