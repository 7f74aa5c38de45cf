//! Deterministic synthetic cases for a scheme (`drgdip gen`).
//!
//! Case `i` depends only on the seed and `i` (its own random stream), so any thread
//! count produces the same file. Cases use the scheme's real codes with a plausible
//! structure: a principal diagnosis from an ADRG entry's or MDC's list, procedures from
//! the entry's procedure lists, secondary diagnoses including CC/MCC, newborns with age
//! in days and birth weight, LOS and discharge way; plus hospital, level, insurance type,
//! dates and a total cost that depends on the DRG the case groups into.

use std::fmt::Write as _;

use drgdip_grouper::rule::{Rule, Shape};
use drgdip_grouper::scheme::{OR_PROCEDURES, Scheme};
use drgdip_grouper::{Case, CodeKind, Grouper, Scratch, Status};
use rayon::prelude::*;

/// The columns `drgdip gen` writes.
pub const GEN_HEADER: &str = "case_id,sex,age,age_days,weight,dept,los,discharge_way,diagnoses,procedures,\
hospital_id,hospital_level,insurance_type,person_id,admit_date,discharge_date,total_cost,covered_cost,\
self_paid,day_surgery,referral,icu_days,vent_hours";

/// A small, fast, well-mixed generator (SplitMix64).
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A stream for item `index` of a run seeded with `seed`.
    pub fn new(seed: u64, index: u64) -> Rng {
        let mut r = Rng(seed ^ index.wrapping_mul(0xD1B5_4A32_D192_ED03));
        r.next_u64();
        r
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: usize) -> usize {
        ((self.next_u64() >> 11) % n as u64) as usize
    }

    /// Uniform in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    /// A standard normal draw (Box–Muller).
    pub fn normal(&mut self) -> f64 {
        let u = self.unit().max(1e-12);
        let v = self.unit();
        (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
    }

    /// One element of a non-empty slice.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// What the generator draws from, per ADRG rule entry.
struct Target {
    dx: Vec<String>,
    px: Vec<String>,
    newborn: bool,
    sex: Option<u8>,
}

/// Generation settings.
#[derive(Debug, Clone)]
pub struct GenConfig {
    /// Seed.
    pub seed: u64,
    /// Number of hospitals.
    pub hospitals: usize,
    /// Year of the discharge dates.
    pub year: i32,
}

impl Default for GenConfig {
    fn default() -> Self {
        GenConfig {
            seed: 1,
            hospitals: 40,
            year: 2025,
        }
    }
}

/// A compiled generator for one scheme.
pub struct Generator<'g> {
    grouper: &'g Grouper,
    targets: Vec<Target>,
    secondary: Vec<String>,
    mcc: Vec<String>,
    cc: Vec<String>,
    or_procs: Vec<String>,
    config: GenConfig,
}

const DEPTS: [&str; 8] = [
    "内科",
    "外科",
    "妇产科",
    "儿科",
    "ICU",
    "神经内科",
    "心内科",
    "骨科",
];

fn lists_in(
    rule: &Rule,
    dx: &mut Vec<String>,
    px: &mut Vec<String>,
    sex: &mut Option<u8>,
    newborn: &mut bool,
) {
    rule.visit(&mut |r| match r.shape() {
        Shape::InList(set, l) if set.is_dx() => dx.push(l.to_string()),
        Shape::DistinctMin(set, l, _) if set.is_dx() => dx.push(l.to_string()),
        Shape::InList(_, l) | Shape::ProcGroup(l, _) | Shape::DistinctMin(_, l, _) => {
            px.push(l.to_string())
        }
        Shape::SexEq(v) => *sex = Some(v),
        Shape::Compare(f, _, _) | Shape::Present(f)
            if matches!(
                f,
                drgdip_grouper::rule::Field::AgeDays | drgdip_grouper::rule::Field::Weight
            ) =>
        {
            *newborn = true
        }
        Shape::Compare(drgdip_grouper::rule::Field::Age, drgdip_grouper::rule::Cmp::Eq, 0) => {
            *newborn = true
        }
        _ => {}
    });
}

impl<'g> Generator<'g> {
    /// Prepares the code pools of a scheme.
    pub fn new(scheme: &Scheme, grouper: &'g Grouper, config: GenConfig) -> Self {
        let r = &scheme.rules;
        let codes = |list: &str| -> Vec<String> {
            if list == OR_PROCEDURES {
                scheme.or_procedures.clone()
            } else {
                r.lists
                    .get(list)
                    .map(|l| l.codes.clone())
                    .unwrap_or_default()
            }
        };
        let mut targets = Vec::new();
        for m in &r.mdcs {
            let (mut mdx, mut mpx, mut msex, mut mnew) = (Vec::new(), Vec::new(), None, false);
            lists_in(&m.entry_rule, &mut mdx, &mut mpx, &mut msex, &mut mnew);
            for id in &m.adrgs {
                let Some(e) = r.adrgs.iter().find(|e| &e.adrg == id) else {
                    continue;
                };
                let (mut dx, mut px, mut sex, mut newborn) = (Vec::new(), Vec::new(), msex, mnew);
                lists_in(&e.rule, &mut dx, &mut px, &mut sex, &mut newborn);
                let dx_lists = if dx.is_empty() { &mdx } else { &dx };
                let dx: Vec<String> = dx_lists.iter().flat_map(|l| codes(l)).collect();
                let mdc_dx: Vec<String> = mdx.iter().flat_map(|l| codes(l)).collect();
                let px: Vec<String> = px.iter().flat_map(|l| codes(l)).collect();
                let dx = if dx.is_empty() { mdc_dx } else { dx };
                if dx.is_empty() {
                    continue;
                }
                targets.push(Target {
                    dx,
                    px,
                    newborn,
                    sex,
                });
            }
        }
        let mut secondary: Vec<String> = scheme.dx_names.iter().map(|(c, _)| c.clone()).collect();
        if secondary.is_empty() {
            secondary = targets.iter().flat_map(|t| t.dx.iter().cloned()).collect();
        }
        Generator {
            grouper,
            targets,
            secondary,
            mcc: scheme.mcc.iter().map(|t| t.code.clone()).collect(),
            cc: scheme.cc.iter().map(|t| t.code.clone()).collect(),
            or_procs: scheme.or_procedures.clone(),
            config,
        }
    }

    /// Appends case `i` as one CSV line (no header) to `out`.
    pub fn write_case(&self, i: u64, case: &mut Case, scratch: &mut Scratch, out: &mut String) {
        let mut rng = Rng::new(self.config.seed, i);
        let t = rng.pick(&self.targets);
        let mut dx: Vec<&str> = vec![rng.pick(&t.dx).as_str()];
        let n_secondary = rng.below(6);
        for _ in 0..n_secondary {
            let pool = match rng.below(10) {
                0..=1 if !self.mcc.is_empty() => &self.mcc,
                2..=4 if !self.cc.is_empty() => &self.cc,
                _ => &self.secondary,
            };
            dx.push(rng.pick(pool).as_str());
        }
        let mut px: Vec<&str> = Vec::new();
        if !t.px.is_empty() && rng.chance(0.85) {
            px.push(rng.pick(&t.px).as_str());
            if rng.chance(0.3) {
                px.push(rng.pick(&t.px).as_str());
            }
        }
        if rng.chance(0.15) && !self.or_procs.is_empty() {
            px.push(rng.pick(&self.or_procs).as_str());
        }
        let sex = t.sex.unwrap_or(1 + rng.below(2) as u8);
        let newborn = t.newborn || rng.chance(0.01);
        let (age, age_days, weight) = if newborn {
            let days = rng.below(29) as i64;
            let weight = (3200.0 + 650.0 * rng.normal()).clamp(600.0, 5200.0) as i64;
            (0, days, Some(weight))
        } else {
            let age = 1 + rng.below(95) as i64;
            (age, age * 365 + rng.below(365) as i64, None)
        };
        let los = (1.0 + (1.9 + 0.6 * rng.normal()).exp()).min(180.0) as i64;
        let discharge_way =
            *rng.pick(&["1", "1", "1", "1", "1", "1", "1", "2", "3", "4", "5", "9"]);
        let dept = *rng.pick(&DEPTS);

        // Group the case so that its cost can depend on its DRG.
        let g = self.grouper;
        case.clear();
        case.sex = Some(sex);
        case.age = Some(age);
        case.age_days = Some(age_days);
        case.weight = weight;
        case.los = Some(los);
        case.dept.push_str(dept);
        case.discharge_way.push_str(discharge_way);
        case.dx.extend(
            dx.iter()
                .map(|c| g.lookup(c, CodeKind::Diagnosis, false).id),
        );
        case.px.extend(
            px.iter()
                .map(|c| g.lookup(c, CodeKind::Procedure, false).id),
        );
        let outcome = g.group(case, scratch);
        let drg = &g.result(&outcome).drg;

        let hospital = rng.below(self.config.hospitals);
        let level = hospital_level(hospital, self.config.hospitals);
        let level_factor = [0.55, 0.7, 0.85, 1.0][level as usize];
        let base = group_base_cost(drg, outcome.status, !px.is_empty());
        let cost = (base
            * level_factor
            * (0.35 * rng.normal()).exp()
            * (0.6 + 0.08 * los as f64).min(3.0))
        .max(120.0);
        let total_fen = (cost * 100.0).round() as i64;
        let covered_fen = total_fen * (75 + rng.below(21) as i64) / 100;
        let self_fen = (total_fen - covered_fen) * rng.below(60) as i64 / 100;
        let insurance = if rng.chance(0.55) {
            "employee"
        } else {
            "resident"
        };
        let person = rng.next_u64() % 900_000;
        let (admit, discharge) = dates(&mut rng, self.config.year, los);
        let day_surgery = u8::from(los <= 1 && !px.is_empty() && rng.chance(0.5));
        let referral = match rng.below(100) {
            0..=2 => "up",
            3..=4 => "down",
            _ => "",
        };
        let icu_days = if rng.chance(0.05) {
            1 + rng.below(20)
        } else {
            0
        };
        let vent_hours = if icu_days > 0 && rng.chance(0.4) {
            rng.below(240)
        } else {
            0
        };

        let _ = write!(out, "G{:08},{sex},{age},{age_days},", i + 1);
        if let Some(w) = weight {
            let _ = write!(out, "{w}");
        }
        let _ = write!(
            out,
            ",{dept},{los},{discharge_way},{},{},",
            dx.join("|"),
            px.join("|")
        );
        let _ = writeln!(
            out,
            "H{:03},{level},{insurance},P{person:07},{admit},{discharge},{},{},{},{day_surgery},{referral},{icu_days},{vent_hours}",
            hospital + 1,
            fen(total_fen),
            fen(covered_fen),
            fen(self_fen),
        );
    }

    /// Generates cases `0..n` in parallel, calling `sink` with each chunk's CSV text in order.
    pub fn generate(
        &self,
        n: u64,
        mut sink: impl FnMut(&str) -> std::io::Result<()>,
    ) -> std::io::Result<()> {
        const CHUNK: u64 = 1 << 15;
        let chunks: Vec<u64> = (0..n.div_ceil(CHUNK)).collect();
        for batch in chunks.chunks(rayon::current_num_threads().max(1) * 4) {
            let texts: Vec<String> = batch
                .par_iter()
                .map_init(
                    || (Case::default(), self.grouper.scratch()),
                    |(case, scratch), &c| {
                        let mut s = String::with_capacity(CHUNK as usize * 160);
                        for i in c * CHUNK..((c + 1) * CHUNK).min(n) {
                            self.write_case(i, case, scratch, &mut s);
                        }
                        s
                    },
                )
                .collect();
            for t in &texts {
                sink(t)?;
            }
        }
        Ok(())
    }
}

/// The level of hospital `h` of `n`: a few tertiary (3), more secondary (2), first-level
/// (1) and primary-care (0) hospitals.
pub fn hospital_level(h: usize, n: usize) -> u8 {
    let share = h * 100 / n.max(1);
    match share {
        0..=14 => 3,
        15..=49 => 2,
        50..=69 => 1,
        _ => 0,
    }
}

/// A deterministic base cost per group: higher for surgery and for severity digits 1 and 3.
fn group_base_cost(drg: &str, status: Status, surgical: bool) -> f64 {
    if status != Status::Grouped {
        return 6000.0;
    }
    let h = drg.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ b as u64).wrapping_mul(0x0100_0000_01b3)
    });
    let base = 2500.0 + (h % 25_000) as f64;
    let severity = match drg.as_bytes().get(3) {
        Some(b'1') => 1.8,
        Some(b'3') => 1.3,
        _ => 1.0,
    };
    base * severity * if surgical { 1.6 } else { 1.0 }
}

fn fen(v: i64) -> String {
    format!("{}.{:02}", v / 100, v % 100)
}

/// Admission and discharge dates inside `year`, `los` days apart.
fn dates(rng: &mut Rng, year: i32, los: i64) -> (String, String) {
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    let days_in_year = if leap { 366 } else { 365 };
    let los = los.min(days_in_year - 1);
    let admit = rng.below((days_in_year - los) as usize) as i64;
    let fmt = |doy: i64| {
        let months = [
            31,
            if leap { 29 } else { 28 },
            31,
            30,
            31,
            30,
            31,
            31,
            30,
            31,
            30,
            31,
        ];
        let mut d = doy;
        let mut m = 0;
        while d >= months[m] {
            d -= months[m];
            m += 1;
        }
        format!("{year}-{:02}-{:02}", m + 1, d + 1)
    };
    (fmt(admit), fmt(admit + los))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rng_is_deterministic_and_spread() {
        let a: Vec<u64> = (0..5).map(|i| Rng::new(7, i).next_u64()).collect();
        let b: Vec<u64> = (0..5).map(|i| Rng::new(7, i).next_u64()).collect();
        assert_eq!(a, b);
        let mut r = Rng::new(1, 1);
        let mut buckets = [0u32; 4];
        for _ in 0..4000 {
            buckets[r.below(4)] += 1;
        }
        assert!(
            buckets.iter().all(|&n| (850..1150).contains(&n)),
            "{buckets:?}"
        );
    }

    #[test]
    fn dates_stay_inside_the_year() {
        let mut r = Rng::new(3, 3);
        for los in [0, 1, 30, 180, 400] {
            let (a, d) = dates(&mut r, 2024, los);
            assert!(a.starts_with("2024-") && d.starts_with("2024-"), "{a} {d}");
        }
        assert_eq!(fen(12_345), "123.45");
        assert_eq!(fen(5), "0.05");
    }
}

/// A city's procedure-attribute table (DIP composite types) for cases generated from
/// `scheme`: its operating-room procedures are `surgery`, `99*` `therapeutic`, `87*` and
/// `88*` `diagnostic`; other codes take the catalogue's default. For calibrating the
/// national DIP catalogue on generated history (tests, benchmarks).
pub fn attribute_table(scheme: &Scheme) -> Vec<drgdip_grouper::dip::source::AttributeRow> {
    use drgdip_grouper::dip::source::AttributeRow;
    let mut rows: Vec<AttributeRow> = scheme
        .or_procedures
        .iter()
        .map(|code| AttributeRow {
            code: code.clone(),
            attribute: "surgery".into(),
            ..AttributeRow::default()
        })
        .collect();
    for (code, attribute) in [
        ("99*", "therapeutic"),
        ("87*", "diagnostic"),
        ("88*", "diagnostic"),
    ] {
        rows.push(AttributeRow {
            code: code.into(),
            attribute: attribute.into(),
            ..AttributeRow::default()
        });
    }
    for (i, r) in rows.iter_mut().enumerate() {
        r.line = i as u64 + 2;
    }
    rows
}
