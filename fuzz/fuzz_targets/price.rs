#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| drgdip::fuzz_entry::price(data));
