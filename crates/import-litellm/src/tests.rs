use super::*;

#[test]
fn provider_names_are_readable() {
    let openai = &COMPATIBLE[0];
    let vllm = COMPATIBLE.iter().find(|c| c.prefix == "hosted_vllm");
    assert_eq!(
        provider_name_hint(openai, "http://armitage:8000/v1", false),
        "armitage-8000"
    );
    assert_eq!(
        provider_name_hint(openai, "https://api.together.xyz/v1", false),
        "together"
    );
    assert_eq!(
        provider_name_hint(openai, "http://192.168.1.20:8080/v1", false),
        "192-168-1-20-8080"
    );
    assert_eq!(
        provider_name_hint(openai, "http://localhost:8000/v1", false),
        "localhost-8000"
    );
    if let Some(vllm) = vllm {
        assert_eq!(
            provider_name_hint(vllm, "http://127.0.0.1:8000/v1", false),
            "vllm"
        );
    }
    assert_eq!(sanitize_name("a/b c"), "a-b-c");
    assert_eq!(sanitize_name("///"), "provider");
}

#[test]
fn urls_lose_credentials_and_queries() {
    assert_eq!(
        clean_url("http://user:pw@host:8000/v1/?key=1"),
        Some(("http://host:8000/v1".to_owned(), true))
    );
    assert_eq!(
        clean_url("http://host:8000/v1/"),
        Some(("http://host:8000/v1".to_owned(), false))
    );
    assert_eq!(clean_url("ftp://host"), None);
    assert_eq!(clean_url("not a url"), None);
}

#[test]
fn yaml_errors_carry_a_position() {
    let err = import_litellm("model_list:\n  - model_name: [unclosed\n").err();
    match err {
        Some(ImportError::Yaml {
            line: Some(line), ..
        }) => assert!(line >= 2, "line {line}"),
        other => panic!("expected a YAML error with a line, got {other:?}"),
    }
}
