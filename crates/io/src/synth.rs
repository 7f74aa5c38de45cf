//! Deterministic synthetic cases for a scheme (`drgdip gen`).
//!
//! Case `i` depends only on the seed and `i` (its own random stream), so any thread
//! count produces the same file. Cases use the scheme's real codes and fit together as
//! in a city's hospitals:
//!
//! - the principal diagnosis comes from an ADRG entry's (or its MDC's) list; the
//!   patient follows from it: perinatal codes (P00–P96) make a newborn (0–28 days, a
//!   birth weight that fits the immaturity code), obstetric codes a woman of 16–48,
//!   adult diseases (coronary disease, stroke, COPD, diabetes…) a patient of 30+;
//! - procedures come from the entry's lists and must fit the patient ([`Patient::fits_px`]:
//!   obstetric procedures only for women of 15–50, no heart or abdominal operation on a
//!   newborn, coronary interventions from 18); secondary diagnoses (more for older
//!   patients, CC/MCC among them) likewise ([`Patient::fits_dx`]);
//! - a case that does not group is drawn again (up to [`ATTEMPTS`] times), so a few
//!   percent stay ungroupable, as in a real city;
//! - the cost is the treatment's (typical figures per diagnosis category and
//!   procedure) × severity (MCC 1.45, CC 1.2) × the hospital level's factor × the
//!   hospital's own efficiency × the stay's deviation from its expected length × noise;
//!   2% of stays are complicated (twice as long, 2–3.5 times dearer); major operations
//!   happen only in secondary and tertiary hospitals; the length of stay grows with
//!   the treatment's cost, age and severity; 0.7% of patients die.

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
    /// Cumulative prevalence of `dx` (for a weighted draw).
    dx_cum: Vec<f64>,
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
    /// Cumulative weights of `targets`.
    target_cum: Vec<f64>,
    secondary: Vec<String>,
    mcc: Vec<String>,
    cc: Vec<String>,
    config: GenConfig,
}

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
        let mut weights = Vec::new();
        for m in &r.mdcs {
            let (mut mdx, mut mpx, mut msex, mut mnew) = (Vec::new(), Vec::new(), None, false);
            lists_in(&m.entry_rule, &mut mdx, &mut mpx, &mut msex, &mut mnew);
            for id in &m.adrgs {
                let Some(e) = r.adrgs.iter().find(|e| &e.adrg == id) else {
                    continue;
                };
                let (mut dx, mut px, mut sex, mut newborn) = (Vec::new(), Vec::new(), msex, mnew);
                lists_in(&e.rule, &mut dx, &mut px, &mut sex, &mut newborn);
                let own_dx_empty = dx.is_empty();
                let dx_lists = if dx.is_empty() { &mdx } else { &dx };
                let dx: Vec<String> = dx_lists.iter().flat_map(|l| codes(l)).collect();
                let mdc_dx: Vec<String> = mdx.iter().flat_map(|l| codes(l)).collect();
                let px: Vec<String> = px.iter().flat_map(|l| codes(l)).collect();
                let mut dx = if dx.is_empty() { mdc_dx } else { dx };
                // Principal diagnoses the entry's patients can have: perinatal codes
                // only where the entry is for newborns (or has nothing else).
                let fitting: Vec<String> = dx
                    .iter()
                    .filter(|c| newborn == is_perinatal(c))
                    .cloned()
                    .collect();
                if !fitting.is_empty() {
                    dx = fitting;
                }
                if sex == Some(1) {
                    dx.retain(|c| !is_obstetric(c) && !female_dx(c));
                }
                if dx.is_empty() {
                    continue;
                }
                let dx_cum = cumulative(dx.iter().map(|c| prevalence(c)));
                // An entry by procedure only (its diagnoses are its MDC's) takes a part
                // of the MDC's cases, not as many as a diagnosis entry.
                let by_procedure_only = own_dx_empty && !px.is_empty();
                let weight = dx_cum.last().copied().unwrap_or(0.0) / dx.len() as f64
                    * if by_procedure_only { 0.3 } else { 1.0 };
                weights.push(weight);
                targets.push(Target {
                    dx,
                    dx_cum,
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
            target_cum: cumulative(weights.into_iter()),
            targets,
            secondary,
            mcc: scheme.mcc.iter().map(|t| t.code.clone()).collect(),
            cc: scheme.cc.iter().map(|t| t.code.clone()).collect(),
            config,
        }
    }

    /// Appends case `i` as one CSV line (no header) to `out`.
    ///
    /// The case is drawn until it groups (at most [`ATTEMPTS`] times, each from the same
    /// random stream, so the result still depends only on the seed and `i`); a case
    /// that never groups is written as last drawn, so a few stay ungroupable.
    pub fn write_case(&self, i: u64, case: &mut Case, scratch: &mut Scratch, out: &mut String) {
        let mut rng = Rng::new(self.config.seed, i);
        let mut draw = Draw::default();
        for _ in 0..ATTEMPTS {
            self.draw_case(&mut rng, &mut draw);
            if self.group(&draw, case, scratch) == Status::Grouped {
                break;
            }
        }
        self.write_draw(i, &mut rng, &draw, out);
    }

    /// Draws the clinical part of a case: principal diagnosis, then the patient it
    /// implies, then procedures and secondary diagnoses that fit that patient.
    fn draw_case<'a>(&'a self, rng: &mut Rng, d: &mut Draw<'a>) {
        d.dx.clear();
        d.px.clear();
        let t = &self.targets[weighted(rng, &self.target_cum)];
        let pdx = t.dx[weighted(rng, &t.dx_cum)].as_str();
        d.dx.push(pdx);
        let newborn = t.newborn || is_perinatal(pdx);
        d.sex = t.sex.unwrap_or_else(|| sex_for(pdx, rng));
        (d.age, d.age_days, d.weight) = if newborn {
            let days = rng.below(29) as i64;
            (0, days, Some(birth_weight(pdx, rng)))
        } else {
            let age = age_for(pdx, d.sex, rng);
            (age, age * 365 + rng.below(365) as i64, None)
        };
        let patient = Patient {
            sex: d.sex,
            age_days: d.age_days,
        };
        // Procedures: the entry's own (a surgical entry's case had its operation).
        if !t.px.is_empty()
            && rng.chance(0.97)
            && let Some(p) = pick_fitting(rng, &t.px, |c| patient.fits_px(c))
        {
            d.px.push(p);
            if rng.chance(0.15)
                && let Some(q) = pick_fitting(rng, &t.px, |c| patient.fits_px(c))
                && q != p
            {
                d.px.push(q);
            }
        }
        // Secondary diagnoses: more for older patients; CC/MCC among them.
        let max_secondary = match d.age {
            0 => 2,
            1..=17 => 2,
            18..=59 => 4,
            _ => 6,
        };
        for _ in 0..rng.below(max_secondary + 1) {
            let pool = match rng.below(20) {
                0 if !self.mcc.is_empty() => &self.mcc,
                1..=4 if !self.cc.is_empty() => &self.cc,
                _ => &self.secondary,
            };
            if let Some(c) = pick_fitting(rng, pool, |c| patient.fits_dx(c))
                && !d.dx.contains(&c)
            {
                d.dx.push(c);
            }
        }
        d.los_mean = self.los_mean(d);
        d.los = (d.los_mean * (0.35 * rng.normal()).exp())
            .round()
            .clamp(1.0, 180.0) as i64;
        d.complicated = rng.chance(COMPLICATED);
        if d.complicated {
            d.los = (d.los * 2 + 3).min(180);
        }
    }

    /// Groups a drawn case: its status.
    fn group(&self, d: &Draw<'_>, case: &mut Case, scratch: &mut Scratch) -> Status {
        let g = self.grouper;
        case.clear();
        case.sex = Some(d.sex);
        case.age = Some(d.age);
        case.age_days = Some(d.age_days);
        case.weight = d.weight;
        case.los = Some(d.los);
        case.dept.push_str(dept_for(d.dx[0]));
        case.discharge_way.push('1');
        case.dx.extend(
            d.dx.iter()
                .map(|c| g.lookup(c, CodeKind::Diagnosis, false).id),
        );
        case.px.extend(
            d.px.iter()
                .map(|c| g.lookup(c, CodeKind::Procedure, false).id),
        );
        g.group(case, scratch).status
    }

    /// Expected length of stay: longer for dearer treatment, older patients and
    /// complications.
    fn los_mean(&self, d: &Draw<'_>) -> f64 {
        let base = dx_base_cost(d.dx[0]) + d.px.iter().map(|p| px_cost(p)).sum::<f64>() * 0.4;
        let age = if d.age >= 65 { 1.2 } else { 1.0 };
        // Small newborns stay for weeks.
        let immature = match d.weight {
            Some(w) if w < 1500 => 4.0,
            Some(w) if w < 2500 => 1.8,
            _ => 1.0,
        };
        ((base / 1300.0).sqrt() * 2.2 * age * immature * self.severity(d)).clamp(2.0, 45.0)
    }

    /// 1.45 with an MCC among the secondary diagnoses, 1.2 with a CC, else 1.
    fn severity(&self, d: &Draw<'_>) -> f64 {
        let sec = &d.dx[1..];
        if sec.iter().any(|c| self.mcc.iter().any(|m| m == c)) {
            1.45
        } else if sec.iter().any(|c| self.cc.iter().any(|m| m == c)) {
            1.2
        } else {
            1.0
        }
    }

    fn write_draw(&self, i: u64, rng: &mut Rng, d: &Draw<'_>, out: &mut String) {
        let (sex, age, age_days, los) = (d.sex, d.age, d.age_days, d.los);
        let dept = dept_for(d.dx[0]);
        let discharge_way = match rng.below(1000) {
            0..=899 => "1",
            900..=929 => "2",
            930..=939 => "3",
            940..=979 => "4",
            980..=986 => "5",
            _ => "9",
        };
        // Major operations happen in secondary and tertiary hospitals.
        let major = d.px.iter().any(|p| px_cost(p) >= MAJOR_OPERATION);
        let mut hospital = rng.below(self.config.hospitals);
        if major {
            let big = (self.config.hospitals / 2).max(1);
            hospital = rng.below(big);
        }
        let level = hospital_level(hospital, self.config.hospitals);
        let cost = self.cost(d, rng, level, hospital);
        let total_fen = (cost * 100.0).round() as i64;
        let covered_fen = total_fen * (82 + rng.below(15) as i64) / 100;
        let self_fen = (total_fen - covered_fen) * rng.below(60) as i64 / 100;
        let insurance = if d.age < 18 || d.age > 75 || !rng.chance(0.62) {
            "resident"
        } else {
            "employee"
        };
        let person = rng.next_u64() % 900_000;
        let (admit, discharge) = dates(rng, self.config.year, los);
        let day_surgery = u8::from(los <= 1 && !d.px.is_empty() && rng.chance(0.5));
        let referral = match rng.below(100) {
            0..=2 => "up",
            3..=4 => "down",
            _ => "",
        };
        let sick = d.complicated || self.severity(d) > 1.4;
        let icu_days = if sick && rng.chance(0.3) {
            1 + rng.below(10)
        } else {
            0
        };
        let vent_hours = if icu_days > 0 && rng.chance(0.4) {
            rng.below(24 * icu_days)
        } else {
            0
        };

        let _ = write!(out, "G{:08},{sex},{age},{age_days},", i + 1);
        if let Some(w) = d.weight {
            let _ = write!(out, "{w}");
        }
        let _ = write!(
            out,
            ",{dept},{los},{discharge_way},{},{},",
            d.dx.join("|"),
            d.px.join("|")
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

    /// The total cost in yuan: the treatment (principal diagnosis, operations,
    /// severity) × the hospital's level and own efficiency × the stay's deviation from
    /// its expected length × noise; a complicated stay costs 2–3.5 times more.
    fn cost(&self, d: &Draw<'_>, rng: &mut Rng, level: u8, hospital: usize) -> f64 {
        let mut px: Vec<f64> = d.px.iter().map(|p| px_cost(p)).collect();
        px.sort_by(|a, b| b.total_cmp(a));
        let procedures = px.first().copied().unwrap_or(0.0) + px.iter().skip(1).sum::<f64>() * 0.3;
        let newborn = match d.weight {
            Some(w) if w < 1000 => 6.0,
            Some(w) if w < 1500 => 3.5,
            Some(w) if w < 2500 => 1.8,
            _ => 1.0,
        };
        let treatment = (dx_base_cost(d.dx[0]) * newborn + procedures) * self.severity(d);
        let level_factor = LEVEL_COST[level as usize];
        let efficiency = (0.07 * Rng::new(0x4845_4f53, hospital as u64).normal()).exp();
        let stay = (d.los as f64 / d.los_mean).powf(0.35);
        let complication = if d.complicated {
            2.0 + 1.5 * rng.unit()
        } else {
            1.0
        };
        (treatment * level_factor * efficiency * stay * complication * (0.2 * rng.normal()).exp())
            .max(150.0)
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

/// How often a case is drawn again when it does not group.
pub const ATTEMPTS: usize = 4;

/// The share of stays with a complication (longer, 2–3.5 times dearer): most of the
/// high-cost outliers.
const COMPLICATED: f64 = 0.02;

/// An operation at least this dear (yuan) is done in secondary or tertiary hospitals.
const MAJOR_OPERATION: f64 = 15_000.0;

/// Cost factor by hospital level 0..=3: the same as the demo policy's level
/// coefficients, so that payments and costs balance per level.
const LEVEL_COST: [f64; 4] = [0.75, 0.85, 0.95, 1.10];

/// A case being drawn.
#[derive(Default)]
struct Draw<'a> {
    dx: Vec<&'a str>,
    px: Vec<&'a str>,
    sex: u8,
    age: i64,
    age_days: i64,
    weight: Option<i64>,
    los: i64,
    los_mean: f64,
    complicated: bool,
}

/// Who a code must fit.
#[derive(Debug, Clone, Copy)]
pub struct Patient {
    /// 1 male, 2 female.
    pub sex: u8,
    /// Age in days.
    pub age_days: i64,
}

/// The 3-character category of an ICD-10 code as a number: `O80.000` → (`O`, 80).
fn category(code: &str) -> Option<(u8, u32)> {
    let b = code.as_bytes();
    let letter = b.first()?.to_ascii_uppercase();
    let n = code.get(1..3)?.parse().ok()?;
    Some((letter, n))
}

/// The ICD-9-CM-3 category of a procedure code as a number: `74.1x01` → 74.
fn px_chapter(code: &str) -> Option<u32> {
    code.get(..2)?.parse().ok()
}

/// A perinatal code (ICD-10 P00–P96), given only to newborns.
fn is_perinatal(code: &str) -> bool {
    matches!(category(code), Some((b'P', _)))
}

/// An obstetric code (O00–O99, Z37), given only to women of 15–50.
fn is_obstetric(code: &str) -> bool {
    matches!(category(code), Some((b'O', _)) | Some((b'Z', 37)))
}

/// A diagnosis only women have (besides obstetric codes): female genital organs.
fn female_dx(code: &str) -> bool {
    matches!(
        category(code),
        Some((b'C', 51..=58)) | Some((b'D', 25..=28)) | Some((b'N', 70..=98))
    )
}

/// A diagnosis only men have: male genital organs.
fn male_dx(code: &str) -> bool {
    matches!(
        category(code),
        Some((b'C', 60..=63)) | Some((b'N', 40..=51))
    )
}

/// Diseases of adults (coronary disease, stroke, COPD, type 2 diabetes, hypertension…).
fn adult_dx(code: &str) -> bool {
    matches!(
        category(code),
        Some((b'I', 10..=15))
            | Some((b'I', 20..=25))
            | Some((b'I', 60..=69))
            | Some((b'I', 70))
            | Some((b'G', 45))
            | Some((b'J', 43..=44))
            | Some((b'E', 11))
            | Some((b'N', 40))
    )
}

impl Patient {
    /// Whether a newborn (28 days or less).
    pub fn newborn(&self) -> bool {
        self.age_days <= 28
    }

    fn age(&self) -> i64 {
        self.age_days / 365
    }

    /// Whether diagnosis `code` fits this patient: perinatal codes only for newborns
    /// (and newborns only perinatal and congenital codes), obstetric codes only for
    /// women of 15–50, genital-organ codes by sex, adult diseases from 18.
    pub fn fits_dx(&self, code: &str) -> bool {
        if self.newborn() {
            return is_perinatal(code) || matches!(category(code), Some((b'Q', _)));
        }
        if is_perinatal(code) {
            return false;
        }
        if is_obstetric(code) {
            return self.sex == 2 && (15..=50).contains(&self.age());
        }
        if female_dx(code) {
            return self.sex == 2;
        }
        if male_dx(code) {
            return self.sex == 1;
        }
        !adult_dx(code) || self.age() >= 18
    }

    /// Whether procedure `code` fits this patient: obstetric procedures (72–75) only
    /// for women of 15–50, female (65–71) and male (60–64) genital operations by sex,
    /// coronary interventions (36) from 18; newborns get no operation on the heart,
    /// the abdomen or the limbs (only 30–34 airway, 38–39 vessels and 86–99).
    pub fn fits_px(&self, code: &str) -> bool {
        let Some(ch) = px_chapter(code) else {
            return true;
        };
        let obstetric = (72..=75).contains(&ch);
        if obstetric {
            return self.sex == 2 && (15..=50).contains(&self.age()) && !self.newborn();
        }
        if self.newborn() {
            return matches!(ch, 30..=34 | 38..=39 | 86..=99);
        }
        match ch {
            65..=71 => self.sex == 2,
            60..=64 => self.sex == 1,
            35..=37 => self.age() >= 18,
            _ => true,
        }
    }
}

/// Running sums of `weights`.
fn cumulative(weights: impl Iterator<Item = f64>) -> Vec<f64> {
    weights
        .scan(0.0, |sum, w| {
            *sum += w;
            Some(*sum)
        })
        .collect()
}

/// An index drawn with the weights whose running sums are `cum` (non-empty).
fn weighted(rng: &mut Rng, cum: &[f64]) -> usize {
    let x = rng.unit() * cum.last().copied().unwrap_or(0.0);
    cum.partition_point(|&c| c <= x).min(cum.len() - 1)
}

/// How common a principal diagnosis is among a city's discharges (relative; typical
/// figures for the common categories, 1 for the rest).
fn prevalence(pdx: &str) -> f64 {
    match pdx.get(..5) {
        Some("P07.0") | Some("P07.2") => return 0.03,
        Some("P07.1") => return 0.15,
        _ => {}
    }
    match category(pdx) {
        Some((b'J', 18)) => 6.0,
        Some((b'I', 63)) => 5.0,
        Some((b'O', 80)) => 4.0,
        Some((b'J', 44)) | Some((b'I', 20)) | Some((b'I', 25)) => 3.0,
        Some((b'I', 50)) | Some((b'E', 11)) | Some((b'O', 82)) | Some((b'K', 29)) => 2.5,
        Some((b'I', 10)) => 2.0,
        Some((b'G', 45)) | Some((b'J', 15)) | Some((b'K', 35)) | Some((b'K', 40)) => 1.5,
        Some((b'O', 70)) | Some((b'P', 59)) => 1.2,
        Some((b'P', 7)) => 0.4,
        Some((b'P', 22)) => 0.4,
        Some((b'R', 57)) | Some((b'S', 27)) => 0.3,
        Some((b'A', 41)) | Some((b'N', 17)) | Some((b'E', 87)) | Some((b'D', 64)) => 0.5,
        Some((b'P', _)) => 0.3,
        _ => 1.0,
    }
}

/// A random element of `pool` that fits (a few tries, then none).
fn pick_fitting<'a>(
    rng: &mut Rng,
    pool: &'a [String],
    fits: impl Fn(&str) -> bool,
) -> Option<&'a str> {
    if pool.is_empty() {
        return None;
    }
    (0..8).map(|_| rng.pick(pool).as_str()).find(|c| fits(c))
}

/// The patient's sex for a principal diagnosis.
fn sex_for(pdx: &str, rng: &mut Rng) -> u8 {
    if is_obstetric(pdx) || female_dx(pdx) {
        2
    } else if male_dx(pdx) {
        1
    } else {
        1 + rng.below(2) as u8
    }
}

/// Age in years for a (non-perinatal) principal diagnosis.
fn age_for(pdx: &str, sex: u8, rng: &mut Rng) -> i64 {
    let (mean, sd, lo, hi) = if is_obstetric(pdx) && sex == 2 {
        (29.0, 5.0, 16, 48)
    } else if adult_dx(pdx) {
        (67.0, 11.0, 30, 98)
    } else {
        match category(pdx) {
            Some((b'K', 35..=38)) => (30.0, 16.0, 5, 90),
            Some((b'J', 0..=22)) => (48.0, 28.0, 1, 98),
            Some((b'S' | b'T', _)) => (45.0, 20.0, 3, 95),
            Some((b'A' | b'N' | b'R', _)) => (62.0, 17.0, 1, 98),
            _ => (55.0, 18.0, 1, 98),
        }
    };
    ((mean + sd * rng.normal()).round() as i64).clamp(lo, hi)
}

/// Birth weight in grams, by the principal diagnosis (immaturity codes P07.x).
fn birth_weight(pdx: &str, rng: &mut Rng) -> i64 {
    let (mean, sd, lo, hi) = match pdx.get(..5) {
        Some("P07.0") | Some("P07.2") => (850.0, 120.0, 500, 999),
        Some("P07.1") => (1750.0, 380.0, 1000, 2499),
        Some("P07.3") => (2050.0, 300.0, 1500, 2499),
        Some(_) if pdx.starts_with("P22") => (2600.0, 600.0, 800, 4500),
        _ => (3250.0, 420.0, 2500, 4800),
    };
    ((mean + sd * rng.normal()) as i64).clamp(lo, hi)
}

/// The department that treats a principal diagnosis.
fn dept_for(pdx: &str) -> &'static str {
    match category(pdx) {
        Some((b'P', _)) => "新生儿科",
        Some((b'O', _)) => "产科",
        Some((b'I', 60..=69)) | Some((b'G', 45)) => "神经内科",
        Some((b'I', _)) | Some((b'R', 57)) => "心内科",
        Some((b'J', _)) => "呼吸内科",
        Some((b'K', 35..=46)) => "普外科",
        Some((b'K', _)) => "消化内科",
        Some((b'S' | b'T', _)) => "骨科",
        Some((b'A', _)) => "ICU",
        Some((b'E', _)) => "内分泌科",
        Some((b'N', _)) => "肾内科",
        _ => "内科",
    }
}

/// A stable number in `0..n` for a code (FNV-1a).
fn code_hash(code: &str, n: u64) -> u64 {
    code.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ b as u64).wrapping_mul(0x0100_0000_01b3)
    }) % n
}

/// The medical cost (yuan, tertiary-hospital prices before the level factor) of a stay
/// for a principal diagnosis, without operations: typical figures for the common
/// categories, a stable spread for the rest.
fn dx_base_cost(pdx: &str) -> f64 {
    let Some((letter, n)) = category(pdx) else {
        return 6000.0;
    };
    match (letter, n) {
        (b'P', 7) => 9000.0,
        (b'P', 22) => 12_000.0,
        (b'P', 59) => 3200.0,
        (b'P', _) => 4500.0,
        (b'O', 80) => 4200.0,
        (b'O', 82) => 5200.0,
        (b'O', _) => 4800.0,
        (b'I', 60..=62) => 28_000.0,
        (b'I', 63) => 13_000.0,
        (b'G', 45) => 6500.0,
        (b'I', 20) => 9000.0,
        (b'I', 21) => 16_000.0,
        (b'I', 25) => 9500.0,
        (b'I', 50) => 11_000.0,
        (b'I', 10..=15) => 5500.0,
        (b'R', 57) => 19_000.0,
        (b'J', 18) => 7000.0,
        (b'J', 15) => 8500.0,
        (b'J', 44) => 9000.0,
        (b'J', 96) => 16_000.0,
        (b'K', 35) => 4000.0,
        (b'K', 40) => 3000.0,
        (b'K', 92) => 9000.0,
        (b'K', 29) => 3800.0,
        (b'S', 6) => 5000.0,
        (b'S', 27) => 9000.0,
        (b'S', 22) => 7500.0,
        (b'S', 32) => 11_000.0,
        (b'E', 11) => 6500.0,
        (b'A', 41) => 22_000.0,
        (b'N', 17) => 13_000.0,
        (b'E', 87) => 5000.0,
        (b'D', 64) => 4200.0,
        (b'C', _) | (b'D', 0..=48) => 12_000.0 + code_hash(pdx, 16_000) as f64,
        _ => 3500.0 + code_hash(pdx, 9000) as f64,
    }
}

/// The added cost (yuan) of a procedure: typical figures for the demo's procedures, by
/// ICD-9-CM-3 chapter for the rest (operations dearer than diagnostics and therapy).
fn px_cost(code: &str) -> f64 {
    let head = code.get(..5).unwrap_or(code);
    match head {
        "36.06" | "36.07" => 36_000.0,
        "88.41" => 4500.0,
        "32.20" => 21_000.0,
        "47.01" => 8500.0,
        "47.09" => 6000.0,
        "53.00" | "53.02" => 5000.0,
        "54.21" => 2500.0,
        "44.43" => 5500.0,
        "45.13" => 2500.0,
        "74.1x" => 5000.0,
        "73.6x" => 500.0,
        "75.69" => 700.0,
        "96.71" => 6000.0,
        "96.72" => 30_000.0,
        "31.1x" => 8000.0,
        "51.23" => 11_000.0,
        _ => match px_chapter(code) {
            Some(0..=86) => 4000.0 + code_hash(code, 30_000) as f64,
            _ => 400.0 + code_hash(code, 4000) as f64,
        },
    }
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
