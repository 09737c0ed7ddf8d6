#![no_main]
libfuzzer_sys::fuzz_target!(
    |data: &[u8]| switchboard_fuzz::targets::request_anthropic_to_chat(data)
);
