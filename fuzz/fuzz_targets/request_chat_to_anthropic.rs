#![no_main]
libfuzzer_sys::fuzz_target!(
    |data: &[u8]| switchboard_fuzz::targets::request_chat_to_anthropic(data)
);
