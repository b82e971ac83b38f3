//! Any bytes into the XML decoder, then validation of whatever decodes.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = einvoice_mig::decode_xml(data) {
        let _ = einvoice_core::validate(&m, &einvoice_core::Rules::sandbox());
        let again = einvoice_mig::decode_xml(&einvoice_mig::encode_xml(&m));
        assert_eq!(again.ok().as_ref(), Some(&m), "XML re-encode must round-trip");
    }
});
