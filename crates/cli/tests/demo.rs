//! The demo a domain reader believes: `drgdip demo` on its default 100,000 cases gives
//! a few percent of outliers, hospital margins scattered around zero, a CMI near 1 and
//! no warning; the committed calibration is what `tools/make_demo_weights.sh` makes.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A CSV file as rows of column → value.
fn table(path: &Path) -> Vec<BTreeMap<String, String>> {
    let mut rdr = csv::Reader::from_path(path).expect("readable");
    let h = rdr.headers().expect("header").clone();
    rdr.records()
        .map(|r| {
            let r = r.expect("row");
            h.iter()
                .map(String::from)
                .zip(r.iter().map(String::from))
                .collect()
        })
        .collect()
}

fn num(row: &BTreeMap<String, String>, col: &str) -> f64 {
    row[col]
        .parse()
        .unwrap_or_else(|_| panic!("{col} = `{}`", row[col]))
}

#[test]
fn the_demo_looks_like_a_city() {
    let out = tempfile::tempdir().expect("temp dir");
    let o = Command::new(env!("CARGO_BIN_EXE_drgdip"))
        .args(["demo", "--out"])
        .arg(out.path())
        .current_dir(root())
        .output()
        .expect("runs");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert!(!err.contains("WARNING"), "{err}");
    let grouped = table(&out.path().join("drg-grouped.csv"));
    let ok = grouped.iter().filter(|r| r["status"] == "grouped").count();
    assert!(ok as f64 >= 0.97 * grouped.len() as f64, "{ok} grouped");
    for method in ["drg", "dip"] {
        let priced = table(&out.path().join(format!("{method}-priced.csv")));
        let count = |o: &str| priced.iter().filter(|r| r["outlier"] == o).count() as f64;
        let n = priced.len() as f64;
        let (high, low) = (count("high") / n, count("low") / n);
        // A few percent of outliers, most of them high.
        assert!(
            (0.005..0.06).contains(&high) && (0.002..0.06).contains(&low),
            "{method}: high {high:.4}, low {low:.4}"
        );
        let report = table(&out.path().join(format!("{method}-report.csv")));
        let (city, hospitals) = report.split_last().expect("rows");
        assert_eq!(city["scope"], "city");
        // Payments balance costs city-wide; hospitals scatter on both sides.
        let rate = num(city, "payment_margin_rate");
        assert!(rate.abs() < 0.05, "{method}: city margin rate {rate}");
        let rates: Vec<f64> = hospitals
            .iter()
            .map(|h| num(h, "payment_margin_rate"))
            .collect();
        assert!(
            rates.iter().filter(|&&r| r > 0.0).count() >= 5
                && rates.iter().filter(|&&r| r < 0.0).count() >= 5,
            "{method}: {rates:?}"
        );
        assert!(rates.iter().all(|r| r.abs() < 0.3), "{method}: {rates:?}");
        let (cmi_col, one) = if method == "drg" {
            ("cmi_drg", 1.0)
        } else {
            ("cmi_dip", 1000.0)
        };
        let cmi = num(city, cmi_col) / one;
        assert!((0.85..1.15).contains(&cmi), "{method}: CMI {cmi}");
        // The settlement leaves surpluses and deficits, none above a quarter of the cost.
        let results: Vec<f64> = hospitals
            .iter()
            .filter(|h| !h["surplus_or_deficit"].is_empty())
            .map(|h| num(h, "surplus_or_deficit") / num(h, "total_cost"))
            .collect();
        assert!(
            results.iter().any(|&r| r > 0.0) && results.iter().any(|&r| r < 0.0),
            "{method}: {results:?}"
        );
        assert!(
            results.iter().all(|r| r.abs() < 0.25),
            "{method}: {results:?}"
        );
        chart_has_its_parts(
            &out.path().join(format!("{method}-payment-vs-cost.svg")),
            &method.to_uppercase(),
            hospitals.len(),
        );
    }
}

/// The chart names its method in the title, has a legend, two y axes in 10,000 yuan
/// with ticks, the hospitals on the x axis and the settlement result.
fn chart_has_its_parts(path: &Path, method: &str, hospitals: usize) {
    let svg = std::fs::read_to_string(path).expect("the chart is written");
    assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
    assert!(svg.trim_end().ends_with("</svg>"));
    assert!(
        svg.contains(&format!(">{method}: payment vs cost by hospital</text>")),
        "title"
    );
    for legend in [
        ">payment standard (Σ per case)</text>",
        ">total cost</text>",
        ">settlement surplus</text>",
        ">settlement deficit</text>",
    ] {
        assert!(svg.contains(legend), "legend {legend}");
    }
    assert_eq!(
        svg.matches(">10,000 yuan</text>").count(),
        2,
        "two y axis titles"
    );
    assert!(svg.contains(">hospital</text>"), "x axis title");
    assert!(svg.contains("Year-end settlement: surplus or deficit"));
    assert!(svg.contains("; settlement surplus/deficit "), "subtitle");
    // Ticks: a zero on each axis and more labels right-aligned beside them.
    assert!(svg.matches("text-anchor=\"end\">0</text>").count() >= 2);
    // (The rotated hospital labels are right-aligned too, but carry a transform; they
    // are checked one by one below.)
    assert!(svg.matches("text-anchor=\"end\">").count() >= 8);
    // Two bars per hospital above, one result bar per hospital settled alone below.
    let bars = svg.matches("<rect x=").count();
    assert!(bars >= 2 * hospitals + hospitals / 2, "{bars} bars");
    for i in 1..=hospitals {
        assert!(svg.contains(&format!(">H{i:03}</text>")), "x label H{i:03}");
    }
}

#[test]
fn the_committed_calibration_is_what_the_tool_makes() {
    let out = tempfile::tempdir().expect("temp dir");
    let o = Command::new("bash")
        .arg("tools/make_demo_weights.sh")
        .arg(out.path())
        .env("DRGDIP", env!("CARGO_BIN_EXE_drgdip"))
        .current_dir(root())
        .output()
        .expect("bash runs");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    for f in ["demo-weights.csv", "demo-scores.csv"] {
        let made = std::fs::read_to_string(out.path().join(f)).expect("made");
        let committed = std::fs::read_to_string(root().join("data").join(f)).expect("committed");
        assert!(
            made == committed,
            "data/{f} is not what tools/make_demo_weights.sh makes: run it and commit the result"
        );
    }
}
