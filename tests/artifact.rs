//! Compiled schemes: round trip, and every way a file can be damaged is rejected on load.

mod common;

use drgdip::grouper::{ArtifactError, Grouper};

#[test]
fn round_trip_keeps_everything() {
    let (_, g) = common::demo();
    let bytes = g.to_bytes().unwrap();
    let back = Grouper::from_bytes(&bytes).unwrap();
    assert_eq!(back.info(), g.info());
    assert_eq!(back.results(), g.results());
    assert_eq!(back.to_bytes().unwrap(), bytes, "encoding is deterministic");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("demo.drgc");
    g.save(&path).unwrap();
    assert_eq!(Grouper::load(&path).unwrap().info(), g.info());
}

#[test]
fn damaged_files_are_rejected() {
    let (_, g) = common::demo();
    let bytes = g.to_bytes().unwrap();
    let truncated = &bytes[..bytes.len() - 10];
    assert!(matches!(
        Grouper::from_bytes(truncated),
        Err(ArtifactError::Length { .. })
    ));
    let mut extended = bytes.clone();
    extended.push(0);
    assert!(matches!(
        Grouper::from_bytes(&extended),
        Err(ArtifactError::Length { .. })
    ));
    let mut flipped = bytes.clone();
    let last = flipped.len() - 100;
    flipped[last] ^= 0x40;
    assert!(matches!(
        Grouper::from_bytes(&flipped),
        Err(ArtifactError::Checksum)
    ));
    assert!(matches!(
        Grouper::from_bytes(b"scheme.json"),
        Err(ArtifactError::NotAnArtifact)
    ));
    assert!(matches!(
        Grouper::from_bytes(&bytes[..20]),
        Err(ArtifactError::Length { .. })
    ));
    let mut version = bytes.clone();
    version[16] = 99;
    let err = Grouper::from_bytes(&version).unwrap_err();
    assert!(matches!(err, ArtifactError::Version { found: 99, .. }));
    assert!(err.to_string().contains("recompile"), "{err}");
    let missing = Grouper::load("/nonexistent/demo.drgc").unwrap_err();
    assert!(
        missing.to_string().contains("/nonexistent/demo.drgc"),
        "{missing}"
    );
}
