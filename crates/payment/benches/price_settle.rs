//! Pricing and settling a million synthetic cases (pre-parsed): pricing each case,
//! the benefit rules with per-person accumulators in date order, and the year-end
//! settlement; each step alone and the chain end to end, on all cores.

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use drgdip_payment::Policy;
use drgdip_payment::benefits::{Claim, ClaimKind, Referral, apply_benefits};
use drgdip_payment::settle::{Ledger, PricedCase, settle};
use drgdip_pricing::{
    CaseInput, Date, GroupStatus, HospitalLevel, InsuranceType, Method, Priced, Pricer,
};
use rayon::prelude::*;
use rust_decimal::Decimal;

const N: usize = 1_000_000;

const POLICY: &str = r#"
[policy]
name = "bench"
region = "B"
[drg]
weights = "w.csv"
rate_method = "elastic"
elastic_fixed_share = 0.5
base_rate = { employee = 12000, resident = 10000 }
[dip]
point_value_method = "settlement"
point_value = 10
[coefficients]
levels = { "3" = 1.1, "2" = 0.95, "1" = 0.85, "0" = 0.75 }
[primary_care]
drg = ["G001", "G002", "G003"]
[outliers.drg]
rule = "ratio-by-level"
high_ratio = { "3" = 3, "2" = 2.5, "1" = 2.5, "0" = 2.5 }
low_ratio = 0.4
high_pay_share = 0.9
[outliers.dip]
rule = "low-high-review"
[outliers.ungrouped]
rule = "cost-share"
factor = 0.7
[outliers.special_review]
drg_quota = 0.05
dip_quota = 0.005
[benefits]
no_deductible_at_primary_care = true
[benefits.inpatient]
day_surgery_deductible_factor = 0.5
[benefits.inpatient.employee]
deductible = { "3" = 1000, "2" = 700, "1" = 400, "0" = 200 }
ratio = { "3" = 0.85, "2" = 0.88, "1" = 0.9, "0" = 0.92 }
annual_cap = 400000
[benefits.inpatient.resident]
deductible = { "3" = 1200, "2" = 800, "1" = 500, "0" = 200 }
ratio = { "3" = 0.6, "2" = 0.7, "1" = 0.8, "0" = 0.85 }
annual_cap = 200000
[budget]
total = 30000000000
"#;

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

struct Case {
    id: String,
    group: String,
    hospital: String,
    level: HospitalLevel,
    insurance: InsuranceType,
    method: Method,
    status: GroupStatus,
    score: Option<Decimal>,
    claim: Claim,
}

fn setup() -> (Policy, Vec<Case>) {
    let dir = std::env::temp_dir().join(format!("drgdip-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut w = String::from("group,weight\n");
    for g in 0..600 {
        w.push_str(&format!(
            "G{g:03},{}\n",
            Decimal::new(30 + (g * 37 % 400), 2)
        ));
    }
    std::fs::write(dir.join("w.csv"), w).unwrap();
    let policy = Policy::from_str_in(POLICY, &dir).unwrap();
    let mut rng = Rng(0x2545_F491_4F6C_DD1D);
    let levels = [
        HospitalLevel::Third,
        HospitalLevel::Second,
        HospitalLevel::First,
        HospitalLevel::PrimaryCare,
    ];
    let cases = (0..N)
        .map(|i| {
            let h = rng.below(200);
            let level = levels[(h % 4) as usize];
            let insurance = if rng.below(2) == 0 {
                InsuranceType::Employee
            } else {
                InsuranceType::Resident
            };
            let method = if rng.below(4) == 0 {
                Method::Dip
            } else {
                Method::Drg
            };
            let status = if rng.below(30) == 0 {
                GroupStatus::Ungrouped
            } else {
                GroupStatus::Grouped
            };
            let g = rng.below(600);
            let cost = Decimal::new(i64::try_from(100_000 + rng.below(5_000_000)).unwrap(), 2);
            let covered =
                (cost * Decimal::new(i64::try_from(70 + rng.below(31)).unwrap(), 2)).round_dp(2);
            let month = 1 + rng.below(12) as u8;
            let day = 1 + rng.below(28) as u8;
            let date = Date {
                year: 2025,
                month,
                day,
            };
            let id = format!("C{i:07}");
            Case {
                id: id.clone(),
                group: format!("G{g:03}"),
                hospital: format!("H{h:03}"),
                level,
                insurance,
                method,
                status,
                score: Some(Decimal::from(200 + g * 3)),
                claim: Claim {
                    id,
                    person: format!("P{:06}", rng.below(400_000)),
                    admit: date,
                    discharge: date,
                    kind: ClaimKind::Inpatient,
                    level,
                    insurance,
                    total_cost: cost,
                    covered_cost: covered,
                    day_surgery: rng.below(20) == 0,
                    referral: [Referral::None, Referral::Up, Referral::Down]
                        [(rng.below(30) % 3) as usize],
                },
            }
        })
        .collect();
    (policy, cases)
}

fn price_all(pricer: &Pricer, cases: &[Case]) -> Vec<Priced> {
    cases
        .par_iter()
        .map(|c| {
            pricer
                .price(&CaseInput {
                    method: c.method,
                    status: c.status,
                    group: &c.group,
                    score: c.score,
                    aux_coef: None,
                    hospital_id: &c.hospital,
                    level: c.level,
                    insurance: c.insurance,
                    total_cost: c.claim.total_cost,
                    primary_care: false,
                })
                .unwrap()
        })
        .collect()
}

fn ledger(cases: &[Case], priced: &[Priced], patient: &[Decimal]) -> Ledger {
    let idx: Vec<usize> = (0..cases.len()).collect();
    idx.par_chunks(1 << 14)
        .map(|chunk| {
            let mut l = Ledger::new();
            for &i in chunk {
                let (c, p) = (&cases[i], &priced[i]);
                l.add(&PricedCase {
                    case_id: &c.id,
                    hospital_id: &c.hospital,
                    level: c.level,
                    method: c.method,
                    insurance: c.insurance,
                    year: c.claim.discharge.year,
                    month: c.claim.discharge.month,
                    points: p.points,
                    payment_standard: p.payment_standard,
                    patient_share: patient[i],
                    fund_outlay: (p.payment_standard - patient[i]).max(Decimal::ZERO),
                    total_cost: c.claim.total_cost,
                    outlier: p.outlier,
                    cost_ratio: p.cost_ratio,
                    negotiated_cost: Decimal::ZERO,
                    negotiated_fund: Decimal::ZERO,
                });
            }
            l
        })
        .reduce(Ledger::new, |mut a, b| {
            a.merge(b);
            a
        })
}

fn bench(c: &mut Criterion) {
    let (policy, cases) = setup();
    let pricer = Pricer::new(policy.pricing.clone());
    let claims: Vec<Claim> = cases.iter().map(|c| c.claim.clone()).collect();
    let mut g = c.benchmark_group("price_settle");
    g.sample_size(10);
    g.throughput(Throughput::Elements(N as u64));
    g.bench_function(BenchmarkId::new("price", N), |b| {
        b.iter(|| black_box(price_all(&pricer, &cases)))
    });
    g.bench_function(BenchmarkId::new("benefits", N), |b| {
        b.iter(|| black_box(apply_benefits(&policy.payment.benefits, &claims)))
    });
    let priced = price_all(&pricer, &cases);
    let patient: Vec<Decimal> = apply_benefits(&policy.payment.benefits, &claims)
        .into_iter()
        .map(|s| s.unwrap().patient)
        .collect();
    g.bench_function(BenchmarkId::new("settle", N), |b| {
        b.iter(|| black_box(settle(&policy, ledger(&cases, &priced, &patient)).unwrap()))
    });
    g.bench_function(BenchmarkId::new("price+benefits+settle", N), |b| {
        b.iter(|| {
            let priced = price_all(&pricer, &cases);
            let patient: Vec<Decimal> = apply_benefits(&policy.payment.benefits, &claims)
                .into_iter()
                .map(|s| s.unwrap().patient)
                .collect();
            black_box(settle(&policy, ledger(&cases, &priced, &patient)).unwrap())
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
