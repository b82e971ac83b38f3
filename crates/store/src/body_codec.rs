//! How a store keeps ledger bodies compactly: zstd with a dictionary trained
//! on the store's own bodies (issue 15). The ledger stays the truth: an
//! entry's hash and body digest are over the canonical bytes, and every
//! reader (verify, export, sync, the invoice views) gets those bytes back
//! through [`BodyDict::decompress`], so the codec is invisible above a
//! backend.
//!
//! A stored body carries its codec beside it: [`CODEC_RAW`] (the canonical
//! bytes as they are: bodies written before a dictionary existed, empty
//! withheld bodies, and bodies the dictionary would not shrink) or the id of
//! the dictionary it was compressed with. Dictionaries are immutable once
//! stored, so a cache keyed by their id never goes stale.

use crate::error::StoreError;
use std::sync::Mutex;

/// Codec of a body stored as its canonical bytes.
pub const CODEC_RAW: i64 = 0;

/// zstd level used for bodies: with a dictionary, higher levels gain a few
/// percent at several times the cost, and seeding speed matters as much.
pub const LEVEL: i32 = 3;

/// Largest dictionary [`train`] makes: invoices share their structure and
/// vocabulary, which a few KiB capture; a larger one only costs memory.
pub const DICT_MAX_BYTES: usize = 16 * 1024;

/// Fewest samples [`train`] accepts: fewer give a dictionary that fits
/// those bodies rather than the site's traffic.
pub const MIN_SAMPLES: usize = 500;

/// Largest canonical body a stored frame may claim to decompress to; the
/// request limits keep real bodies far below it. A claim above it is
/// [`StoreError::Corrupt`] rather than an allocation of that size.
pub const MAX_BODY_BYTES: usize = 8 * 1024 * 1024;

/// A trained dictionary, ready to compress and decompress bodies.
pub struct BodyDict {
    id: i64,
    bytes: Vec<u8>,
    compressor: Mutex<zstd::bulk::Compressor<'static>>,
    decompressor: Mutex<zstd::bulk::Decompressor<'static>>,
}

impl std::fmt::Debug for BodyDict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BodyDict")
            .field("id", &self.id)
            .field("bytes", &self.bytes.len())
            .finish()
    }
}

fn codec_error(what: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("stored body codec: {what}: {e}"))
}

impl BodyDict {
    /// A dictionary stored under `id` (positive; [`CODEC_RAW`] is no
    /// dictionary) with its bytes as [`train`] made them.
    pub fn new(id: i64, bytes: Vec<u8>) -> Result<Self, StoreError> {
        if id <= CODEC_RAW {
            return Err(StoreError::Corrupt(format!(
                "body dictionary id {id} is not positive"
            )));
        }
        let compressor = zstd::bulk::Compressor::with_dictionary(LEVEL, &bytes)
            .map_err(|e| codec_error("dictionary does not load", e))?;
        let decompressor = zstd::bulk::Decompressor::with_dictionary(&bytes)
            .map_err(|e| codec_error("dictionary does not load", e))?;
        Ok(Self {
            id,
            bytes,
            compressor: Mutex::new(compressor),
            decompressor: Mutex::new(decompressor),
        })
    }

    /// The id bodies compressed with this dictionary are stored under.
    pub fn id(&self) -> i64 {
        self.id
    }

    /// The dictionary's bytes (what a backend stores).
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// `body` compressed with this dictionary (one zstd frame that records
    /// the canonical length).
    pub fn compress(&self, body: &[u8]) -> Result<Vec<u8>, StoreError> {
        let mut c = self
            .compressor
            .lock()
            .map_err(|_| StoreError::Backend("body compressor lock poisoned".into()))?;
        c.compress(body)
            .map_err(|e| StoreError::Backend(format!("compressing a body: {e}")))
    }

    /// The canonical bytes of a frame made by [`BodyDict::compress`]. A frame
    /// that does not decode with this dictionary, or that claims more than
    /// [`MAX_BODY_BYTES`], is [`StoreError::Corrupt`].
    pub fn decompress(&self, stored: &[u8]) -> Result<Vec<u8>, StoreError> {
        let size = match zstd::zstd_safe::get_frame_content_size(stored) {
            Ok(Some(n)) => usize::try_from(n).unwrap_or(usize::MAX),
            Ok(None) => return Err(codec_error("frame", "no content size")),
            Err(e) => return Err(codec_error("frame", format!("{e:?}"))),
        };
        if size > MAX_BODY_BYTES {
            return Err(codec_error(
                "frame",
                format!("claims {size} bytes, above {MAX_BODY_BYTES}"),
            ));
        }
        let mut d = self
            .decompressor
            .lock()
            .map_err(|_| StoreError::Backend("body decompressor lock poisoned".into()))?;
        let out = d
            .decompress(stored, size)
            .map_err(|e| codec_error("frame does not decode", e))?;
        if out.len() != size {
            return Err(codec_error(
                "frame",
                format!("decoded {} bytes, header says {size}", out.len()),
            ));
        }
        Ok(out)
    }
}

/// What to store for a canonical body: `(bytes, codec)`. Bodies are
/// compressed with `dict` when there is one and it makes them smaller;
/// otherwise (and always for an empty, withheld body) they stay raw.
pub fn pack(dict: Option<&BodyDict>, body: &[u8]) -> Result<(Vec<u8>, i64), StoreError> {
    if let Some(d) = dict.filter(|_| !body.is_empty()) {
        let packed = d.compress(body)?;
        if packed.len() < body.len() {
            return Ok((packed, d.id()));
        }
    }
    Ok((body.to_vec(), CODEC_RAW))
}

/// The canonical bytes of a stored body: `stored` itself for [`CODEC_RAW`],
/// else decompressed with `dict`, which must be the dictionary `codec`
/// names (a backend looks it up by id).
pub fn unpack(dict: Option<&BodyDict>, stored: Vec<u8>, codec: i64) -> Result<Vec<u8>, StoreError> {
    if codec == CODEC_RAW {
        return Ok(stored);
    }
    match dict {
        Some(d) if d.id() == codec => d.decompress(&stored),
        _ => Err(StoreError::Corrupt(format!(
            "stored body names dictionary {codec}, which the store does not hold"
        ))),
    }
}

/// A dictionary trained on `samples` (canonical bodies of this store),
/// at most [`DICT_MAX_BYTES`]. Fewer than [`MIN_SAMPLES`] non-empty samples
/// is an error: the caller waits for more bodies.
pub fn train(samples: &[Vec<u8>]) -> Result<Vec<u8>, StoreError> {
    let samples: Vec<&[u8]> = samples
        .iter()
        .map(Vec::as_slice)
        .filter(|s| !s.is_empty())
        .collect();
    if samples.len() < MIN_SAMPLES {
        return Err(StoreError::Backend(format!(
            "a body dictionary needs {MIN_SAMPLES} samples, {} given",
            samples.len()
        )));
    }
    let sizes: Vec<usize> = samples.iter().map(|s| s.len()).collect();
    let joined: Vec<u8> = samples.concat();
    zstd::dict::from_continuous(&joined, &sizes, DICT_MAX_BYTES)
        .map_err(|e| StoreError::Backend(format!("training a body dictionary: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::sync::LazyLock;

    /// Invoice-like canonical bodies: the shape the dictionary is for.
    fn sample(i: usize) -> Vec<u8> {
        let items: Vec<_> = (0..5)
            .map(|k| {
                serde_json::json!({
                    "Amount": (i * 7 + k * 13) % 900, "Description": format!("item {k} of {i}"),
                    "Quantity": 1 + k, "SequenceNumber": format!("{k}"), "UnitPrice": (i + k) % 300
                })
            })
            .collect();
        serde_json::to_vec(&serde_json::json!({
            "Amount": {"SalesAmount": i % 5000, "TaxAmount": 0, "TaxType": "1", "TotalAmount": i % 5000},
            "Details": items,
            "Main": {"InvoiceDate": "20261115", "InvoiceNumber": format!("AB{:08}", i),
                     "Seller": {"Address": "臺北市中正區", "Identifier": "24549210", "Name": format!("店 {}", i % 200)}},
            "message": "F0401"
        }))
        .unwrap_or_default()
    }

    static DICT: LazyLock<BodyDict> = LazyLock::new(|| {
        let samples: Vec<Vec<u8>> = (0..1000).map(sample).collect();
        let bytes = train(&samples).expect("training on 1000 samples");
        BodyDict::new(1, bytes).expect("a trained dictionary loads")
    });

    proptest! {
        #[test]
        fn any_body_round_trips(body in proptest::collection::vec(any::<u8>(), 0..4000)) {
            let (stored, codec) = pack(Some(&DICT), &body)?;
            prop_assert_eq!(unpack(Some(&DICT), stored, codec)?, body);
        }

        #[test]
        fn invoice_bodies_round_trip_and_shrink(i in 0usize..1_000_000) {
            let body = sample(i);
            let (stored, codec) = pack(Some(&DICT), &body)?;
            prop_assert_eq!(codec, 1);
            prop_assert!(stored.len() * 3 < body.len(), "{} -> {}", body.len(), stored.len());
            prop_assert_eq!(unpack(Some(&DICT), stored, codec)?, body);
        }

        #[test]
        fn garbage_frames_are_corrupt_never_a_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            match unpack(Some(&DICT), bytes, 1) {
                Ok(_) | Err(StoreError::Corrupt(_)) => {}
                Err(e) => prop_assert!(false, "{e}"),
            }
        }
    }

    #[test]
    fn without_a_dictionary_bodies_stay_raw() {
        let body = sample(3);
        let (stored, codec) = pack(None, &body).expect("raw");
        assert_eq!((stored.as_slice(), codec), (body.as_slice(), CODEC_RAW));
        assert_eq!(
            pack(Some(&DICT), b"").expect("empty"),
            (Vec::new(), CODEC_RAW)
        );
    }

    #[test]
    fn a_frame_of_another_dictionary_is_corrupt() {
        let (stored, _) = pack(Some(&DICT), &sample(9)).expect("packed");
        assert!(matches!(
            unpack(Some(&DICT), stored.clone(), 2),
            Err(StoreError::Corrupt(_))
        ));
        assert!(matches!(
            unpack(None, stored, 1),
            Err(StoreError::Corrupt(_))
        ));
    }

    #[test]
    fn a_frame_claiming_a_huge_body_is_refused_before_allocating() {
        // A zstd frame header: magic, descriptor with an 8-byte content size.
        let mut frame = vec![0x28, 0xB5, 0x2F, 0xFD, 0xC0];
        frame.extend_from_slice(&(1u64 << 40).to_le_bytes());
        frame.extend_from_slice(&[0, 0, 0]);
        assert!(matches!(
            unpack(Some(&DICT), frame, 1),
            Err(StoreError::Corrupt(_))
        ));
    }

    #[test]
    fn too_few_samples_train_nothing() {
        assert!(train(&[sample(1), sample(2)]).is_err());
    }
}
