#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| switchboard_fuzz::targets::stream_gemini_to_openai(data));
