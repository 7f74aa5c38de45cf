//! Money you can audit (issue 9): negotiated drugs paid separately worked by hand,
//! every total of `price`, `settle` and `report` recomputed from the rows it sums
//! (exactly, in `Decimal`), and the same bytes for 1, 2 and 8 threads.

use std::collections::BTreeMap;
use std::str::FromStr;

use drgdip_payment::Policy;
use drgdip_pipeline::settle::{
    SettleConfig, settle_csv, write_community, write_hospitals, write_summary,
};
use drgdip_pipeline::{PriceConfig, ReportConfig, SpillTo, no_progress, price, report};
use rust_decimal::Decimal;

/// A CSV file as rows of `column → value`.
struct Table {
    rows: Vec<BTreeMap<String, String>>,
}

impl Table {
    fn parse(bytes: &[u8]) -> Self {
        let mut r = csv::Reader::from_reader(bytes);
        let header: Vec<String> = r.headers().unwrap().iter().map(str::to_owned).collect();
        let rows = r
            .records()
            .map(|rec| {
                let rec = rec.unwrap();
                assert_eq!(rec.len(), header.len(), "every row has every column");
                header
                    .iter()
                    .cloned()
                    .zip(rec.iter().map(str::to_owned))
                    .collect()
            })
            .collect();
        Self { rows }
    }
}

fn d(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap_or_else(|_| panic!("`{s}` is not a number"))
}

/// The decimal in column `c` of a row (empty = 0).
fn num(row: &BTreeMap<String, String>, c: &str) -> Decimal {
    let v = row.get(c).unwrap_or_else(|| panic!("no column {c}"));
    if v.is_empty() { Decimal::ZERO } else { d(v) }
}

fn policy_in(text: &str, weights: &str) -> Policy {
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("drgdip-money-{}-{n}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("w.csv"), weights).unwrap();
    Policy::from_str_in(text, &dir).unwrap()
}

fn run_price(policy: &Policy, input: &str, threads: usize) -> Vec<u8> {
    let mut out = Vec::new();
    let config = PriceConfig {
        threads: Some(threads),
        spill: SpillTo::Memory,
    };
    price(policy, input.as_bytes(), &mut out, &config, &no_progress).unwrap();
    out
}

const NEGOTIATED_POLICY: &str = r#"
[policy]
name = "negotiated drugs"
region = "T"
year = 2025
[drg]
weights = "w.csv"
base_rate = 10000
[coefficients]
levels = 1
[outliers.drg]
rule = "ratio-by-level"
high_ratio = 3
low_ratio = 0.5
[benefits.inpatient.employee]
deductible = 0
ratio = 0.9
[benefits.inpatient.resident]
deductible = 0
ratio = 0.9
"#;

/// Seed 001: 实行单独支付的谈判药品,不纳入定点医疗机构总额范围. Standard of AA11 =
/// 2 × 1 × 10000 = 20000; the patient pays 10 % of the covered cost.
#[test]
fn negotiated_drugs_are_outside_the_comparison_and_the_hospital_total() {
    let policy = policy_in(NEGOTIATED_POLICY, "group,weight\nAA11,2\n");
    let input = "case_id,status,drg,hospital_id,hospital_level,insurance_type,person_id,admit_date,discharge_date,total_cost,covered_cost,negotiated_drug_cost\n\
        n1,grouped,AA11,H1,3,employee,P1,2025-03-01,2025-03-05,45000,45000,10000\n\
        n2,grouped,AA11,H1,3,employee,P2,2025-03-01,2025-03-05,14000,14000,6000\n\
        n3,grouped,AA11,H1,3,employee,P3,2025-03-01,2025-03-05,30000,10000,9000\n\
        n4,grouped,AA11,H1,3,employee,P4,2025-03-01,2025-03-05,100,100,100.01\n\
        n5,grouped,AA11,H1,3,employee,P5,2025-03-01,2025-03-05,100,100,-5\n\
        n6,grouped,AA11,H1,3,employee,P6,2025-03-01,2025-03-05,100,100,1.234\n\
        n7,grouped,AA11,H1,3,employee,P7,2025-03-01,2025-03-05,25000,25000,\n";
    let priced = run_price(&policy, input, 1);
    let t = Table::parse(&priced);
    let row = |id: &str| t.rows.iter().find(|r| r["case_id"] == id).unwrap();
    // n1: 45000 of which 10000 negotiated drugs: the comparison uses 35000 (ratio
    // 1.75, no outlier), so the case is paid 20000 + 10000. Patient 4500; the fund
    // pays 30000 − 4500 = 25500, of which 10000 for the negotiated drugs.
    for (id, expected, why) in [
        (
            "n1",
            &[
                ("outlier", "none"),
                ("cost_ratio", "1.75"),
                ("payment_standard", "20000.00"),
                ("patient_share", "4500.00"),
                ("fund_outlay", "25500.00"),
                ("negotiated_drug_cost", "10000.00"),
                ("negotiated_fund", "10000.00"),
            ][..],
            "45000 of which 10000 negotiated drugs: the comparison uses 35000 (ratio 1.75, \
             no outlier), so the case is paid 20000 + 10000; patient 4500; the fund pays \
             30000 − 4500 = 25500, of which 10000 for the negotiated drugs",
        ),
        (
            "n2",
            &[
                ("outlier", "low"),
                ("payment_standard", "8000.00"),
                ("fund_outlay", "12600.00"),
                ("negotiated_fund", "6000.00"),
            ],
            "14000 with 6000 negotiated compares 8000 < 0.5 × 20000: a low outlier paid by \
             items 8000; patient 1400; fund 8000 + 6000 − 1400 = 12600 (6000 negotiated)",
        ),
        (
            "n3",
            &[
                ("payment_standard", "20000.00"),
                ("patient_share", "21000.00"),
                ("fund_outlay", "8000.00"),
                ("negotiated_fund", "8000.00"),
            ],
            "patient 20000 uncovered + 1000 = 21000, more than the group payment 20000: the \
             patient's share goes against the group payment first, so the fund pays 0 of it \
             and 29000 − 21000 = 8000 of the negotiated drugs",
        ),
        (
            "n7",
            &[
                ("status", "ok"),
                ("negotiated_drug_cost", "0.00"),
                ("negotiated_fund", "0.00"),
                ("fund_outlay", "17500.00"),
            ],
            "an empty cell is no negotiated drug",
        ),
    ] {
        let r = row(id);
        for (column, value) in expected {
            assert_eq!(r[*column], *value, "{id} {column}: {why}");
        }
    }
    // Bad values are rejected with the row and the field.
    let n4 = row("n4");
    assert_eq!(n4["status"], "rejected");
    assert_eq!(
        n4["message"],
        "line 5: field `negotiated_drug_cost`: 100.01 is more than total_cost 100.00"
    );
    assert_eq!(n4["payment_standard"], "");
    assert_eq!(
        row("n5")["message"],
        "line 6: field `negotiated_drug_cost`: -5 is negative"
    );
    assert!(
        row("n6")["message"]
            .starts_with("line 7: field `negotiated_drug_cost`: 1.234 has a fraction of a fen"),
        "{}",
        row("n6")["message"]
    );

    // Settlement: the negotiated drugs are paid as is, beside the hospital's total.
    let (s, summary) =
        settle_csv(&policy, &priced[..], &SettleConfig::default(), &no_progress).unwrap();
    assert_eq!((summary.skipped, summary.unreadable), (3, 0));
    let mut f = Vec::new();
    write_hospitals(&mut f, &s).unwrap();
    let h = &Table::parse(&f).rows[0];
    assert_eq!(h["negotiated_cost"], "25000.00");
    assert_eq!(h["negotiated_fund"], "24000.00");
    // Inside the total: 15500 + 6600 + 0 + 17500; cost 35000 + 8000 + 21000 + 25000.
    assert_eq!(h["fund_total"], "39600.00");
    assert_eq!(h["total_cost"], "89000.00");
    assert_eq!(h["fund_due"], "39600.00");
    assert_eq!(h["annual_amount"], "39600.00");
    assert_eq!(h["advance_paid"], "35640.00");

    // The report compares payment with the cost without the negotiated drugs.
    let r = report(
        &priced[..],
        None::<&[u8]>,
        &ReportConfig::default(),
        &no_progress,
    )
    .unwrap();
    let mut out = Vec::new();
    r.write_csv(&mut out).unwrap();
    let rep = Table::parse(&out);
    let h1 = rep.rows.iter().find(|r| r["hospital_id"] == "H1").unwrap();
    assert_eq!(h1["total_cost"], "89000.00");
    assert_eq!(h1["payment_total"], "68000.00");
    assert_eq!(h1["payment_margin"], "-21000.00");
}

const DIP_HEADER: &str = "case_id,status,dip_code,score,aux_coef,hospital_id,hospital_level,insurance_type,person_id,admit_date,discharge_date,total_cost,covered_cost,day_surgery,referral,los,negotiated_drug_cost";
const DRG_HEADER: &str = "case_id,status,drg,hospital_id,hospital_level,insurance_type,person_id,admit_date,discharge_date,total_cost,covered_cost,day_surgery,referral,los,negotiated_drug_cost";

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// Hospitals of the demo policy's community, standalone ones and one unknown.
const HOSPITALS: [&str; 9] = [
    "H001", "H002", "H003", "H010", "H031", "H035", "H038", "H040", "H077",
];

/// One case's common columns: hospital, level, insurance, person, dates, costs.
fn case_columns(x: u64, i: usize) -> String {
    let h = HOSPITALS[(x % HOSPITALS.len() as u64) as usize];
    let level = ["3", "2", "1", "0"][(x / 9 % 4) as usize];
    let month = 1 + x / 97 % 12;
    let day = 1 + x / 13 % 20;
    let cost_fen = 50_000 + x / 31 % 6_000_000;
    let covered = cost_fen * (80 + x / 7 % 21) / 100;
    let negotiated = if x.is_multiple_of(5) { cost_fen / 4 } else { 0 };
    // A few rows discharged in 2024 (outside the demo policy's year).
    let year = if i.is_multiple_of(97) { 2024 } else { 2025 };
    format!(
        "{h},{level},{},P{:03},{year}-{month:02}-{day:02},{year}-{month:02}-{:02},{}.{:02},{}.{:02},{},{},{},{}.{:02}",
        if x.is_multiple_of(3) {
            "resident"
        } else {
            "employee"
        },
        x / 11 % 400,
        day + 4,
        cost_fen / 100,
        cost_fen % 100,
        covered / 100,
        covered % 100,
        u8::from(x.is_multiple_of(13)),
        ["", "", "up", "down", "nonstandard"][(x / 5 % 5) as usize],
        4,
        negotiated / 100,
        negotiated % 100,
    )
}

/// `n` grouped DRG rows and `n` grouped DIP rows over the demo policy.
fn generated(n: usize, seed: u64) -> (String, String) {
    let drgs = ["BM11", "BM15", "BR21", "BR25", "EB11", "EB19", "AH11"];
    let dips = [
        ("I10.x:-", "120.5"),
        ("J18.0:-", "800"),
        ("C34.9:32.4", "3400.25"),
        ("K80.1:51.2", "1500.1234"),
    ];
    let mut rng = Rng(seed);
    let mut drg = format!("{DRG_HEADER}\n");
    let mut dip = format!("{DIP_HEADER}\n");
    for i in 0..n {
        let x = rng.next();
        let status = if i % 41 == 7 {
            "ungroupable"
        } else {
            "grouped"
        };
        drg.push_str(&format!(
            "R{i:05},{status},{},{}\n",
            drgs[(x / 3 % 7) as usize],
            case_columns(x, i)
        ));
        let y = rng.next();
        let (code, score) = dips[(y / 3 % 4) as usize];
        let (status, code, score) = if i % 37 == 5 {
            ("ungrouped", "", "")
        } else {
            ("grouped", code, score)
        };
        let aux = ["", "1.05", "0.9"][(y / 17 % 3) as usize];
        dip.push_str(&format!(
            "D{i:05},{status},{code},{score},{aux},{}\n",
            case_columns(y, i)
        ));
    }
    (drg, dip)
}

/// Prices the generated DRG and DIP files and joins them into one priced file.
fn priced_file(policy: &Policy, n: usize, seed: u64, threads: usize) -> Vec<u8> {
    let (drg, dip) = generated(n, seed);
    let mut all = run_price(policy, &drg, threads);
    let dip = run_price(policy, &dip, threads);
    let body = dip.iter().position(|&b| b == b'\n').unwrap() + 1;
    all.extend_from_slice(&dip[body..]);
    all
}

/// The generated DIP file alone, priced.
fn dip_priced(policy: &Policy, n: usize, seed: u64) -> Vec<u8> {
    run_price(policy, &generated(n, seed).1, 2)
}

fn demo_policy() -> Policy {
    Policy::load("../../data/demo-policy.toml".as_ref()).expect("the demo policy loads")
}

/// Every output of settle: hospitals, summary, community.
fn settle_files(policy: &Policy, priced: &[u8], threads: usize) -> [Vec<u8>; 3] {
    let (s, summary) = settle_csv(
        policy,
        priced,
        &SettleConfig {
            threads: Some(threads),
        },
        &no_progress,
    )
    .unwrap();
    assert_eq!(summary.unreadable, 0, "{:?}", summary.errors);
    let (mut h, mut m, mut c) = (Vec::new(), Vec::new(), Vec::new());
    write_hospitals(&mut h, &s).unwrap();
    write_summary(&mut m, policy, &s).unwrap();
    write_community(&mut c, &s).unwrap();
    [h, m, c]
}

fn report_file(priced: &[u8], settled: &[u8]) -> Vec<u8> {
    let r = report(
        priced,
        Some(settled),
        &ReportConfig::default(),
        &no_progress,
    )
    .unwrap();
    assert_eq!(r.unreadable, 0);
    let mut out = Vec::new();
    r.write_csv(&mut out).unwrap();
    out
}

/// Every total equals the sum of its parts to the fen, recomputed from the rows.
#[test]
fn every_total_is_the_sum_of_its_parts_to_the_fen() {
    let policy = demo_policy();
    for seed in [0x9e37_79b9_7f4a_7c15, 0x2545_f491_4f6c_dd1d] {
        let priced = priced_file(&policy, 1500, seed, 2);
        let rows = Table::parse(&priced).rows;
        assert_eq!(rows.len(), 3000);
        // Each priced row: its parts add up.
        let mut by_hospital: BTreeMap<String, [Decimal; 8]> = BTreeMap::new();
        let mut negotiated_rows = 0;
        for r in &rows {
            if r["status"] != "ok" {
                assert_eq!(r["payment_standard"], "", "a rejected row has no money");
                continue;
            }
            let patient = num(r, "patient_share");
            assert_eq!(
                patient,
                num(r, "uncovered")
                    + num(r, "deductible")
                    + num(r, "coinsurance")
                    + num(r, "over_cap"),
                "patient share of {}",
                r["case_id"]
            );
            let pay = num(r, "payment_standard");
            let neg = num(r, "negotiated_drug_cost");
            assert_eq!(
                num(r, "fund_outlay"),
                (pay + neg - patient).max(Decimal::ZERO)
            );
            assert_eq!(
                num(r, "fund_outlay") - num(r, "negotiated_fund"),
                (pay - patient).max(Decimal::ZERO)
            );
            if !neg.is_zero() {
                negotiated_rows += 1;
            }
            if !r["discharge_date"].starts_with("2025") {
                continue;
            }
            let e = by_hospital.entry(r["hospital_id"].clone()).or_default();
            e[0] += Decimal::ONE;
            e[1] += num(r, "points");
            e[2] += pay;
            e[3] += patient;
            e[4] += num(r, "fund_outlay") - num(r, "negotiated_fund");
            e[5] += num(r, "total_cost") - neg;
            e[6] += neg;
            e[7] += num(r, "negotiated_fund");
        }
        assert!(negotiated_rows > 100, "the file exercises negotiated drugs");
        let [hosp, summary, community] = settle_files(&policy, &priced, 2);
        let hosp = Table::parse(&hosp).rows;
        let summary: BTreeMap<String, Decimal> = Table::parse(&summary)
            .rows
            .iter()
            .filter(|r| !r["section"].starts_with("policy"))
            .map(|r| (format!("{}/{}", r["section"], r["item"]), d(&r["value"])))
            .collect();
        let community = Table::parse(&community).rows;
        // Hospitals: each figure is the sum of its rows.
        assert_eq!(hosp.len(), by_hospital.len());
        let cols = [
            "cases",
            "points",
            "payment_total",
            "patient_total",
            "fund_total",
            "total_cost",
            "negotiated_cost",
            "negotiated_fund",
        ];
        let mut city = [Decimal::ZERO; 8];
        let mut annual = Decimal::ZERO;
        for h in &hosp {
            let want = by_hospital[&h["hospital_id"]];
            for (k, c) in cols.iter().enumerate() {
                assert_eq!(num(h, c), want[k], "{c} of {}", h["hospital_id"]);
                city[k] += num(h, c);
            }
            assert_eq!(
                num(h, "deposit_held"),
                num(h, "fund_total") - num(h, "advance_paid")
            );
            assert_eq!(
                num(h, "annual_amount"),
                num(h, "assessed") - num(h, "audit_deduction")
            );
            annual += num(h, "annual_amount");
            if h["community"].is_empty() {
                assert_eq!(
                    num(h, "final_payment"),
                    num(h, "annual_amount") - num(h, "advance_paid")
                );
            } else {
                let m = community
                    .iter()
                    .find(|m| m["hospital_id"] == h["hospital_id"])
                    .unwrap();
                assert_eq!(
                    num(m, "spent"),
                    num(h, "annual_amount") - num(h, "outside_community")
                );
                assert_eq!(
                    num(h, "final_payment"),
                    num(m, "allocation") + num(h, "outside_community") - num(h, "advance_paid")
                );
            }
        }
        // City totals.
        let totals = [
            "cases",
            "points",
            "payment_total",
            "patient_total",
            "fund_total",
            "total_cost",
            "negotiated_cost",
            "negotiated_fund",
        ];
        for (k, c) in totals.iter().enumerate() {
            assert_eq!(summary[&format!("totals/{c}")], city[k], "city {c}");
        }
        assert_eq!(summary["totals/annual_amount"], annual);
        // Budget lines.
        assert_eq!(
            summary["budget/total"],
            summary["budget/risk_reserve"]
                + summary["budget/city_reserve"]
                + summary["budget/allocation:county-east"]
                + summary["budget/remainder"]
        );
        // The DIP budget (the pooled remainder) = Σ hospitals' DIP amounts + rounding,
        // each amount being round(points × published point value × ratio): settle
        // the DIP cases alone, so that a hospital's fund due is its DIP amount (plus
        // approved special cases).
        let dip_only = dip_priced(&policy, 1500, seed);
        let [dh, dsum, _] = settle_files(&policy, &dip_only, 1);
        let dsum: BTreeMap<String, Decimal> = Table::parse(&dsum)
            .rows
            .iter()
            .filter(|r| !r["section"].starts_with("policy"))
            .map(|r| (format!("{}/{}", r["section"], r["item"]), d(&r["value"])))
            .collect();
        let pv = dsum["dip/point_value:employee"];
        let ratio = dsum["dip/fund_payment_ratio:employee"];
        assert_eq!(
            pv, dsum["dip/point_value:resident"],
            "one pooled point value"
        );
        let mut distributed = Decimal::ZERO;
        for h in Table::parse(&dh).rows {
            let amount = num(&h, "fund_due") - num(&h, "special_adjustment");
            let published = (num(&h, "dip_points") * pv * ratio)
                .round_dp_with_strategy(2, rust_decimal::RoundingStrategy::MidpointAwayFromZero);
            assert_eq!(amount, published, "DIP amount of {}", h["hospital_id"]);
            distributed += amount;
        }
        assert_eq!(dsum["dip/distributed:employee"], distributed);
        assert_eq!(
            dsum["dip/budget:employee"],
            distributed + dsum["dip/rounding_difference"]
        );
        assert_eq!(dsum["dip/budget:employee"], summary["budget/remainder"]);
        // Community: Σ spent = spent, Σ allocation = paid.
        let spent: Decimal = community.iter().map(|m| num(m, "spent")).sum();
        let alloc: Decimal = community.iter().map(|m| num(m, "allocation")).sum();
        assert_eq!(summary["community:county-east/spent"], spent);
        assert_eq!(summary["community:county-east/paid"], alloc);
        assert!(!alloc.is_zero());

        // Report: hospital rows are sums of the priced rows, the city row their sum.
        let rep = Table::parse(&report_file(&priced, &hosp_bytes(&policy, &priced))).rows;
        let mut sums: BTreeMap<&str, [Decimal; 3]> = BTreeMap::new();
        for r in rows.iter().filter(|r| r["status"] == "ok") {
            let e = sums.entry(r["hospital_id"].as_str()).or_default();
            e[0] += Decimal::ONE;
            e[1] += num(r, "payment_standard");
            e[2] += num(r, "total_cost") - num(r, "negotiated_drug_cost");
        }
        let mut all = [Decimal::ZERO; 3];
        for r in rep.iter().filter(|r| r["scope"] != "city") {
            let want = sums[r["hospital_id"].as_str()];
            assert_eq!(num(r, "cases"), want[0]);
            assert_eq!(num(r, "payment_total"), want[1]);
            assert_eq!(num(r, "total_cost"), want[2]);
            assert_eq!(
                num(r, "payment_margin"),
                num(r, "payment_total") - num(r, "total_cost")
            );
            for k in 0..3 {
                all[k] += want[k];
            }
        }
        let c = rep.iter().find(|r| r["scope"] == "city").unwrap();
        assert_eq!(
            [
                num(c, "cases"),
                num(c, "payment_total"),
                num(c, "total_cost")
            ],
            all
        );
    }
}

fn hosp_bytes(policy: &Policy, priced: &[u8]) -> Vec<u8> {
    let [h, ..] = settle_files(policy, priced, 1);
    h
}

/// The same bytes out of price, settle and report for 1, 2 and 8 threads.
#[test]
fn price_settle_and_report_do_not_depend_on_the_thread_count() {
    let policy = demo_policy();
    let mut outputs = Vec::new();
    for threads in [1, 2, 8] {
        let priced = priced_file(&policy, 2500, 0x1234_5678_9abc_def1, threads);
        let settled = settle_files(&policy, &priced, threads);
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        let rep = pool.install(|| report_file(&priced, &settled[0]));
        outputs.push((priced, settled, rep));
    }
    for o in &outputs[1..] {
        assert!(o.0 == outputs[0].0, "price depends on the thread count");
        assert!(o.1 == outputs[0].1, "settle depends on the thread count");
        assert!(o.2 == outputs[0].2, "report depends on the thread count");
    }
}
