//! What a server has loaded — schemes, a catalogue, a policy — and how it is (re)loaded:
//! the whole set is read first and swapped in at once, so a request sees the old set or
//! the new one, never half of each.

use std::path::{Path, PathBuf};

use drgdip_grouper::dip::Catalog;
use drgdip_grouper::{Grouper, Principals};
use drgdip_payment::Policy;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::ServeError;

/// The files a server loads (and reloads).
#[derive(Debug, Clone, Default)]
pub struct Sources {
    /// DRG schemes: folders, workbooks or compiled files; the first is the default.
    pub schemes: Vec<PathBuf>,
    /// A DIP catalogue: folder, national workbook or compiled file.
    pub catalog: Option<PathBuf>,
    /// A policy file (TOML).
    pub policy: Option<PathBuf>,
}

/// One loaded DRG scheme.
pub struct SchemeEntry {
    /// The path it was loaded from.
    pub path: PathBuf,
    /// The compiled scheme.
    pub grouper: Grouper,
    /// Its principal-diagnosis flags, computed once (messages of ungroupable cases).
    pub principals: Principals,
}

/// The loaded DIP catalogue.
pub struct CatalogEntry {
    /// The path it was loaded from.
    pub path: PathBuf,
    /// The compiled catalogue.
    pub catalog: Catalog,
}

/// The loaded policy.
pub struct PolicyEntry {
    /// The path it was loaded from.
    pub path: PathBuf,
    /// The validated policy.
    pub policy: Policy,
    /// SHA-256 (hex) of the policy file's bytes.
    pub sha256: String,
}

/// Everything one request works with; immutable once loaded.
pub struct Loaded {
    /// DRG schemes, the default first.
    pub schemes: Vec<SchemeEntry>,
    /// The DIP catalogue, if any.
    pub catalog: Option<CatalogEntry>,
    /// The policy, if any.
    pub policy: Option<PolicyEntry>,
    /// 1 for the first load, +1 for every successful reload.
    pub generation: u64,
}

impl Loaded {
    /// Loads every source; the first failure is the error (nothing is half-loaded).
    pub fn load(sources: &Sources, generation: u64) -> Result<Loaded, ServeError> {
        if sources.schemes.is_empty() && sources.catalog.is_none() {
            return Err(ServeError::Config(
                "give at least one --scheme or a --catalog".into(),
            ));
        }
        let mut schemes = Vec::new();
        for path in &sources.schemes {
            let grouper = drgdip_grouper::open_scheme(path, None)?;
            let principals = grouper.principals();
            schemes.push(SchemeEntry {
                path: path.clone(),
                grouper,
                principals,
            });
        }
        let catalog = match &sources.catalog {
            Some(path) => Some(CatalogEntry {
                path: path.clone(),
                catalog: drgdip_grouper::open_catalog(path)?,
            }),
            None => None,
        };
        let policy = match &sources.policy {
            Some(path) => Some(load_policy(path)?),
            None => None,
        };
        Ok(Loaded {
            schemes,
            catalog,
            policy,
            generation,
        })
    }

    /// The scheme named `name` (its name, `name@version` or full label), or the first
    /// when `None`.
    pub fn scheme(&self, name: Option<&str>) -> Result<&SchemeEntry, crate::ApiError> {
        match name {
            None | Some("") => self.schemes.first().ok_or_else(|| {
                crate::ApiError::unavailable("no DRG scheme is loaded (start with --scheme)")
            }),
            Some(n) => self
                .schemes
                .iter()
                .find(|s| {
                    let info = s.grouper.info();
                    info.name == n
                        || format!("{}@{}", info.name, info.version) == n
                        || info.label() == n
                })
                .ok_or_else(|| {
                    let known: Vec<String> = self
                        .schemes
                        .iter()
                        .map(|s| s.grouper.info().label())
                        .collect();
                    crate::ApiError::bad(
                        format!("no loaded scheme `{n}` (loaded: {})", known.join(", ")),
                        Some("scheme".to_string()),
                    )
                }),
        }
    }

    /// The catalogue, or a 503 naming what is missing.
    pub fn catalog(&self) -> Result<&CatalogEntry, crate::ApiError> {
        self.catalog.as_ref().ok_or_else(|| {
            crate::ApiError::unavailable("no DIP catalogue is loaded (start with --catalog)")
        })
    }

    /// The policy, or a 503 naming what is missing.
    pub fn policy(&self) -> Result<&PolicyEntry, crate::ApiError> {
        self.policy.as_ref().ok_or_else(|| {
            crate::ApiError::unavailable("no policy is loaded (start with --policy)")
        })
    }

    /// What is loaded, with identities (`GET /v1/schemes`).
    pub fn describe(&self) -> Described {
        Described {
            generation: self.generation,
            schemes: self
                .schemes
                .iter()
                .map(|s| {
                    let info = s.grouper.info();
                    SchemeDesc {
                        name: info.name.clone(),
                        version: info.version.clone(),
                        content_hash: info.content_hash.clone(),
                        label: info.label(),
                        path: s.path.display().to_string(),
                        codes: s.grouper.code_count(),
                        results: s.grouper.results().len(),
                    }
                })
                .collect(),
            catalog: self.catalog.as_ref().map(|c| {
                let info = c.catalog.info();
                CatalogDesc {
                    name: info.name.clone(),
                    version: info.version.clone(),
                    region: info.region.clone(),
                    content_hash: info.content_hash.clone(),
                    label: info.label(),
                    path: c.path.display().to_string(),
                    types: c.catalog.types().len(),
                }
            }),
            policy: self.policy.as_ref().map(|p| {
                let meta = &p.policy.pricing.meta;
                PolicyDesc {
                    name: meta.name.clone(),
                    region: meta.region.clone(),
                    version: meta.version.clone(),
                    sha256: p.sha256.clone(),
                    path: p.path.display().to_string(),
                    drg: p.policy.pricing.drg.is_some(),
                    dip: p.policy.pricing.dip.is_some(),
                }
            }),
        }
    }
}

fn load_policy(path: &Path) -> Result<PolicyEntry, ServeError> {
    let bytes = std::fs::read(path)
        .map_err(|e| ServeError::Load(format!("reading the policy {}: {e}", path.display())))?;
    let policy = Policy::load(path)
        .map_err(|e| ServeError::Load(format!("loading the policy {}: {e}", path.display())))?;
    let sha256 = Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    Ok(PolicyEntry {
        path: path.to_path_buf(),
        policy,
        sha256,
    })
}

/// `GET /v1/schemes`.
#[derive(Debug, Serialize)]
pub struct Described {
    /// Load generation (1 = as started; +1 per reload).
    pub generation: u64,
    /// DRG schemes, the default first.
    pub schemes: Vec<SchemeDesc>,
    /// The DIP catalogue.
    pub catalog: Option<CatalogDesc>,
    /// The policy.
    pub policy: Option<PolicyDesc>,
}

/// A loaded scheme's identity.
#[derive(Debug, Serialize)]
pub struct SchemeDesc {
    /// `scheme.json → scheme`.
    pub name: String,
    /// Version.
    pub version: String,
    /// SHA-256 of its source files.
    pub content_hash: String,
    /// `name@version#hash8`, written beside every result.
    pub label: String,
    /// Where it was loaded from.
    pub path: String,
    /// Codes in its dictionaries.
    pub codes: usize,
    /// Result codes (DRGs and the rest).
    pub results: usize,
}

/// The loaded catalogue's identity.
#[derive(Debug, Serialize)]
pub struct CatalogDesc {
    /// Name.
    pub name: String,
    /// Version.
    pub version: String,
    /// Region.
    pub region: String,
    /// SHA-256 of its source files.
    pub content_hash: String,
    /// `name@version#hash8`.
    pub label: String,
    /// Where it was loaded from.
    pub path: String,
    /// Disease types.
    pub types: usize,
}

/// The loaded policy's identity.
#[derive(Debug, Serialize)]
pub struct PolicyDesc {
    /// `[policy] name`.
    pub name: String,
    /// `[policy] region`.
    pub region: String,
    /// `[policy] version`, if given.
    pub version: Option<String>,
    /// SHA-256 of the policy file.
    pub sha256: String,
    /// Where it was loaded from.
    pub path: String,
    /// It prices DRG cases.
    pub drg: bool,
    /// It prices DIP cases.
    pub dip: bool,
}
