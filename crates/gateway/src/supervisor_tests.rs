//! The supervisor's states over a real socket and a real config file in a temp dir.

use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use anyhow::Context;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::*;

struct Fixture {
    dir: tempfile::TempDir,
}

impl Fixture {
    fn new(listen: &str) -> anyhow::Result<Fixture> {
        let fixture = Fixture {
            dir: tempfile::tempdir()?,
        };
        fixture.write_config(listen)?;
        Ok(fixture)
    }

    fn config_path(&self) -> PathBuf {
        self.dir.path().join("config/config.toml")
    }

    fn write_config(&self, listen: &str) -> anyhow::Result<()> {
        self.write_text(&format!(
            "listen = \"{listen}\"\n[server]\nshutdown_grace_s = 2\n\n\
             [providers.demo]\nkind = \"demo\"\n\n\
             [aliases.demo]\ntargets = [\"demo/switchboard-demo\"]\n"
        ))
    }

    /// Writes the file and moves its mtime on, so a retry after a failed load sees a change
    /// even within the file system's timestamp resolution.
    fn write_text(&self, text: &str) -> anyhow::Result<()> {
        let path = self.config_path();
        std::fs::create_dir_all(path.parent().context("no parent")?)?;
        std::fs::write(&path, text)?;
        let later = SystemTime::now() + Duration::from_secs(5);
        std::fs::File::options()
            .write(true)
            .open(&path)?
            .set_modified(later)?;
        Ok(())
    }

    fn options(&self) -> SupervisorOptions {
        SupervisorOptions {
            config_path: self.config_path(),
            database_path: Some(self.dir.path().join("data/switchboard.db")),
            watch_config: false,
            listen: None,
        }
    }
}

/// One HTTP/1.1 GET over a fresh connection: the status code.
async fn get(addr: SocketAddr, path: &str) -> std::io::Result<u16> {
    let mut stream = tokio::net::TcpStream::connect(addr).await?;
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await?;
    let mut response = String::new();
    stream.read_to_string(&mut response).await?;
    Ok(response
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0))
}

fn port_is_free(addr: SocketAddr) -> bool {
    TcpListener::bind(addr).is_ok()
}

fn free_port() -> anyhow::Result<SocketAddr> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?)
}

#[tokio::test]
async fn starts_serves_stops_and_frees_the_port() -> anyhow::Result<()> {
    let fixture = Fixture::new("127.0.0.1:0")?;
    let mut supervisor = Supervisor::open(fixture.options()).await;
    assert_eq!(supervisor.state().phase, Phase::Stopped);
    assert!(supervisor.state().admin.is_some());

    let addr = supervisor.start().await?;
    assert_ne!(addr.port(), 0);
    assert_eq!(supervisor.state().phase, Phase::Running { addr });
    assert_eq!(get(addr, "/health/liveliness").await?, 200);
    // Starting again while serving is the same server.
    assert_eq!(supervisor.start().await?, addr);

    supervisor.stop().await;
    assert_eq!(supervisor.state().phase, Phase::Stopped);
    assert!(port_is_free(addr), "the port must be free after stop");
    assert!(get(addr, "/health/liveliness").await.is_err());

    let again = supervisor.start().await?;
    assert_eq!(get(again, "/health/liveliness").await?, 200);
    supervisor.shutdown().await;
    assert_eq!(supervisor.state().phase, Phase::Stopped);
    assert!(port_is_free(again));
    Ok(())
}

#[tokio::test]
async fn a_broken_config_at_start_waits_and_serves_once_fixed() -> anyhow::Result<()> {
    let fixture = Fixture::new("127.0.0.1:0")?;
    fixture.write_text("listen = \"127.0.0.1:0\"\nlisen = 1\n")?;
    let mut supervisor = Supervisor::open(fixture.options()).await;
    let state = supervisor.state();
    let Phase::Failed(LifecycleError::ConfigInvalid {
        message,
        diagnostics,
    }) = state.phase
    else {
        anyhow::bail!("expected a config error, got {:?}", state.phase);
    };
    assert!(message.contains("lisen"), "{message}");
    assert_eq!(diagnostics.first().map(|d| d.line), Some(2));
    assert!(state.admin.is_none());
    assert!(supervisor.load_failure().is_some());
    assert!(matches!(
        supervisor.start().await,
        Err(LifecycleError::ConfigInvalid { .. })
    ));
    // Nothing changed on disk: nothing to retry.
    assert_eq!(supervisor.tick().await?, None);

    fixture.write_config("127.0.0.1:0")?;
    assert_eq!(supervisor.tick().await?, Some(ReloadReport::Loaded));
    assert_eq!(supervisor.state().phase, Phase::Stopped);
    assert!(supervisor.load_failure().is_none());
    let addr = supervisor.start().await?;
    assert_eq!(get(addr, "/health/liveliness").await?, 200);
    supervisor.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn first_start_writes_the_default_config() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("fresh/config.toml");
    let supervisor = Supervisor::open(SupervisorOptions {
        config_path: path.clone(),
        database_path: Some(dir.path().join("switchboard.db")),
        watch_config: false,
        listen: None,
    })
    .await;
    assert!(supervisor.created_config());
    assert!(path.exists());
    assert_eq!(supervisor.state().phase, Phase::Stopped);
    let mut supervisor = supervisor;
    supervisor.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn a_port_in_use_is_a_failed_state_and_start_recovers_once_free() -> anyhow::Result<()> {
    let taken = TcpListener::bind("127.0.0.1:0")?;
    let addr = taken.local_addr()?;
    let fixture = Fixture::new(&addr.to_string())?;
    let mut supervisor = Supervisor::open(fixture.options()).await;
    let error = supervisor
        .start()
        .await
        .err()
        .context("the port is taken")?;
    assert_eq!(error, LifecycleError::PortInUse { addr });
    assert_eq!(supervisor.state().phase, Phase::Failed(error));
    drop(taken);
    assert_eq!(supervisor.start().await?, addr);
    supervisor.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn a_rejected_reload_keeps_serving_and_is_reported() -> anyhow::Result<()> {
    let fixture = Fixture::new("127.0.0.1:0")?;
    let mut supervisor = Supervisor::open(fixture.options()).await;
    let addr = supervisor.start().await?;
    fixture.write_text("listen = \"127.0.0.1:0\"\n[aliases.x]\ntargets = [\"nope/m\"]\n")?;
    assert!(matches!(
        supervisor.reload().await,
        Err(LifecycleError::ConfigInvalid { .. })
    ));
    assert_eq!(supervisor.state().phase, Phase::Running { addr });
    assert_eq!(get(addr, "/health/liveliness").await?, 200);
    let readiness = supervisor.admin().context("loaded")?.readiness();
    assert!(readiness.config_file.last_error.is_some());

    fixture.write_config("127.0.0.1:0")?;
    assert!(matches!(
        supervisor.reload().await?,
        ReloadReport::Applied { .. } | ReloadReport::Unchanged
    ));
    let readiness = supervisor.admin().context("loaded")?.readiness();
    assert!(readiness.config_file.last_error.is_none());
    supervisor.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn a_changed_listen_moves_the_listener_unless_overridden() -> anyhow::Result<()> {
    let first = free_port()?;
    let fixture = Fixture::new(&first.to_string())?;
    let mut supervisor = Supervisor::open(fixture.options()).await;
    assert_eq!(supervisor.start().await?, first);
    let second = free_port()?;
    fixture.write_config(&second.to_string())?;
    let report = supervisor.reload().await?;
    assert_eq!(
        report,
        ReloadReport::Applied {
            restarted: true,
            needs_restart: Vec::new()
        }
    );
    assert_eq!(supervisor.local_addr(), Some(second));
    assert_eq!(supervisor.state().configured_listen, Some(second));
    assert!(port_is_free(first));
    assert_eq!(get(second, "/health/liveliness").await?, 200);
    supervisor.shutdown().await;

    // `serve --listen` pins the address: the file's `listen` is not followed.
    let fixture = Fixture::new(&free_port()?.to_string())?;
    let pinned = free_port()?;
    let mut supervisor = Supervisor::open(SupervisorOptions {
        listen: Some(pinned),
        ..fixture.options()
    })
    .await;
    assert_eq!(supervisor.start().await?, pinned);
    fixture.write_config(&free_port()?.to_string())?;
    let report = supervisor.reload().await?;
    assert!(
        matches!(
            &report,
            ReloadReport::Applied {
                restarted: false,
                ..
            }
        ),
        "{report:?}"
    );
    assert_eq!(supervisor.local_addr(), Some(pinned));
    supervisor.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn gateway_events_reach_subscribers_made_before_the_config_loaded() -> anyhow::Result<()> {
    let fixture = Fixture::new("127.0.0.1:0")?;
    fixture.write_text("not toml [")?;
    let mut supervisor = Supervisor::open(fixture.options()).await;
    let mut events = supervisor.events();
    fixture.write_config("127.0.0.1:0")?;
    assert_eq!(supervisor.tick().await?, Some(ReloadReport::Loaded));
    fixture.write_config("127.0.0.2:0")?;
    supervisor.reload().await?;
    let event = tokio::time::timeout(Duration::from_secs(5), events.recv()).await??;
    assert!(
        matches!(event, GatewayEvent::ConfigReloaded { .. }),
        "{event:?}"
    );
    supervisor.shutdown().await;
    Ok(())
}
