//! Reading a data folder (a DRG scheme or a DIP catalogue) in one go, with the content
//! hash that identifies it: SHA-256 over each file's name, length and bytes, in the
//! order of the folder's file list.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

/// The files of a folder that exist, by name, and their content hash (hex).
pub(crate) struct Folder {
    pub files: BTreeMap<&'static str, Vec<u8>>,
    pub hash: String,
}

impl Folder {
    /// Reads `files` (name, required) from `dir`; a missing optional file is skipped.
    /// Errors give the path that could not be read.
    pub fn read(
        dir: &Path,
        files: &[(&'static str, bool)],
    ) -> Result<Folder, (PathBuf, std::io::Error)> {
        let mut hasher = Sha256::new();
        let mut found = BTreeMap::new();
        for &(name, required) in files {
            let path = dir.join(name);
            match std::fs::read(&path) {
                Ok(bytes) => {
                    hasher.update(name.as_bytes());
                    hasher.update((bytes.len() as u64).to_le_bytes());
                    hasher.update(&bytes);
                    found.insert(name, bytes);
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound && !required => {}
                Err(e) => return Err((path, e)),
            }
        }
        let hash = hasher
            .finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        Ok(Folder { files: found, hash })
    }

    /// The bytes of a file, if it was read.
    pub fn get(&self, name: &str) -> Option<&[u8]> {
        self.files.get(name).map(Vec::as_slice)
    }
}
