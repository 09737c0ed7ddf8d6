//! Proxied requests that succeed: what the client gets back and what the backend receives.

use serde_json::{json, Value};

use crate::support::{chat_body, header, Failure, Gw};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chat_is_proxied_with_only_the_model_rewritten() {
    let gw = Gw::start("").await;
    let sent = json!({
        "model": "local/chat",
        "messages": [
            {"role": "system", "content": "You are terse."},
            {"role": "user", "content": [{"type": "text", "text": "What's the weather in Paris?"}]}
        ],
        "tools": [{"type": "function", "function": {
            "name": "get_weather",
            "description": "Current weather",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
        }}],
        "tool_choice": "auto",
        "response_format": {"type": "json_object"},
        "seed": 1234,
        "temperature": 0.25,
        "max_tokens": 77,
        "logit_bias": {"50256": -100},
        "x_vendor_extension": {"nested": {"deep": [1, "two", null, true, {"k": 1.5e-3}]}, "empty": {}},
        "unicode": "héllo ☃ 𝄞",
    });
    let response = gw.chat(&sent).await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        header(response.headers(), "x-switchboard-alias"),
        Some("local/chat")
    );
    assert_eq!(
        header(response.headers(), "x-switchboard-target"),
        Some("mock/some-model")
    );
    assert!(header(response.headers(), "content-type")
        .unwrap_or_default()
        .starts_with("application/json"));
    let body: Value = response.json().await.unwrap();

    let mut expected_upstream = sent.clone();
    expected_upstream["model"] = json!("some-model");

    // The mock's own answer comes back as it was sent (it echoes what it received).
    assert_eq!(body["id"], "chatcmpl-mock");
    assert_eq!(body["object"], "chat.completion");
    assert_eq!(body["model"], "some-model");
    assert_eq!(body["choices"][0]["message"]["content"], "x".repeat(64));
    assert_eq!(body["usage"]["total_tokens"], 18);
    assert_eq!(body["echo"], expected_upstream);

    // The backend got exactly the client's body with `model` rewritten, nothing else touched.
    let received = gw.mock().received();
    assert_eq!(received.len(), 1, "{received:?}");
    assert_eq!(received[0].path, "/v1/chat/completions");
    assert_eq!(received[0].body, expected_upstream);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn completions_and_embeddings_are_proxied() {
    let gw = Gw::start("").await;

    let completion = json!({"model": "local/chat", "prompt": "Once upon", "max_tokens": 5, "echo": false, "suffix": "end"});
    let response = gw.post("/v1/completions", &completion).await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        header(response.headers(), "x-switchboard-target"),
        Some("mock/some-model")
    );
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["object"], "text_completion");
    assert_eq!(body["choices"][0]["text"], "mock completion");
    assert_eq!(body["model"], "some-model");

    let embedding = json!({"model": "local/chat", "input": ["first", "second"], "dimensions": 3, "encoding_format": "float"});
    let response = gw.post("/v1/embeddings", &embedding).await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["object"], "list");
    assert_eq!(body["data"][0]["embedding"], json!([0.1, 0.2, 0.3]));

    let received = gw.mock().received();
    let paths: Vec<&str> = received.iter().map(|r| r.path.as_str()).collect();
    assert_eq!(paths, ["/v1/completions", "/v1/embeddings"]);
    let mut expected = completion;
    expected["model"] = json!("some-model");
    assert_eq!(received[0].body, expected);
    let mut expected = embedding;
    expected["model"] = json!("some-model");
    assert_eq!(received[1].body, expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paths_without_the_v1_prefix_work() {
    let gw = Gw::start("").await;
    let response = gw.post("/chat/completions", &chat_body("local/chat")).await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["object"], "chat.completion");

    let response = gw
        .post(
            "/completions",
            &json!({"model": "local/chat", "prompt": "x"}),
        )
        .await;
    assert_eq!(response.status(), 200);
    let response = gw
        .post("/embeddings", &json!({"model": "local/chat", "input": "x"}))
        .await;
    assert_eq!(response.status(), 200);

    let response = gw.get("/models").await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["data"][0]["id"], "local/chat");
    let response = gw.get("/models/local/chat").await;
    assert_eq!(response.status(), 200);

    let paths: Vec<String> = gw.mock().received().into_iter().map(|r| r.path).collect();
    assert_eq!(
        paths,
        ["/v1/chat/completions", "/v1/completions", "/v1/embeddings"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn models_lists_the_aliases_in_openai_shape() {
    let gw = Gw::start(
        r#"
[aliases.embed]
targets = ["mock/embedder"]

[aliases."team/strong"]
targets = ["mock/big"]
fallbacks = ["local/chat"]
"#,
    )
    .await;
    let response = gw.get("/v1/models").await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["object"], "list");
    let data = body["data"].as_array().expect("data is a list");
    let mut ids: Vec<&str> = data.iter().filter_map(|m| m["id"].as_str()).collect();
    ids.sort_unstable();
    assert_eq!(ids, ["embed", "local/chat", "team/strong"]);
    for model in data {
        assert_eq!(model["object"], "model", "{model}");
        assert!(model["created"].as_u64().is_some(), "{model}");
        assert!(model["owned_by"].as_str().is_some(), "{model}");
    }

    // Alias ids contain '/', and the path still finds them.
    let response = gw.get("/v1/models/local/chat").await;
    assert_eq!(response.status(), 200);
    let model: Value = response.json().await.unwrap();
    assert_eq!(model["id"], "local/chat");
    assert_eq!(model["object"], "model");

    let response = gw.get("/v1/models/team/strong").await;
    assert_eq!(response.status(), 200);
    let model: Value = response.json().await.unwrap();
    assert_eq!(model["id"], "team/strong");

    // Case drift finds the alias under its real name.
    let response = gw.get("/v1/models/Local/Chat").await;
    assert_eq!(response.status(), 200);
    let model: Value = response.json().await.unwrap();
    assert_eq!(model["id"], "local/chat");

    let failure = Failure::read(gw.get("/v1/models/local/chta").await).await;
    failure.assert_envelope(404, "model_not_found");
    assert!(
        failure.message().contains("`local/chat`"),
        "{}",
        failure.text
    );
    // Listing models never calls a backend.
    assert!(gw.mock().received().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn case_drift_is_served_by_the_alias() {
    let gw = Gw::start("").await;
    for requested in ["Local/Chat", "LOCAL/CHAT", "local/Chat"] {
        let response = gw.chat(&chat_body(requested)).await;
        assert_eq!(response.status(), 200, "{requested}");
        assert_eq!(
            header(response.headers(), "x-switchboard-alias"),
            Some("local/chat"),
            "{requested}"
        );
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["model"], "some-model");
    }
    let models: Vec<Value> = gw
        .mock()
        .received()
        .into_iter()
        .map(|r| r.body["model"].clone())
        .collect();
    assert_eq!(models, vec![json!("some-model"); 3]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn provider_headers_reach_the_backend() {
    let gw = Gw::start(
        r#"
[providers.withheaders]
kind = "openai"
base_url = "{mock}"
headers = { "X-Team" = "ml-e2e" }

[aliases.team]
targets = ["withheaders/team-model"]
"#,
    )
    .await;
    let response = gw.chat(&chat_body("team")).await;
    assert_eq!(response.status(), 200);
    let received = gw.mock().received();
    assert_eq!(received.len(), 1);
    assert_eq!(header(&received[0].headers, "x-team"), Some("ml-e2e"));
    assert_eq!(received[0].body["model"], "team-model");
    // No key is configured, so none is sent.
    assert!(received[0].headers.get("authorization").is_none());
}
