//! Any bytes into the QR and barcode parsers.
#![no_main]
use einvoice_core::proof::{ItemEncoding, parse_barcode, parse_items, parse_left_qr, parse_right_qr};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(left) = parse_left_qr(data) {
        let _ = parse_items(&left.item_run);
    }
    let _ = parse_right_qr(data, ItemEncoding::Big5);
    let _ = parse_right_qr(data, ItemEncoding::Base64);
    let _ = parse_barcode(&String::from_utf8_lossy(data));
});
