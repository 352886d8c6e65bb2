//! The snapshot file: one self-describing file per snapshot.
//!
//! ```text
//! magic      8 bytes   "QNXSNAP\n"
//! version    u32 LE    FORMAT_VERSION
//! header_len u32 LE
//! header     JSON      [`Header`]: id, server version, times, trees and their record counts,
//!                      secrets, body length
//! body       zstd      a stream of entries (below), `body_bytes` long
//! checksum   32 bytes  BLAKE3 of every byte before it
//! ```
//!
//! Body entries, decompressed: `T` name(u16 LE len) starts a tree; `R` key(u32 LE len)
//! value(u32 LE len) is one record of the current tree; `S` name(u16) data(u32) is a secret
//! file of the data dir; `E` ends the body. A reader checks that every tree holds the number of
//! records the header says, so a body cut short inside the compressed stream is caught even
//! before the checksum.

use std::io::{Read, Write};
use std::path::Path;

use serde::{Deserialize, Serialize};

pub const MAGIC: &[u8; 8] = b"QNXSNAP\n";
pub const FORMAT_VERSION: u32 = 1;
/// Bytes before the header: magic, version, header length.
pub const PREFIX_LEN: u64 = 16;
pub const CHECKSUM_LEN: u64 = 32;
/// Snapshot files end in this.
pub const EXTENSION: &str = "snap";
/// A header is a few hundred bytes; anything near this is not one.
const MAX_HEADER_LEN: u32 = 1 << 20;
/// Larger than any record the server writes (request bodies are capped far below).
const MAX_VALUE_LEN: u32 = 1 << 30;

const TREE: u8 = b'T';
const RECORD: u8 = b'R';
const SECRET: u8 = b'S';
const END: u8 = b'E';

/// What a snapshot holds, readable without decompressing the body.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Header {
    pub id: String,
    pub server_version: String,
    /// When the copy started (RFC 3339); every write acknowledged before it is in the file.
    pub created_at: String,
    pub created_at_ms: i64,
    pub finished_at_ms: i64,
    pub trees: Vec<TreeCount>,
    /// Secret files of the data dir in the body (`key.salt`, `connector.key`, `master.key`).
    pub secrets: Vec<String>,
    pub compression: String,
    pub body_bytes: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TreeCount {
    pub name: String,
    pub records: u64,
}

/// Why a snapshot cannot be read or written. Every message names the file.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    #[error("{0}: not a qanatix snapshot (the file does not start with the snapshot magic bytes)")]
    NotASnapshot(String),
    #[error(
        "{path}: snapshot format version {found}; this qanatix ({}) reads version {FORMAT_VERSION}",
        env!("CARGO_PKG_VERSION")
    )]
    WrongVersion { path: String, found: u32 },
    #[error("{path}: truncated: {detail}")]
    Truncated { path: String, detail: String },
    #[error("{0}: checksum mismatch: the file was altered or damaged after it was written")]
    Checksum(String),
    #[error("{path}: damaged: {detail}")]
    Damaged { path: String, detail: String },
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("{0}")]
    Store(String),
    #[error("{0}")]
    Refused(String),
}

impl SnapshotError {
    pub fn io(path: &Path, source: std::io::Error) -> Self {
        SnapshotError::Io {
            path: path.display().to_string(),
            source,
        }
    }

    fn damaged(path: &Path, detail: impl Into<String>) -> Self {
        SnapshotError::Damaged {
            path: path.display().to_string(),
            detail: detail.into(),
        }
    }
}

impl From<crate::store::StoreError> for SnapshotError {
    fn from(e: crate::store::StoreError) -> Self {
        SnapshotError::Store(e.to_string())
    }
}

impl From<crate::store::kv::Error> for SnapshotError {
    fn from(e: crate::store::kv::Error) -> Self {
        SnapshotError::Store(format!("storage: {e}"))
    }
}

/// Writes the body's entries.
pub struct BodyWriter<W: Write> {
    out: W,
}

impl<W: Write> BodyWriter<W> {
    pub fn new(out: W) -> Self {
        BodyWriter { out }
    }

    pub fn tree(&mut self, name: &[u8]) -> std::io::Result<()> {
        self.out.write_all(&[TREE])?;
        write_short(&mut self.out, name)
    }

    pub fn record(&mut self, key: &[u8], value: &[u8]) -> std::io::Result<()> {
        self.out.write_all(&[RECORD])?;
        write_long(&mut self.out, key)?;
        write_long(&mut self.out, value)
    }

    pub fn secret(&mut self, name: &str, data: &[u8]) -> std::io::Result<()> {
        self.out.write_all(&[SECRET])?;
        write_short(&mut self.out, name.as_bytes())?;
        write_long(&mut self.out, data)
    }

    /// Writes the end marker and hands back the writer.
    pub fn finish(mut self) -> std::io::Result<W> {
        self.out.write_all(&[END])?;
        Ok(self.out)
    }
}

fn write_short(out: &mut impl Write, bytes: &[u8]) -> std::io::Result<()> {
    let len = u16::try_from(bytes.len())
        .map_err(|_| std::io::Error::other("name longer than 65535 bytes"))?;
    out.write_all(&len.to_le_bytes())?;
    out.write_all(bytes)
}

fn write_long(out: &mut impl Write, bytes: &[u8]) -> std::io::Result<()> {
    let len = u32::try_from(bytes.len())
        .ok()
        .filter(|&l| l <= MAX_VALUE_LEN)
        .ok_or_else(|| std::io::Error::other("record larger than 1 GiB"))?;
    out.write_all(&len.to_le_bytes())?;
    out.write_all(bytes)
}

/// One entry of the body.
#[derive(Debug, PartialEq, Eq)]
pub enum Entry {
    Tree(Vec<u8>),
    Record(Vec<u8>, Vec<u8>),
    Secret(String, Vec<u8>),
    End,
}

/// Reads the body's entries; every error names the file.
pub struct BodyReader<'a, R: Read> {
    input: R,
    path: &'a Path,
}

impl<'a, R: Read> BodyReader<'a, R> {
    pub fn new(input: R, path: &'a Path) -> Self {
        BodyReader { input, path }
    }

    /// The reader, for what follows the body.
    pub fn into_inner(self) -> R {
        self.input
    }

    pub fn next_entry(&mut self) -> Result<Entry, SnapshotError> {
        let mut tag = [0u8; 1];
        self.exact(&mut tag)?;
        Ok(match tag[0] {
            TREE => Entry::Tree(self.bytes(2)?),
            RECORD => Entry::Record(self.bytes(4)?, self.bytes(4)?),
            SECRET => {
                let name = String::from_utf8(self.bytes(2)?).map_err(|_| {
                    SnapshotError::damaged(self.path, "a secret's name is not text")
                })?;
                Entry::Secret(name, self.bytes(4)?)
            }
            END => Entry::End,
            other => {
                return Err(SnapshotError::damaged(
                    self.path,
                    format!("unknown body entry {other:#04x}"),
                ))
            }
        })
    }

    fn exact(&mut self, buf: &mut [u8]) -> Result<(), SnapshotError> {
        self.input.read_exact(buf).map_err(|e| match e.kind() {
            std::io::ErrorKind::UnexpectedEof => SnapshotError::Truncated {
                path: self.path.display().to_string(),
                detail: "the compressed body ends before its end marker".into(),
            },
            _ => SnapshotError::damaged(self.path, format!("body cannot be decompressed: {e}")),
        })
    }

    fn bytes(&mut self, len_bytes: usize) -> Result<Vec<u8>, SnapshotError> {
        let mut len = [0u8; 4];
        self.exact(&mut len[..len_bytes])?;
        let len = u32::from_le_bytes(len);
        if len > MAX_VALUE_LEN {
            return Err(SnapshotError::damaged(
                self.path,
                format!("a record claims {len} bytes"),
            ));
        }
        let mut out = vec![0u8; len as usize];
        self.exact(&mut out)?;
        Ok(out)
    }
}

/// The bytes before the body: magic, version, header length, header.
pub fn encode_prefix(header: &Header) -> Result<Vec<u8>, SnapshotError> {
    let json =
        serde_json::to_vec(header).map_err(|e| SnapshotError::Store(format!("header: {e}")))?;
    let mut out = Vec::with_capacity(PREFIX_LEN as usize + json.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    out.extend_from_slice(&(json.len() as u32).to_le_bytes());
    out.extend_from_slice(&json);
    Ok(out)
}

/// Reads and checks the fixed prefix and the header of an open snapshot file of `file_len`
/// bytes; returns the header and where the body starts. Does not read the body.
pub fn read_header(
    input: &mut impl Read,
    file_len: u64,
    path: &Path,
) -> Result<(Header, u64), SnapshotError> {
    let shown = || path.display().to_string();
    let truncated = |detail: String| SnapshotError::Truncated {
        path: shown(),
        detail,
    };
    if file_len < PREFIX_LEN {
        if !magic_prefix_matches(input, file_len, path)? {
            return Err(SnapshotError::NotASnapshot(shown()));
        }
        return Err(truncated(format!(
            "{file_len} bytes, shorter than a snapshot's fixed header"
        )));
    }
    let mut prefix = [0u8; PREFIX_LEN as usize];
    input
        .read_exact(&mut prefix)
        .map_err(|e| SnapshotError::io(path, e))?;
    if &prefix[..8] != MAGIC {
        return Err(SnapshotError::NotASnapshot(shown()));
    }
    let version = u32::from_le_bytes(prefix[8..12].try_into().unwrap_or_default());
    if version != FORMAT_VERSION {
        return Err(SnapshotError::WrongVersion {
            path: shown(),
            found: version,
        });
    }
    let header_len = u32::from_le_bytes(prefix[12..16].try_into().unwrap_or_default());
    if header_len > MAX_HEADER_LEN {
        return Err(SnapshotError::damaged(
            path,
            format!("header length {header_len} is implausible"),
        ));
    }
    let body_start = PREFIX_LEN + u64::from(header_len);
    if file_len < body_start + CHECKSUM_LEN {
        return Err(truncated(format!(
            "{file_len} bytes, shorter than its own header says"
        )));
    }
    let mut json = vec![0u8; header_len as usize];
    input
        .read_exact(&mut json)
        .map_err(|e| SnapshotError::io(path, e))?;
    let header: Header = serde_json::from_slice(&json)
        .map_err(|e| SnapshotError::damaged(path, format!("header is not readable: {e}")))?;
    let Some(expected) = body_start
        .checked_add(header.body_bytes)
        .and_then(|n| n.checked_add(CHECKSUM_LEN))
    else {
        return Err(SnapshotError::damaged(
            path,
            format!("body length {} is implausible", header.body_bytes),
        ));
    };
    if file_len < expected {
        return Err(truncated(format!(
            "{file_len} bytes where the header promises {expected}"
        )));
    }
    if file_len > expected {
        return Err(SnapshotError::damaged(
            path,
            format!(
                "{} bytes of unexpected data after the checksum",
                file_len - expected
            ),
        ));
    }
    Ok((header, body_start))
}

/// Whether the first bytes of a too-short file are at least the start of the magic (so that
/// a cut file says "truncated" and a foreign one says "not a snapshot").
fn magic_prefix_matches(
    input: &mut impl Read,
    len: u64,
    path: &Path,
) -> Result<bool, SnapshotError> {
    let mut buf = vec![0u8; len.min(MAGIC.len() as u64) as usize];
    input
        .read_exact(&mut buf)
        .map_err(|e| SnapshotError::io(path, e))?;
    Ok(MAGIC.starts_with(&buf))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(body_bytes: u64) -> Header {
        Header {
            id: "x".into(),
            server_version: "0.1.0".into(),
            created_at: "2026-01-01T00:00:00Z".into(),
            created_at_ms: 0,
            finished_at_ms: 1,
            trees: vec![TreeCount {
                name: "t".into(),
                records: 1,
            }],
            secrets: vec![],
            compression: "zstd".into(),
            body_bytes,
        }
    }

    fn file(body: &[u8]) -> Vec<u8> {
        let mut f = encode_prefix(&header(body.len() as u64)).unwrap();
        f.extend_from_slice(body);
        let sum = blake3::hash(&f);
        f.extend_from_slice(sum.as_bytes());
        f
    }

    fn read(bytes: &[u8]) -> Result<(Header, u64), SnapshotError> {
        read_header(&mut &bytes[..], bytes.len() as u64, Path::new("s.snap"))
    }

    #[test]
    fn body_entries_round_trip() {
        let mut w = BodyWriter::new(Vec::new());
        w.tree(b"entities").unwrap();
        w.record(b"k", b"value").unwrap();
        w.record(b"", b"").unwrap();
        w.secret("key.salt", b"abc").unwrap();
        let bytes = w.finish().unwrap();
        let mut r = BodyReader::new(&bytes[..], Path::new("s.snap"));
        assert_eq!(r.next_entry().unwrap(), Entry::Tree(b"entities".to_vec()));
        assert_eq!(
            r.next_entry().unwrap(),
            Entry::Record(b"k".to_vec(), b"value".to_vec())
        );
        assert_eq!(r.next_entry().unwrap(), Entry::Record(vec![], vec![]));
        assert_eq!(
            r.next_entry().unwrap(),
            Entry::Secret("key.salt".into(), b"abc".to_vec())
        );
        assert_eq!(r.next_entry().unwrap(), Entry::End);
        let e = r.next_entry().unwrap_err();
        assert!(matches!(e, SnapshotError::Truncated { .. }), "{e}");
        let cut = &bytes[..bytes.len() - 6];
        let mut r = BodyReader::new(cut, Path::new("s.snap"));
        r.next_entry().unwrap();
        r.next_entry().unwrap();
        r.next_entry().unwrap();
        assert!(matches!(
            r.next_entry().unwrap_err(),
            SnapshotError::Truncated { .. }
        ));
        let e = BodyReader::new(&b"Z"[..], Path::new("s.snap"))
            .next_entry()
            .unwrap_err();
        assert!(e.to_string().contains("unknown body entry 0x5a"), "{e}");
    }

    #[test]
    fn header_reads_back_and_damage_is_named() {
        let f = file(b"body");
        let (h, start) = read(&f).unwrap();
        assert_eq!(h, header(4));
        assert_eq!(&f[start as usize..start as usize + 4], b"body");

        let e = read(&f[..f.len() - 1]).unwrap_err();
        assert!(e.to_string().starts_with("s.snap: truncated:"), "{e}");
        let e = read(&f[..10]).unwrap_err();
        assert!(e.to_string().contains("truncated"), "{e}");
        assert!(matches!(
            read(b"PK\x03").unwrap_err(),
            SnapshotError::NotASnapshot(_)
        ));
        let e = read(&f[..20]).unwrap_err();
        assert!(e.to_string().contains("truncated"), "{e}");

        let mut long = f.clone();
        long.push(0);
        assert!(read(&long)
            .unwrap_err()
            .to_string()
            .contains("unexpected data after the checksum"));

        let mut foreign = f.clone();
        foreign[0] = b'X';
        assert!(matches!(
            read(&foreign).unwrap_err(),
            SnapshotError::NotASnapshot(_)
        ));

        let mut newer = f.clone();
        newer[8..12].copy_from_slice(&2u32.to_le_bytes());
        let e = read(&newer).unwrap_err();
        assert!(e.to_string().contains("format version 2"), "{e}");

        let mut bad_json = f.clone();
        bad_json[PREFIX_LEN as usize] = b'[';
        assert!(read(&bad_json)
            .unwrap_err()
            .to_string()
            .contains("header is not readable"));
    }
}
