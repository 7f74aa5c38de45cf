//! Calibrating a catalogue without scores (as the national one comes) on a small history
//! worked by hand: which types are kept, which fold, which composite types appear, the
//! scores and CVs; and the round trip (grouping the history with the result).

use drgdip_grouper::dip::build::{History, HistoryBuilder, HistoryInput, Threshold};
use drgdip_grouper::dip::calibrate::{CalibrateConfig, Calibrated, calibrate};
use drgdip_grouper::dip::reference::{DipReference, TextDipCase};
use drgdip_grouper::dip::source::AttributeRow;
use drgdip_grouper::dip::stats::Trim;
use drgdip_grouper::dip::{Catalog, CatalogSource, DipReason};

/// A catalogue as a region receives it: rules, no scores (all 0), no composite types.
fn given() -> CatalogSource {
    let manifest = br#"{"name": "given", "version": "3.0", "score_scale": 1000}"#;
    let types = "code,name,layer,principal_dx,procedures,score,primary_care\n\
                 BX-1,appendicitis + appendectomy + drainage,merge,K35,47.0100+54.5100,0,0\n\
                 JC-1,appendicitis + appendectomy,core,K35.8,47.0100,0,0\n\
                 JC-2,appendicitis conservative,core,K35.8,,0,1\n\
                 JC-3,pneumonia conservative,core,J18.9,,0,0\n\
                 JC-4,cerebral infarction + CT,core,I63.9,88.4101,0,0\n";
    let exclusions = "kind,code\nprincipal_dx,Z00.000\n";
    let files: [(&str, &[u8]); 3] = [
        ("catalog.json", manifest),
        ("types.csv", types.as_bytes()),
        ("exclusions.csv", exclusions.as_bytes()),
    ];
    CatalogSource::from_files(&|name| files.iter().find(|f| f.0 == name).map(|f| f.1))
        .expect("the given catalogue reads")
}

/// The city's procedure-attribute table.
fn attributes() -> Vec<AttributeRow> {
    [
        ("47.0100", "surgery"),
        ("54.5100", "surgery"),
        ("88.4101", "diagnostic"),
        ("99.2500", "therapeutic"),
    ]
    .iter()
    .enumerate()
    .map(|(i, (code, attribute))| AttributeRow {
        line: i as u64 + 2,
        code: code.to_string(),
        attribute: attribute.to_string(),
        name: String::new(),
    })
    .collect()
}

/// 13 cases over 2022–2024 (weights 1:2:7), costs in yuan.
fn history() -> History {
    let cases: [(&str, &[&str], u16, i64); 13] = [
        // BX-1 (2 cases, below the threshold of 3): folded; the local catalogue then puts
        // them in JC-1 (K35.8 + 47.0100 holds for them too).
        ("K35.800", &["47.0100", "54.5100"], 2024, 9000),
        ("K35.800", &["47.0100", "54.5100"], 2024, 9500),
        // JC-1: 3 cases, kept.
        ("K35.800", &["47.0100"], 2024, 6000),
        ("K35.800", &["47.0100"], 2023, 6000),
        ("K35.800", &["47.0100"], 2022, 5000),
        // JC-2: 3 cases, kept.
        ("K35.800", &[], 2024, 3000),
        ("K35.800", &[], 2024, 3300),
        ("K35.800", &[], 2023, 2400),
        // JC-3: 2 cases, folded into the composite type J18 conservative.
        ("J18.900", &[], 2024, 2000),
        ("J18.900", &[], 2023, 1500),
        // No given type: composite J18 therapeutic, K35 therapeutic.
        ("J18.900", &["99.2500"], 2024, 4000),
        ("K35.800", &["99.2500"], 2023, 5000),
        // Excluded principal diagnosis.
        ("Z00.000", &[], 2024, 100),
    ];
    let mut h = HistoryBuilder::default();
    for (i, (dx, px, year, yuan)) in cases.iter().enumerate() {
        h.push_case(
            i as u64,
            &HistoryInput {
                diagnoses: &[dx],
                procedures: px,
                year: *year,
                cost: yuan * 100,
                ..HistoryInput::default()
            },
        );
    }
    History::merge(vec![h])
}

fn config() -> CalibrateConfig {
    CalibrateConfig {
        threshold: Threshold::Cases(3),
        trim: Trim::NONE,
        ..CalibrateConfig::default()
    }
}

/// code, layer, score, mean cost, cases, cv, primary care.
type Row7 = (String, String, String, String, String, String, String);

fn rows(c: &Calibrated) -> Vec<Row7> {
    c.source
        .types
        .iter()
        .map(|t| {
            (
                t.code.clone(),
                t.layer.clone(),
                t.score.clone(),
                t.mean_cost.clone(),
                t.cases.clone(),
                t.cv.clone(),
                t.primary_care.clone(),
            )
        })
        .collect()
}

fn row(v: [&str; 7]) -> Row7 {
    let [a, b, c, d, e, f, g] = v.map(String::from);
    (a, b, c, d, e, f, g)
}

#[test]
fn calibration_worked_by_hand() {
    let history = history();
    let attrs = attributes();
    let c = calibrate(&given(), Some(&attrs), &history, &config()).expect("calibrates");
    // Weighted means (w = 1, 2, 7 for 2022, 2023, 2024):
    //   JC-1: 9000·7 + 9500·7 + 6000·7 + 6000·2 + 5000·1 = 188,500 / 24 = 7854.17
    //   JC-2: 3000·7 + 3300·7 + 2400·2 = 48,900 / 16 = 3056.25
    //   J18-2: 4000 (w 7); J18-4: 2000·7 + 1500·2 = 17,000 / 9 = 1888.89; K35-2: 5000 (w 2)
    //   overall M = 292,400 / 58 = 5041.38
    // Scores = mean / M × 1000: JC-1 188500·58 / (24·292400) × 1000 = 1557.94, JC-2 606.23,
    //   J18-2 793.43, J18-4 374.68, K35-2 991.79.
    // CVs (weighted population SD / mean): JC-1 sqrt(Σw(c−m)²/Σw)/m = 1673.82/7854.17 =
    //   0.2131; JC-2 284.98/3056.25 = 0.0932; J18-4 207.87/1888.89 = 0.1100.
    assert_eq!(
        rows(&c),
        vec![
            row(["JC-1", "core", "1557.94", "7854.17", "5", "0.2131", "0"]),
            row(["JC-2", "core", "606.23", "3056.25", "3", "0.0932", "1"]),
            row([
                "J18-2",
                "composite",
                "793.43",
                "4000.00",
                "1",
                "0.0000",
                "0"
            ]),
            row([
                "J18-4",
                "composite",
                "374.68",
                "1888.89",
                "2",
                "0.1100",
                "0"
            ]),
            row([
                "K35-2",
                "composite",
                "991.79",
                "5000.00",
                "1",
                "0.0000",
                "0"
            ]),
        ]
    );
    let t = &c.source.types;
    assert_eq!(
        (t[2].attribute.as_str(), t[3].attribute.as_str()),
        ("therapeutic", "conservative")
    );
    let r = &c.report;
    assert_eq!((r.cases, r.excluded, r.invalid, r.ungrouped), (13, 1, 0, 0));
    assert_eq!(r.threshold, 3);
    assert_eq!(r.years, vec![(2022, 1), (2023, 2), (2024, 7)]);
    assert_eq!(
        (r.given_types, r.with_cases, r.kept, r.folded),
        (5, 4, 2, 2)
    );
    // BX-1's 2 and JC-3's 2 cases were folded; 2 cases matched no given type.
    assert_eq!((r.folded_cases, r.unmatched_cases), (4, 2));
    assert_eq!(r.types_without_cases, vec!["JC-4".to_string()]);
    assert_eq!(r.without_cases_by_layer, vec![("core".to_string(), 1)]);
    // K35 surgery (for BX-1's cases) was made but received none: dropped.
    assert_eq!(
        (r.composite_types, r.composite_cases, r.kept_cases),
        (3, 4, 8)
    );
    assert_eq!(r.coverage, 8.0 / 12.0);
    assert_eq!(r.overall_mean_cost, "5041.38");
    assert_eq!(r.primary_care_types, 1);
    assert_eq!(r.largest[0].code, "JC-1");
    let layers: Vec<(&str, usize, u64)> = r
        .layers
        .iter()
        .map(|l| (l.layer.as_str(), l.types, l.cases))
        .collect();
    assert_eq!(layers, [("core", 2, 8), ("composite", 3, 4)]);

    // Round trip: every case but the excluded one is in a type of the local catalogue,
    // and the reference interpreter agrees with the compiled catalogue on each.
    let catalog = Catalog::compile(&c.source).expect("compiles");
    let reference = DipReference::new(&c.source).expect("the reference reads it");
    for h in &history.cases {
        let dx = history.dx_codes[h.dx as usize].clone();
        let px: Vec<String> = history
            .procedures(h)
            .iter()
            .map(|&p| history.px_codes[p as usize].clone())
            .collect();
        let text = TextDipCase {
            dx: vec![dx.clone()],
            px: px.clone(),
            ..TextDipCase::default()
        };
        let mut case = drgdip_grouper::dip::DipCase::default();
        case.dx.push(catalog.dx(&dx).id);
        case.px.extend(px.iter().map(|p| catalog.px(p).id));
        let o = catalog.group(&case, &mut catalog.scratch());
        let expected = reference.group(&text);
        assert_eq!(
            catalog.type_of(&o).map_or("", |t| t.code.as_str()),
            expected.dip_code,
            "{dx} {px:?}"
        );
        if dx == "Z00.000" {
            assert_eq!(o.reason, Some(DipReason::ExcludedPrincipal));
        } else {
            assert!(o.type_id.is_some(), "{dx} {px:?} is outside");
        }
    }
}

#[test]
fn without_an_attribute_table_no_composite_type() {
    let c = calibrate(&given(), None, &history(), &config()).expect("calibrates");
    let codes: Vec<&str> = c.source.types.iter().map(|t| t.code.as_str()).collect();
    assert_eq!(codes, ["JC-1", "JC-2"]);
    let r = &c.report;
    // JC-3's 2 folded cases and the 2 unmatched ones stay ungrouped.
    assert!(!r.attribute_table);
    assert_eq!((r.ungrouped, r.composite_types, r.kept_cases), (4, 0, 8));
    // JC-2 has the same cases, the overall mean now over JC-1 and JC-2 only:
    // (188,500 + 48,900) / 40 = 5935.00; JC-2 3056.25 / 5935 × 1000 = 514.95.
    assert_eq!(r.overall_mean_cost, "5935.00");
    assert_eq!(c.source.types[1].score, "514.95");
}

#[test]
fn coverage_threshold_and_bad_settings() {
    // Given-type counts with cases: JC-1 3, JC-2 3, BX-1 2, JC-3 2 (10): 80% needs the
    // two largest and one of 2 → threshold 2, nothing folds.
    let attrs = attributes();
    let config = CalibrateConfig {
        threshold: Threshold::Coverage(0.8),
        trim: Trim::NONE,
        ..CalibrateConfig::default()
    };
    let c = calibrate(&given(), Some(&attrs), &history(), &config).expect("calibrates");
    assert_eq!(
        (c.report.threshold, c.report.kept, c.report.folded),
        (2, 4, 0)
    );
    let codes: Vec<&str> = c.source.types.iter().map(|t| t.code.as_str()).collect();
    assert_eq!(codes, ["BX-1", "JC-1", "JC-2", "JC-3", "J18-2", "K35-2"]);
    let bad = CalibrateConfig {
        year_weights: vec![7],
        ..CalibrateConfig::default()
    };
    let e = calibrate(&given(), None, &history(), &bad).unwrap_err();
    assert!(e.to_string().contains("spans 3 years"), "{e}");
}
