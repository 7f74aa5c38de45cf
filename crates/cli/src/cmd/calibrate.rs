//! `drgdip dip build --national WORKBOOK.xlsx --history FILE --output DIR`: calibrating
//! the national catalogue (or any catalogue folder) on a city's history. The work is
//! [`drgdip_grouper::dip::calibrate`]; this reads the inputs, writes the local catalogue
//! folder with `report.json`, and prints the readable report.

use std::fmt::Write as _;
use std::path::Path;
use std::time::Instant;

use anyhow::{Context, Result};
use drgdip_grouper::dip::build::Threshold;
use drgdip_grouper::dip::calibrate::{
    CalibrateConfig, CalibrationReport, calibrate, read_attribute_table,
};
use drgdip_grouper::dip::{CatalogSource, NationalWorkbook};

use super::dip::{BuildArgs, Written, parse_trim, parse_year_weights, read_history, report_tail};
use crate::Outcome;

/// The catalogue to calibrate: the national workbook (`.xlsx`) or a catalogue folder.
fn given_source(path: &Path) -> Result<CatalogSource> {
    let is_xlsx = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("xlsx"));
    if is_xlsx {
        let wb = NationalWorkbook::read(path)
            .with_context(|| format!("reading the national DIP workbook {}", path.display()))?;
        Ok(wb.to_source())
    } else {
        CatalogSource::from_dir(path)
            .with_context(|| format!("reading the catalogue folder {}", path.display()))
    }
}

/// Runs the calibration for `dip build --national`.
pub fn calibrate_cmd(a: BuildArgs) -> Result<Outcome> {
    let started = Instant::now();
    let national = a.national.as_deref().context("--national is required")?;
    let given = given_source(national)?;
    let attributes = match &a.attributes {
        Some(p) => {
            let bytes = std::fs::read(p)
                .with_context(|| format!("reading the attribute table {}", p.display()))?;
            Some(
                read_attribute_table(&bytes)
                    .with_context(|| format!("reading the attribute table {}", p.display()))?,
            )
        }
        None => None,
    };
    let config = CalibrateConfig {
        name: a.name.clone(),
        version: a.version.clone(),
        region: a.region.clone(),
        score_scale: a.scale,
        threshold: match a.coverage {
            Some(c) => Threshold::Coverage(c),
            None => Threshold::Cases(a.threshold.unwrap_or(15)),
        },
        year_weights: parse_year_weights(&a.year_weights)?,
        trim: parse_trim(a.trim_low, a.trim_high)?,
        score_decimals: a.decimals,
    };
    let (history, read, pool) = read_history(&a)?;
    let read_secs = started.elapsed().as_secs_f64();
    let c = pool
        .install(|| calibrate(&given, attributes.as_deref(), &history, &config))
        .context("calibrating the catalogue")?;
    let written = Written {
        command: "dip build --national",
        source: &c.source,
        report_json: serde_json::to_string_pretty(&c.report)?,
        report_text: &report_text(&c.report),
    };
    written.finish(&a, &read, read_secs, started)
}

/// The readable calibration report.
pub fn report_text(r: &CalibrationReport) -> String {
    let mut s = String::new();
    let years: Vec<String> = r.years.iter().map(|(y, w)| format!("{y}×{w}")).collect();
    let _ = writeln!(
        s,
        "history    {} cases ({} excluded, {} invalid, {} ungrouped); years {}",
        r.cases,
        r.excluded,
        r.invalid,
        r.ungrouped,
        years.join(" ")
    );
    let _ = writeln!(s, "threshold  {} cases", r.threshold);
    let _ = writeln!(
        s,
        "given      {} types: {} with cases, {} kept, {} folded ({} cases), {} without cases",
        r.given_types,
        r.with_cases,
        r.kept,
        r.folded,
        r.folded_cases,
        r.types_without_cases.len()
    );
    if !r.without_cases_by_layer.is_empty() {
        let by: Vec<String> = r
            .without_cases_by_layer
            .iter()
            .map(|(l, n)| format!("{l} {n}"))
            .collect();
        let _ = writeln!(s, "           without cases by layer: {}", by.join(", "));
    }
    let _ = writeln!(s, "unmatched  {} cases in no given type", r.unmatched_cases);
    if r.attribute_table {
        let _ = writeln!(
            s,
            "composite  {} types, {} cases",
            r.composite_types, r.composite_cases
        );
    } else {
        let _ = writeln!(
            s,
            "composite  none: no procedure-attribute table (--attributes); {} cases stay ungrouped",
            r.ungrouped
        );
    }
    let _ = writeln!(
        s,
        "coverage   {:.2}% of grouped cases in kept types ({} cases)",
        r.coverage * 100.0,
        r.kept_cases
    );
    let layers: Vec<String> = r
        .layers
        .iter()
        .map(|l| format!("{} {}/{}", l.layer, l.types, l.cases))
        .collect();
    let _ = writeln!(s, "layers     types/cases: {}", layers.join(", "));
    let _ = writeln!(
        s,
        "primary    {} types, {} cases (基层病种)",
        r.primary_care_types, r.primary_care_cases
    );
    report_tail(&mut s, &r.overall_mean_cost, &r.cv_bands, &r.largest);
    s
}
