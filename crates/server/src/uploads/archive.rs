//! The upload archive: a ZIP of MIG 4.1 XML files, read with limits.
//!
//! [`read_archive`] is pure (bytes in, files out, no I/O) so that a fuzz
//! target can call it. Nothing in the archive's headers is trusted alone:
//! the declared sizes refuse an obvious bomb before any inflating, and every
//! entry is then inflated through a cap (its own limit, the total left, its
//! compression ratio), so an entry that lies about its size is stopped after
//! at most one byte past a limit.

use std::io::{Cursor, Read};
use zip::CompressionMethod;

/// What an upload archive may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ArchiveLimits {
    /// Most entries (files) in one archive (`UPLOAD_TOO_MANY_ENTRIES`).
    pub max_entries: usize,
    /// Largest uncompressed file, bytes (`UPLOAD_ENTRY_TOO_LARGE`).
    pub max_entry_bytes: u64,
    /// Largest uncompressed sum of all files, bytes (`UPLOAD_TOO_LARGE`).
    pub max_total_bytes: u64,
    /// Largest ratio of a file's uncompressed to compressed size
    /// (`UPLOAD_ZIP_BOMB`), checked once a file passes [`RATIO_GRACE_BYTES`].
    pub max_ratio: u64,
}

/// Uncompressed bytes of one file allowed before its ratio is checked (a
/// small, very regular file may compress far better than [`ArchiveLimits::max_ratio`]).
pub const RATIO_GRACE_BYTES: u64 = 64 * 1024;

/// Longest file name in an archive, bytes.
pub const MAX_NAME_BYTES: usize = 255;

impl Default for ArchiveLimits {
    fn default() -> Self {
        Self {
            max_entries: 1000,
            max_entry_bytes: 8 * 1024 * 1024,
            max_total_bytes: 64 * 1024 * 1024,
            max_ratio: 200,
        }
    }
}

/// One file of an accepted archive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchiveFile {
    /// Its name in the archive (a plain file name ending in `.xml`).
    pub name: String,
    /// Its uncompressed content.
    pub bytes: Vec<u8>,
}

/// Why an upload archive was refused; [`UploadError::code`] is the stable code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UploadError {
    /// Not a ZIP archive, or its directory is damaged.
    #[error("the upload is not a readable ZIP archive: {0}")]
    NotZip(String),
    /// The archive holds no file.
    #[error("the archive holds no file: put the MIG XML files in it")]
    Empty,
    /// More entries than [`ArchiveLimits::max_entries`].
    #[error("the archive has {count} entries: at most {max} are accepted; split it")]
    TooManyEntries {
        /// Entries in the archive.
        count: usize,
        /// The limit.
        max: usize,
    },
    /// A file larger than [`ArchiveLimits::max_entry_bytes`] uncompressed.
    #[error("{name}: larger than {max} bytes uncompressed")]
    EntryTooLarge {
        /// The entry's name.
        name: String,
        /// The limit.
        max: u64,
    },
    /// All files together larger than [`ArchiveLimits::max_total_bytes`].
    #[error("the files add up to more than {max} bytes uncompressed; split the archive")]
    TooLarge {
        /// The limit.
        max: u64,
    },
    /// A file inflating far beyond its compressed size (a zip bomb), or
    /// entries sharing their compressed data.
    #[error("{name}: inflates more than {max_ratio} times its compressed size (zip bomb)")]
    ZipBomb {
        /// The entry's name.
        name: String,
        /// The limit.
        max_ratio: u64,
    },
    /// A name that could leave a folder or is not portable: absolute, `..`,
    /// backslashes, drive letters, control characters, too long, not UTF-8.
    #[error("entry name {name:?} is not a safe file name")]
    UnsafeName {
        /// The name as read (lossy).
        name: String,
    },
    /// A folder entry, or a file inside a folder: archives are flat.
    #[error("{name}: folders are not accepted; put the XML files at the top of the archive")]
    Directory {
        /// The entry's name.
        name: String,
    },
    /// A symbolic link or another special entry.
    #[error("{name}: only regular files are accepted")]
    NotFile {
        /// The entry's name.
        name: String,
    },
    /// A file whose name does not end in `.xml`.
    #[error("{name}: only .xml files (MIG 4.1) are accepted")]
    NotXml {
        /// The entry's name.
        name: String,
    },
    /// Two entries with the same name.
    #[error("a file name appears twice in the archive")]
    DuplicateName,
    /// An encrypted entry (it could not be scanned).
    #[error("{name}: encrypted entries are not accepted")]
    Encrypted {
        /// The entry's name.
        name: String,
    },
    /// A compression method other than stored or deflate.
    #[error("{name}: compression method {method} is not accepted (use deflate or stored)")]
    Compression {
        /// The entry's name.
        name: String,
        /// The method, as the zip crate names it.
        method: String,
    },
    /// A file's data cannot be read (bad checksum, truncated, corrupt deflate).
    #[error("{name}: cannot be read: {detail}")]
    Corrupt {
        /// The entry's name.
        name: String,
        /// What failed.
        detail: String,
    },
}

impl UploadError {
    /// The stable problem code.
    pub fn code(&self) -> &'static str {
        match self {
            UploadError::NotZip(_) => "UPLOAD_NOT_ZIP",
            UploadError::Empty => "UPLOAD_EMPTY",
            UploadError::TooManyEntries { .. } => "UPLOAD_TOO_MANY_ENTRIES",
            UploadError::EntryTooLarge { .. } => "UPLOAD_ENTRY_TOO_LARGE",
            UploadError::TooLarge { .. } => "UPLOAD_TOO_LARGE",
            UploadError::ZipBomb { .. } => "UPLOAD_ZIP_BOMB",
            UploadError::UnsafeName { .. } => "UPLOAD_UNSAFE_NAME",
            UploadError::Directory { .. } => "UPLOAD_DIRECTORY",
            UploadError::NotFile { .. } => "UPLOAD_NOT_FILE",
            UploadError::NotXml { .. } => "UPLOAD_NOT_XML",
            UploadError::DuplicateName => "UPLOAD_DUPLICATE_NAME",
            UploadError::Encrypted { .. } => "UPLOAD_ENCRYPTED",
            UploadError::Compression { .. } => "UPLOAD_COMPRESSION",
            UploadError::Corrupt { .. } => "UPLOAD_CORRUPT",
        }
    }

    /// Whether the refusal is about size (HTTP 413) rather than content (422/400).
    pub fn is_size(&self) -> bool {
        matches!(
            self,
            UploadError::TooManyEntries { .. }
                | UploadError::EntryTooLarge { .. }
                | UploadError::TooLarge { .. }
                | UploadError::ZipBomb { .. }
        )
    }
}

/// Check an entry's raw name: a plain, portable file name ending in `.xml`.
fn check_name(raw: &[u8], is_dir: bool) -> Result<String, UploadError> {
    let lossy = || {
        String::from_utf8_lossy(raw)
            .chars()
            .take(MAX_NAME_BYTES)
            .collect()
    };
    let name = std::str::from_utf8(raw).map_err(|_| UploadError::UnsafeName { name: lossy() })?;
    let unsafe_name = || UploadError::UnsafeName { name: lossy() };
    if name.is_empty()
        || name.len() > MAX_NAME_BYTES
        || name.starts_with('/')
        || name.contains('\\')
        || name.contains(':')
        || name.chars().any(char::is_control)
        || name.split('/').any(|c| c == ".." || c == ".")
    {
        return Err(unsafe_name());
    }
    if is_dir || name.contains('/') {
        return Err(UploadError::Directory { name: name.into() });
    }
    let xml = name.len() > 4
        && name
            .get(name.len() - 4..)
            .is_some_and(|ext| ext.eq_ignore_ascii_case(".xml"));
    if !xml {
        return Err(UploadError::NotXml { name: name.into() });
    }
    Ok(name.to_string())
}

/// Read every file of a ZIP upload under `limits`.
///
/// Refuses (with [`UploadError`]): an archive that is not ZIP, empty, has
/// too many entries, holds folders, links, unsafe or duplicate names,
/// anything but `.xml` files, encryption, methods other than stored and
/// deflate, files or a total beyond the size limits, or a file inflating
/// beyond the ratio limit. Pure: no I/O, memory bounded by the limits.
pub fn read_archive(bytes: &[u8], limits: &ArchiveLimits) -> Result<Vec<ArchiveFile>, UploadError> {
    let mut zip =
        zip::ZipArchive::new(Cursor::new(bytes)).map_err(|e| UploadError::NotZip(e.to_string()))?;
    let count = zip.len();
    if count == 0 {
        return Err(UploadError::Empty);
    }
    if count > limits.max_entries {
        return Err(UploadError::TooManyEntries {
            count,
            max: limits.max_entries,
        });
    }
    if zip.has_duplicate_names() {
        return Err(UploadError::DuplicateName);
    }
    // First pass, headers only: refuse what is plainly wrong before inflating anything.
    let mut declared_total: u64 = 0;
    for i in 0..count {
        let entry = zip
            .by_index_raw(i)
            .map_err(|e| UploadError::NotZip(e.to_string()))?;
        let name = check_name(entry.name_raw(), entry.is_dir())?;
        if entry.is_symlink() || !entry.is_file() {
            return Err(UploadError::NotFile { name });
        }
        if entry.encrypted() {
            return Err(UploadError::Encrypted { name });
        }
        match entry.compression() {
            CompressionMethod::Stored | CompressionMethod::Deflated => {}
            other => {
                return Err(UploadError::Compression {
                    name,
                    method: format!("{other:?}"),
                });
            }
        }
        if entry.size() > limits.max_entry_bytes {
            return Err(UploadError::EntryTooLarge {
                name,
                max: limits.max_entry_bytes,
            });
        }
        declared_total = declared_total.saturating_add(entry.size());
        if declared_total > limits.max_total_bytes {
            return Err(UploadError::TooLarge {
                max: limits.max_total_bytes,
            });
        }
    }
    // Second pass: inflate each file through the caps, whatever its header said.
    let mut files = Vec::with_capacity(count);
    let mut total: u64 = 0;
    for i in 0..count {
        let entry = zip
            .by_index(i)
            .map_err(|e| UploadError::NotZip(e.to_string()))?;
        let name = check_name(entry.name_raw(), entry.is_dir())?;
        // The compressed data cannot be larger than the upload itself.
        let compressed = entry.compressed_size().clamp(1, bytes.len().max(1) as u64);
        let ratio_cap = compressed
            .saturating_mul(limits.max_ratio)
            .max(RATIO_GRACE_BYTES);
        let left = limits.max_total_bytes.saturating_sub(total);
        let cap = limits.max_entry_bytes.min(left).min(ratio_cap);
        let mut out = Vec::with_capacity(entry.size().min(cap) as usize);
        entry
            .take(cap.saturating_add(1))
            .read_to_end(&mut out)
            .map_err(|e| UploadError::Corrupt {
                name: name.clone(),
                detail: e.to_string(),
            })?;
        let n = out.len() as u64;
        if n > cap {
            return Err(if n > ratio_cap {
                UploadError::ZipBomb {
                    name,
                    max_ratio: limits.max_ratio,
                }
            } else if n > limits.max_entry_bytes {
                UploadError::EntryTooLarge {
                    name,
                    max: limits.max_entry_bytes,
                }
            } else {
                UploadError::TooLarge {
                    max: limits.max_total_bytes,
                }
            });
        }
        total += n;
        files.push(ArchiveFile { name, bytes: out });
    }
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use zip::write::SimpleFileOptions;

    /// A deflated archive of `(name, content)` files.
    pub(crate) fn zip_of(files: &[(&str, &[u8])]) -> Vec<u8> {
        let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
        let opts = SimpleFileOptions::default().compression_method(CompressionMethod::Deflated);
        for (name, content) in files {
            w.start_file(*name, opts).expect("start");
            w.write_all(content).expect("write");
        }
        w.finish().expect("finish").into_inner()
    }

    fn code(bytes: &[u8], limits: &ArchiveLimits) -> &'static str {
        match read_archive(bytes, limits) {
            Ok(_) => "OK",
            Err(e) => e.code(),
        }
    }

    #[test]
    fn reads_flat_xml_files_in_order() {
        let z = zip_of(&[("a.xml", b"<a/>"), ("B.XML", b"<b/>")]);
        let files = read_archive(&z, &ArchiveLimits::default()).expect("read");
        assert_eq!(
            files,
            vec![
                ArchiveFile {
                    name: "a.xml".into(),
                    bytes: b"<a/>".to_vec()
                },
                ArchiveFile {
                    name: "B.XML".into(),
                    bytes: b"<b/>".to_vec()
                },
            ]
        );
    }

    #[test]
    fn refuses_names_folders_and_types() {
        let l = ArchiveLimits::default();
        for (name, want) in [
            ("../evil.xml", "UPLOAD_UNSAFE_NAME"),
            ("a/../../evil.xml", "UPLOAD_UNSAFE_NAME"),
            ("/etc/evil.xml", "UPLOAD_UNSAFE_NAME"),
            ("..\\evil.xml", "UPLOAD_UNSAFE_NAME"),
            ("C:evil.xml", "UPLOAD_UNSAFE_NAME"),
            ("a\u{7}.xml", "UPLOAD_UNSAFE_NAME"),
            ("sub/a.xml", "UPLOAD_DIRECTORY"),
            ("a.txt", "UPLOAD_NOT_XML"),
            (".xml", "UPLOAD_NOT_XML"),
            ("a.xml.exe", "UPLOAD_NOT_XML"),
        ] {
            assert_eq!(code(&zip_of(&[(name, b"<a/>")]), &l), want, "{name}");
        }
        // The writer refuses a second "a.xml": rename "b.xml" in the bytes.
        let mut dup = zip_of(&[("a.xml", b"1"), ("b.xml", b"2")]);
        for i in 0..dup.len() - 5 {
            if &dup[i..i + 5] == b"b.xml" {
                dup[i] = b'a';
            }
        }
        assert_eq!(code(&dup, &l), "UPLOAD_DUPLICATE_NAME");
        let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
        w.add_directory("d/", SimpleFileOptions::default())
            .expect("dir");
        assert_eq!(
            code(&w.finish().expect("finish").into_inner(), &l),
            "UPLOAD_DIRECTORY"
        );
        assert_eq!(code(&zip_of(&[]), &l), "UPLOAD_EMPTY");
        assert_eq!(code(b"not a zip at all", &l), "UPLOAD_NOT_ZIP");
    }

    #[test]
    fn counts_and_sizes() {
        let l = ArchiveLimits {
            max_entries: 2,
            max_entry_bytes: 1000,
            max_total_bytes: 1500,
            max_ratio: 200,
        };
        let x = [b'x'; 800];
        assert_eq!(
            code(
                &zip_of(&[("a.xml", b"1"), ("b.xml", b"2"), ("c.xml", b"3")]),
                &l
            ),
            "UPLOAD_TOO_MANY_ENTRIES"
        );
        assert_eq!(
            code(&zip_of(&[("a.xml", &[b'x'; 1001])]), &l),
            "UPLOAD_ENTRY_TOO_LARGE"
        );
        assert_eq!(
            code(&zip_of(&[("a.xml", &x), ("b.xml", &x)]), &l),
            "UPLOAD_TOO_LARGE"
        );
        assert_eq!(
            code(&zip_of(&[("a.xml", &x), ("b.xml", &x[..700])]), &l),
            "OK"
        );
    }

    /// Patch every copy of `from` (the declared uncompressed size, little
    /// endian) in the local and central headers to `to`.
    fn lie_about_size(z: &mut [u8], from: u32, to: u32) -> usize {
        let (f, t) = (from.to_le_bytes(), to.to_le_bytes());
        let mut n = 0;
        for i in 0..z.len().saturating_sub(4) {
            if z[i..i + 4] == f {
                z[i..i + 4].copy_from_slice(&t);
                n += 1;
            }
        }
        n
    }

    #[test]
    fn a_zip_bomb_is_stopped_while_inflating_whatever_its_header_says() {
        let l = ArchiveLimits::default();
        let big = vec![b' '; 4 * 1024 * 1024];
        let honest = zip_of(&[("bomb.xml", &big)]);
        assert!(honest.len() < 10 * 1024, "{} bytes", honest.len());
        assert_eq!(code(&honest, &l), "UPLOAD_ZIP_BOMB");
        // The same bomb declaring 100 bytes: the first pass believes it, the
        // inflating cap does not.
        let mut liar = honest.clone();
        assert_eq!(lie_about_size(&mut liar, big.len() as u32, 100), 2);
        // The zip reader also holds an entry to its declared size: a liar
        // is refused as corrupt as soon as it passes it.
        let e = read_archive(&liar, &l).expect_err("refused");
        assert_eq!(e.code(), "UPLOAD_CORRUPT");
        assert!(e.to_string().contains("declared"), "{e}");
        // Declared past the per-file limit: refused from the header alone.
        let l2 = ArchiveLimits {
            max_entry_bytes: 100 * 1024,
            max_ratio: 100_000,
            ..l
        };
        assert_eq!(
            code(&zip_of(&[("a.xml", &big[..200 * 1024])]), &l2),
            "UPLOAD_ENTRY_TOO_LARGE"
        );
        // A small, very regular file is within the grace.
        assert_eq!(code(&zip_of(&[("a.xml", &big[..60 * 1024])]), &l), "OK");
    }
}
