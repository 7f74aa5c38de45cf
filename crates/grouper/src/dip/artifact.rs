//! Saving and loading a compiled [`Catalog`] with the shared artifact header.

use std::path::Path;

use super::Catalog;
use crate::artifact::{self, Kind};
use crate::error::ArtifactError;

/// The compiled DIP catalogue. Version 2: scores as written, rows taking any principal
/// diagnosis are candidates of the unknown class, ranges cover categories only, cost
/// ratios kept exact. Version 3: national rules (burn/tumor/tb layers, related and
/// anywhere groups, secondary-diagnosis and drug-resistance conditions, per-case
/// primary care).
pub(crate) const CATALOG: Kind = Kind {
    label: b"drgdip-dipcat\0\0\0",
    version: 3,
};

impl Catalog {
    /// Encodes the compiled catalogue into bytes (see [`Catalog::from_bytes`]).
    pub fn to_bytes(&self) -> Result<Vec<u8>, ArtifactError> {
        artifact::encode(CATALOG, self)
    }

    /// Decodes a compiled catalogue, checking label, version, length and checksum, bounding
    /// every length read by the file's size and checking the decoded tables' invariants.
    pub fn from_bytes(bytes: &[u8]) -> Result<Catalog, ArtifactError> {
        let mut c: Catalog = artifact::decode(CATALOG, bytes)?;
        c.check_invariants().map_err(ArtifactError::Invalid)?;
        c.rebuild_index();
        Ok(c)
    }

    /// Writes the compiled catalogue to a file.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<(), ArtifactError> {
        artifact::write(path.as_ref(), &self.to_bytes()?)
    }

    /// Reads a compiled catalogue file written by [`Catalog::save`].
    pub fn load(path: impl AsRef<Path>) -> Result<Catalog, ArtifactError> {
        Catalog::from_bytes(&artifact::read(path.as_ref())?)
    }
}
