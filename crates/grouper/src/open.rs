//! Opening a scheme or a catalogue from whatever a path holds: a compiled file, a
//! folder, or an official workbook. The one loader the CLI and the service share.

use std::path::Path;

use crate::dip::{Catalog, CatalogError, CatalogSource, NationalWorkbook, WorkbookError};
use crate::{ArtifactError, Grouper, Scheme, SchemeError};

/// Why a scheme or catalogue path could not be opened; each message names the path.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// Nothing at the path, or a folder of the wrong kind.
    #[error("{0}")]
    NotFound(String),
    /// Reading or compiling a scheme folder or workbook failed.
    #[error("{what} {path}: {source}")]
    Scheme {
        /// `reading the scheme folder`, `compiling the scheme`, …
        what: &'static str,
        /// The path given.
        path: String,
        /// The cause.
        source: SchemeError,
    },
    /// Reading or compiling a catalogue folder failed.
    #[error("{what} {path}: {source}")]
    Catalog {
        /// What was being done.
        what: &'static str,
        /// The path given.
        path: String,
        /// The cause.
        source: CatalogError,
    },
    /// The national DIP workbook could not be read.
    #[error("reading the national DIP workbook {path}: {source}")]
    DipWorkbook {
        /// The path given.
        path: String,
        /// The cause.
        source: WorkbookError,
    },
    /// A compiled file could not be loaded.
    #[error("loading the compiled {what} {path}: {source}")]
    Artifact {
        /// `scheme` or `catalogue`.
        what: &'static str,
        /// The path given.
        path: String,
        /// The cause.
        source: ArtifactError,
    },
}

/// Opens a DRG scheme: a compiled file (`drgdip scheme compile`), a scheme folder, or an
/// official workbook (`.xlsx`) with its optional errata file.
pub fn open_scheme(path: &Path, errata: Option<&Path>) -> Result<Grouper, OpenError> {
    let shown = path.display().to_string();
    if !path.exists() {
        return Err(OpenError::NotFound(format!(
            "{shown}: no such scheme folder, workbook or compiled scheme file"
        )));
    }
    if path.is_dir() && !path.join("scheme.json").exists() {
        let hint = if path.join("catalog.json").exists() {
            " (it is a DIP catalogue: give it to --catalog)"
        } else {
            ""
        };
        return Err(OpenError::NotFound(format!(
            "{shown} is a folder without scheme.json, so not a DRG scheme folder{hint}"
        )));
    }
    let workbook = crate::workbook::is_workbook(path);
    if path.is_dir() || workbook || errata.is_some() {
        let what = if workbook {
            "reading the scheme workbook"
        } else {
            "reading the scheme folder"
        };
        let scheme = Scheme::read(path, errata).map_err(|source| OpenError::Scheme {
            what,
            path: shown.clone(),
            source,
        })?;
        Grouper::compile(&scheme).map_err(|source| OpenError::Scheme {
            what: "compiling the scheme",
            path: shown,
            source,
        })
    } else {
        Grouper::load(path).map_err(|source| OpenError::Artifact {
            what: "scheme",
            path: shown,
            source,
        })
    }
}

/// Opens a DIP catalogue: a compiled file (`drgdip dip compile`), a catalogue folder, or
/// NHSA's national DIP workbook (`.xlsx`, read and compiled directly).
pub fn open_catalog(path: &Path) -> Result<Catalog, OpenError> {
    let shown = path.display().to_string();
    if !path.exists() {
        return Err(OpenError::NotFound(format!(
            "{shown}: no such catalogue folder, workbook or compiled catalogue file"
        )));
    }
    if path.is_dir() && !path.join("catalog.json").exists() {
        let hint = if path.join("scheme.json").exists() {
            " (it is a DRG scheme: give it to --scheme)"
        } else {
            ""
        };
        return Err(OpenError::NotFound(format!(
            "{shown} is a folder without catalog.json, so not a DIP catalogue folder{hint}"
        )));
    }
    let is_xlsx = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("xlsx"));
    if is_xlsx && path.is_file() {
        let wb = NationalWorkbook::read(path).map_err(|source| OpenError::DipWorkbook {
            path: shown.clone(),
            source,
        })?;
        Catalog::compile(&wb.to_source()).map_err(|source| OpenError::Catalog {
            what: "compiling the national DIP workbook",
            path: shown,
            source,
        })
    } else if path.is_dir() {
        let source = CatalogSource::from_dir(path).map_err(|source| OpenError::Catalog {
            what: "reading the catalogue folder",
            path: shown.clone(),
            source,
        })?;
        Catalog::compile(&source).map_err(|source| OpenError::Catalog {
            what: "compiling the catalogue",
            path: shown,
            source,
        })
    } else {
        Catalog::load(path).map_err(|source| OpenError::Artifact {
            what: "catalogue",
            path: shown,
            source,
        })
    }
}
