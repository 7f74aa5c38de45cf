//! Synthetic cases look like a city's: codes, ages, sexes and hospitals fit together
//! (checked here with rules written independently of the generator's), and nearly all
//! of them group. The demo scheme always; CHS-DRG 1.1 when `../shared` is present.

mod common;

use drgdip::grouper::{Grouper, Scheme};
use drgdip::io::synth::{GEN_HEADER, GenConfig, Generator};

fn generate(scheme: &Scheme, grouper: &Grouper, n: u64, seed: u64) -> Vec<u8> {
    let g = Generator::new(
        scheme,
        grouper,
        GenConfig {
            seed,
            ..GenConfig::default()
        },
    );
    let mut out = format!("{GEN_HEADER}\n").into_bytes();
    g.generate(n, |t| {
        out.extend_from_slice(t.as_bytes());
        Ok(())
    })
    .expect("in memory");
    out
}

/// The ICD-9-CM-3 chapter of a procedure (`74.1x01` → 74).
fn chapter(code: &str) -> u32 {
    code.get(..2).and_then(|c| c.parse().ok()).unwrap_or(0)
}

#[derive(Default, Debug)]
struct Shares {
    cases: u64,
    newborns: u64,
    obstetric: u64,
    deaths: u64,
    grouped: u64,
}

/// Checks every rule on every generated case; returns the shares and the violations.
fn check(bytes: &[u8], grouped_rows: &[csv::StringRecord]) -> (Shares, Vec<String>) {
    let mut rdr = csv::Reader::from_reader(bytes);
    let h = rdr.headers().expect("header").clone();
    let col = |n: &str| h.iter().position(|c| c == n).expect(n);
    let [sex, age, age_days, weight, way, dx, px, level] = [
        "sex",
        "age",
        "age_days",
        "weight",
        "discharge_way",
        "diagnoses",
        "procedures",
        "hospital_level",
    ]
    .map(col);
    let mut bad = Vec::new();
    let mut s = Shares::default();
    for (r, g) in rdr.records().zip(grouped_rows) {
        let r = r.expect("row");
        let id = &r[0];
        let sex: u8 = r[sex].parse().expect("sex");
        let age: i64 = r[age].parse().expect("age");
        let days: i64 = r[age_days].parse().expect("age_days");
        let dxs: Vec<&str> = r[dx].split('|').filter(|c| !c.is_empty()).collect();
        let pxs: Vec<&str> = r[px].split('|').filter(|c| !c.is_empty()).collect();
        let newborn = age == 0 && days <= 28;
        let woman_15_50 = sex == 2 && (15..=50).contains(&age);
        s.cases += 1;
        s.newborns += u64::from(newborn);
        s.deaths += u64::from(&r[way] == "5");
        s.grouped += u64::from(&g[1] == "grouped");
        if newborn == r[weight].is_empty() {
            bad.push(format!(
                "{id}: birth weight `{}` at {days} days",
                &r[weight]
            ));
        }
        for d in &dxs {
            if d.starts_with('P') && !newborn {
                bad.push(format!("{id}: newborn code {d} at {days} days"));
            }
            if d.starts_with('O') && !woman_15_50 {
                bad.push(format!("{id}: obstetric code {d} for sex {sex} age {age}"));
            }
            if newborn && !(d.starts_with('P') || d.starts_with('Q')) {
                bad.push(format!("{id}: {d} in a newborn"));
            }
        }
        if dxs.first().is_some_and(|d| d.starts_with('O')) {
            s.obstetric += 1;
        }
        for p in &pxs {
            let ch = chapter(p);
            if (72..=75).contains(&ch) && !woman_15_50 {
                bad.push(format!(
                    "{id}: obstetric procedure {p} for sex {sex} age {age}"
                ));
            }
            if p.starts_with("36.0") && age < 18 {
                bad.push(format!("{id}: coronary intervention {p} at age {age}"));
            }
            if newborn && !matches!(ch, 30..=34 | 38..=39 | 86..=99) {
                bad.push(format!("{id}: operation {p} on a newborn"));
            }
            // The demo's major operations (lobectomies 32.2001–32.2003, coronary stents 36.06):
            // national 32.2… codes include minor ones a level-1 hospital may do.
            let major = p.starts_with("36.06") || ["32.2001", "32.2002", "32.2003"].contains(p);
            if major && ["0", "1"].contains(&&r[level]) {
                bad.push(format!("{id}: {p} in a level-{} hospital", &r[level]));
            }
        }
    }
    (s, bad)
}

fn realistic(scheme: &Scheme, n: u64, min_grouped: f64) -> Shares {
    let grouper = Grouper::compile(scheme).expect("compiles");
    let bytes = generate(scheme, &grouper, n, 11);
    let rows = common::group_csv(&grouper, &bytes, 2);
    let (s, bad) = check(&bytes, &rows);
    assert!(
        bad.is_empty(),
        "{}: {} incoherent cases, e.g.\n{}",
        scheme.info.name,
        bad.len(),
        bad[..bad.len().min(10)].join("\n")
    );
    let share = |k: u64| k as f64 / s.cases as f64;
    assert!(share(s.grouped) >= min_grouped, "{s:?}");
    assert!(share(s.newborns) < 0.15, "too many newborns: {s:?}");
    assert!(share(s.obstetric) < 0.20, "too many births: {s:?}");
    assert!(share(s.deaths) < 0.02, "too many deaths: {s:?}");
    s
}

#[test]
fn demo_cases_fit_together_and_nearly_all_group() {
    let (scheme, _) = common::demo();
    let s = realistic(&scheme, 30_000, 0.97);
    // Some of each kind of patient the rules are about.
    assert!(s.newborns > 300 && s.obstetric > 300, "{s:?}");
    // A few cases stay ungroupable, as in a real city.
    assert!(s.grouped < s.cases, "{s:?}");
}

#[test]
#[cfg_attr(
    drgdip_no_shared,
    ignore = "needs ../shared (the real national schemes), which is not beside this checkout"
)]
fn national_cases_fit_together() {
    let Some(dir) = common::shared("schemes/chs-drg-1.1") else {
        return;
    };
    let scheme = Scheme::from_dir(&dir).expect("CHS-DRG 1.1 reads");
    realistic(&scheme, 30_000, 0.90);
}
