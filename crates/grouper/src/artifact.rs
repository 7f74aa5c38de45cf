//! Compiled artifacts on disk: bincode with a 16-byte label, a format version, the
//! payload length and a SHA-256 checksum, all checked on load. Used by the compiled DRG
//! scheme ([`Grouper`]) and the compiled DIP catalogue ([`crate::dip::Catalog`]).

use std::path::Path;

use serde::Serialize;
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};

use crate::Grouper;
use crate::error::ArtifactError;

/// What kind of compiled file a label and version stand for.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Kind {
    /// The first 16 bytes of the file.
    pub label: &'static [u8; 16],
    /// Bumped whenever the compiled layout changes.
    pub version: u32,
}

/// The compiled DRG scheme.
pub(crate) const SCHEME: Kind = Kind {
    label: b"drgdip-scheme\0\0\0",
    version: 7,
};

/// label + version + payload length + checksum.
const HEADER: usize = 16 + 4 + 8 + 32;

/// Encodes `value` behind the header of `kind`.
pub(crate) fn encode<T: Serialize>(kind: Kind, value: &T) -> Result<Vec<u8>, ArtifactError> {
    let payload = bincode::serde::encode_to_vec(value, bincode::config::standard())
        .map_err(|e| ArtifactError::Encode(e.to_string()))?;
    let mut out = Vec::with_capacity(HEADER + payload.len());
    out.extend_from_slice(kind.label);
    out.extend_from_slice(&kind.version.to_le_bytes());
    out.extend_from_slice(&(payload.len() as u64).to_le_bytes());
    out.extend_from_slice(&Sha256::digest(&payload));
    out.extend_from_slice(&payload);
    Ok(out)
}

/// Decodes bytes written by [`encode`] with the same `kind`, checking label, version,
/// length and checksum first.
pub(crate) fn decode<T: DeserializeOwned>(kind: Kind, bytes: &[u8]) -> Result<T, ArtifactError> {
    if bytes.len() < 16 || &bytes[..16] != kind.label {
        return Err(ArtifactError::NotAnArtifact);
    }
    if bytes.len() < HEADER {
        return Err(ArtifactError::Length {
            expected: HEADER as u64,
            found: bytes.len() as u64,
        });
    }
    let version = u32::from_le_bytes(bytes[16..20].try_into().expect("4 bytes"));
    if version != kind.version {
        return Err(ArtifactError::Version {
            found: version,
            expected: kind.version,
        });
    }
    let len = u64::from_le_bytes(bytes[20..28].try_into().expect("8 bytes"));
    let payload = &bytes[HEADER..];
    if payload.len() as u64 != len {
        return Err(ArtifactError::Length {
            expected: len,
            found: payload.len() as u64,
        });
    }
    if Sha256::digest(payload).as_slice() != &bytes[28..60] {
        return Err(ArtifactError::Checksum);
    }
    let (value, used): (T, usize) =
        decode_bounded(payload).map_err(|e| ArtifactError::Decode(e.to_string()))?;
    if used != payload.len() {
        return Err(ArtifactError::Decode(format!(
            "{} undecoded trailing bytes",
            payload.len() - used
        )));
    }
    Ok(value)
}

/// Decodes a payload with bincode's allocation limit set from the payload's size: every
/// length read from the file (a string, a byte buffer, a table) is claimed against the
/// limit before anything is allocated, so a crafted length fails instead of allocating
/// without bound. Decoded values take at most 8 bytes per encoded byte (an 8-byte
/// integer is at least one byte), so the smallest power of two ≥ 8 × payload + 4 KiB
/// bounds a genuine file.
fn decode_bounded<T: DeserializeOwned>(
    payload: &[u8],
) -> Result<(T, usize), bincode::error::DecodeError> {
    let need = payload.len().saturating_mul(8).saturating_add(4096);
    macro_rules! limited {
        ($($bits:literal)*) => {$(
            if need <= 1usize << $bits {
                let config = bincode::config::standard().with_limit::<{ 1usize << $bits }>();
                return bincode::serde::decode_from_slice(payload, config);
            }
        )*};
    }
    limited!(13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31 32 33 34 35 36);
    Err(bincode::error::DecodeError::LimitExceeded)
}

/// Writes bytes to a file.
pub(crate) fn write(path: &Path, bytes: &[u8]) -> Result<(), ArtifactError> {
    std::fs::write(path, bytes).map_err(|source| ArtifactError::Io {
        path: path.into(),
        source,
    })
}

/// Reads a whole file.
pub(crate) fn read(path: &Path) -> Result<Vec<u8>, ArtifactError> {
    std::fs::read(path).map_err(|source| ArtifactError::Io {
        path: path.into(),
        source,
    })
}

impl Grouper {
    /// Encodes the compiled scheme into bytes (see [`Grouper::from_bytes`]).
    pub fn to_bytes(&self) -> Result<Vec<u8>, ArtifactError> {
        encode(SCHEME, self)
    }

    /// Decodes a compiled scheme, checking label, version, length and checksum, bounding
    /// every length read by the file's size and checking the decoded tables' invariants
    /// (ids in range, sizes consistent, the rule graph acyclic).
    pub fn from_bytes(bytes: &[u8]) -> Result<Grouper, ArtifactError> {
        let mut grouper: Grouper = decode(SCHEME, bytes)?;
        grouper.check_invariants().map_err(ArtifactError::Invalid)?;
        grouper.codes.rebuild_index();
        grouper.derive_tables();
        Ok(grouper)
    }

    /// Writes the compiled scheme to a file.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<(), ArtifactError> {
        write(path.as_ref(), &self.to_bytes()?)
    }

    /// Reads a compiled scheme file written by [`Grouper::save`].
    pub fn load(path: impl AsRef<Path>) -> Result<Grouper, ArtifactError> {
        Self::from_bytes(&read(path.as_ref())?)
    }
}
