//! Switchboard's gateway core: an OpenAI-compatible LLM gateway as a library. The headless CLI
//! and the tray app are thin shells over `Gateway`; nothing here knows about a GUI.

pub mod admin;
pub mod admin_client;
pub mod affinity;
pub mod api;
pub mod capture;
mod clock;
pub mod config;
pub mod credentials;
pub mod discover;
pub mod error;
pub mod events;
pub mod gateway;
pub mod keychain;
pub mod limits;
pub mod provider;
pub mod routing;
pub mod secret;
mod server;
pub mod session;
pub mod spend;
#[doc(hidden)]
pub use server::guard::verdict as guard_verdict;
pub mod store;
pub mod supervisor;
pub mod telemetry;
pub mod tokens;
pub use tokens::hash_token;
pub mod translate;
mod watch;
pub mod wire;

pub use admin::AdminService;
pub use config::Config;
pub use error::ApiError;
pub use events::GatewayEvent;
pub use gateway::{
    ConfigState, Gateway, GatewayOptions, ReloadError, ReloadFailure, ReloadOutcome, Snapshot,
};
pub use server::listen::{ServeError, ServerHandle};
pub use server::pipeline::retry::TargetWalk;
pub use server::CORRELATION_HEADER;
