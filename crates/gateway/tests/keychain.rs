//! The real OS keychain: set → resolve through a provider's `keychain:` reference → rotate →
//! remove, with the gateway running. Needs a Secret Service (Linux) or the login keychain
//! (macOS), so these tests are ignored in plain `cargo test`; `scripts/test.sh` runs them under
//! `dbus-run-session` with an unlocked `gnome-keyring-daemon`.

#![cfg(test)] // clippy.toml's allow-unwrap-in-tests then covers the helpers too

use std::time::Duration;

use serde_json::json;
use switchboard_gateway::keychain::{self, KeychainError};
use switchboard_gateway::secret::{Secret, SecretRef};
use switchboard_test_support::{MockConfig, TestGateway};

fn unique(name: &str) -> String {
    format!("switchboard-test-{name}-{}", std::process::id())
}

#[test]
#[ignore = "needs a Secret Service: scripts/test.sh runs it under dbus-run-session"]
fn set_resolve_rotate_remove() {
    let name = unique("roundtrip");
    let reference = SecretRef::parse(&format!("keychain:{name}")).unwrap();
    assert!(
        matches!(reference.resolve(), Err(e) if e.to_string().contains("switchboard keys set"))
    );
    keychain::set(&name, &Secret::new("first-value".into())).unwrap();
    assert_eq!(reference.resolve().unwrap().expose(), "first-value");
    keychain::set(&name, &Secret::new("rotated-value".into())).unwrap();
    assert_eq!(
        reference.resolve().unwrap().expose(),
        "rotated-value",
        "rotation is seen at once"
    );
    assert!(keychain::exists(&name).unwrap());
    keychain::delete(&name).unwrap();
    assert!(!keychain::exists(&name).unwrap());
    assert_eq!(
        keychain::delete(&name),
        Err(KeychainError::Missing(name.clone()))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a Secret Service: scripts/test.sh runs it under dbus-run-session"]
async fn providers_send_the_keychain_value_and_pick_up_rotation_without_restart() {
    let name = unique("provider");
    keychain::set(&name, &Secret::new("sk-from-keychain-1".into())).unwrap();
    let mut h = TestGateway::builder()
        .mock(MockConfig::default())
        .config(format!(
            "[providers.cloud]\nkind = \"openai\"\nbase_url = \"{{mock}}\"\napi_key = \"keychain:{name}\"\n\n[aliases.a]\ntargets = [\"cloud/m\"]\n"
        ))
        .start()
        .await;
    let listed = switchboard_gateway::admin::list_keys(&h.gateway.snapshot().config);
    assert_eq!((listed[0].location, listed[0].present), ("keychain", true));
    let (gateway, mock, url) = (&h.gateway, h.mock(), h.url("/v1/chat/completions"));
    let http = h.http.clone();
    let body = json!({"model": "a", "messages": [{"role": "user", "content": "hi"}]});

    assert_eq!(
        http.post(&url).json(&body).send().await.unwrap().status(),
        200
    );
    gateway
        .admin()
        .set_key(&name, Secret::new("sk-from-keychain-2".into()))
        .await
        .unwrap();
    assert_eq!(
        http.post(&url).json(&body).send().await.unwrap().status(),
        200
    );
    let auth: Vec<String> = mock
        .received()
        .iter()
        .map(|r| r.headers["authorization"].to_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        auth,
        vec!["Bearer sk-from-keychain-1", "Bearer sk-from-keychain-2"]
    );
    // The admin API never shows the value.
    let keys = serde_json::to_string(&gateway.admin().keys().await).unwrap();
    assert!(keys.contains(&name) && !keys.contains("sk-from-keychain"));

    gateway.admin().delete_key(&name).await.unwrap();
    h.stop_within(Duration::from_secs(1)).await;
}
