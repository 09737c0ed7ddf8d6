//! What building an adapter needs besides its config: the shared credentials and the gateway's
//! task ownership (Copilot's token refresh runs on the gateway's tracker and stops with it).

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::credentials::Credentials;

#[derive(Clone, Default)]
pub struct BuildContext {
    pub credentials: Credentials,
    pub tracker: TaskTracker,
    /// Cancelled when the gateway stops; background tasks end with it.
    pub stop: CancellationToken,
}
