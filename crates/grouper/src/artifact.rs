//! Saving and loading a compiled [`Grouper`] (bincode, with a label, a format version,
//! the payload length and a SHA-256 checksum, all checked on load).

use std::path::Path;

use sha2::{Digest, Sha256};

use crate::Grouper;
use crate::error::ArtifactError;

/// The first bytes of every compiled scheme file.
const LABEL: &[u8; 16] = b"drgdip-scheme\0\0\0";
/// Bumped whenever the compiled layout changes.
const FORMAT_VERSION: u32 = 2;
/// label + version + payload length + checksum.
const HEADER: usize = 16 + 4 + 8 + 32;

impl Grouper {
    /// Encodes the compiled scheme into bytes (see [`Grouper::from_bytes`]).
    pub fn to_bytes(&self) -> Result<Vec<u8>, ArtifactError> {
        let payload = bincode::serde::encode_to_vec(self, bincode::config::standard())
            .map_err(|e| ArtifactError::Encode(e.to_string()))?;
        let mut out = Vec::with_capacity(HEADER + payload.len());
        out.extend_from_slice(LABEL);
        out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
        out.extend_from_slice(&(payload.len() as u64).to_le_bytes());
        out.extend_from_slice(&Sha256::digest(&payload));
        out.extend_from_slice(&payload);
        Ok(out)
    }

    /// Decodes a compiled scheme, checking label, version, length and checksum.
    pub fn from_bytes(bytes: &[u8]) -> Result<Grouper, ArtifactError> {
        if bytes.len() < 16 || &bytes[..16] != LABEL {
            return Err(ArtifactError::NotAnArtifact);
        }
        if bytes.len() < HEADER {
            return Err(ArtifactError::Length {
                expected: HEADER as u64,
                found: bytes.len() as u64,
            });
        }
        let version = u32::from_le_bytes(bytes[16..20].try_into().expect("4 bytes"));
        if version != FORMAT_VERSION {
            return Err(ArtifactError::Version {
                found: version,
                expected: FORMAT_VERSION,
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
        let (mut grouper, used): (Grouper, usize) =
            bincode::serde::decode_from_slice(payload, bincode::config::standard())
                .map_err(|e| ArtifactError::Decode(e.to_string()))?;
        if used != payload.len() {
            return Err(ArtifactError::Decode(format!(
                "{} undecoded trailing bytes",
                payload.len() - used
            )));
        }
        grouper.codes.rebuild_index();
        Ok(grouper)
    }

    /// Writes the compiled scheme to a file.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<(), ArtifactError> {
        let path = path.as_ref();
        std::fs::write(path, self.to_bytes()?).map_err(|source| ArtifactError::Io {
            path: path.into(),
            source,
        })
    }

    /// Reads a compiled scheme file written by [`Grouper::save`].
    pub fn load(path: impl AsRef<Path>) -> Result<Grouper, ArtifactError> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|source| ArtifactError::Io {
            path: path.into(),
            source,
        })?;
        Self::from_bytes(&bytes)
    }
}
