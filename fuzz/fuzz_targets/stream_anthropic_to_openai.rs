#![no_main]
libfuzzer_sys::fuzz_target!(
    |data: &[u8]| switchboard_fuzz::targets::stream_anthropic_to_openai(data)
);
