//! Proof codes (證明聯): 1D barcode, left/right QR code texts, the AES verification
//! field and MOF's QR key derivation, with parsers for all of them.
