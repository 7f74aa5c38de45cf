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
const SCHEME: Kind = Kind {
    label: b"drgdip-scheme\0\0\0",
    version: 5,
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
        bincode::serde::decode_from_slice(payload, bincode::config::standard())
            .map_err(|e| ArtifactError::Decode(e.to_string()))?;
    if used != payload.len() {
        return Err(ArtifactError::Decode(format!(
            "{} undecoded trailing bytes",
            payload.len() - used
        )));
    }
    Ok(value)
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

    /// Decodes a compiled scheme, checking label, version, length and checksum.
    pub fn from_bytes(bytes: &[u8]) -> Result<Grouper, ArtifactError> {
        let mut grouper: Grouper = decode(SCHEME, bytes)?;
        grouper.codes.rebuild_index();
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
