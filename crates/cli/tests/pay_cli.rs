//! End-to-end tests of `drgdip price`, `settle` and `report` on small fixtures of
//! their own (not the demo data): one output row per input row, per-row errors,
//! primary-care same price, money adding up to the fen, determinism across thread
//! counts and input orders.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::str::FromStr;

use rust_decimal::Decimal;

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_drgdip")
}

fn dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("drgdip-paycli-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

const WEIGHTS: &str = "group,weight,mean_cost,mean_los\n\
AA11,2.0,20000,9\n\
AA15,1.2,12000,7\n\
BB19,0.8,8000,5\n\
PC19,0.5,5000,4\n\
HH11,4.0,40000,12\n";

const POLICY: &str = r#"
[policy]
name = "cli test"
region = "T"

[drg]
weights = "w.csv"
rate_method = "floating"
base_rate = { employee = 10000, resident = 8000 }

[coefficients]
levels = { "3" = 1.2, "2" = 1.0, "1" = 0.9, "0" = 0.8 }

[primary_care]
coefficient = 1.0
drg = ["PC19"]

[outliers.drg]
rule = "ratio-by-level"
high_ratio = { "3" = 3, "2" = 2, "1" = 2, "0" = 2 }
low_ratio = 0.3

[outliers.ungrouped]
rule = "cost-share"
factor = 0.7

[outliers.ambiguous]
rule = "reject"

[outliers.special_review]
drg_quota = 0.05

[benefits]
no_deductible_at_primary_care = true
[benefits.inpatient]
day_surgery_deductible_factor = 0.5
[benefits.inpatient.employee]
deductible = { "3" = 1000, "2" = 600, "1" = 300, "0" = 100 }
ratio = { "3" = 0.85, "2" = 0.88, "1" = 0.90, "0" = 0.92 }
annual_cap = 60000
[benefits.inpatient.resident]
deductible = { "3" = 1200, "2" = 800, "1" = 400, "0" = 100 }
ratio = { "3" = 0.6, "2" = 0.7, "1" = 0.8, "0" = 0.9 }
annual_cap = 30000

[budget]
total = "123456789.01"
[[budget.allocation]]
id = "C1"
share = 0.05

[settlement]
advance_share = 0.9
[settlement.assessment]
H02 = 0.95
[settlement.audit_deductions]
H03 = 1000.5

[[community]]
id = "C1"
lead = "H04"
[community.min_share]
central_township = 0.3
general_township = 0.25
[[community.member]]
hospital = "H05"
kind = "central_township"
[[community.member]]
hospital = "H06"
kind = "general_township"
"#;

const HEADER: &str = "case_id,status,mdc,adrg,drg,hospital_id,hospital_level,insurance_type,person_id,admit_date,discharge_date,total_cost,covered_cost,self_paid,day_surgery,referral,los";

fn setup(name: &str) -> (PathBuf, PathBuf) {
    let d = dir(name);
    std::fs::write(d.join("w.csv"), WEIGHTS).unwrap();
    std::fs::write(d.join("policy.toml"), POLICY).unwrap();
    (d.clone(), d.join("policy.toml"))
}

fn run(args: &[&str]) -> Output {
    Command::new(bin()).args(args).output().unwrap()
}

fn read_csv(path: &Path) -> (Vec<String>, Vec<Vec<String>>) {
    let mut r = csv::Reader::from_path(path).unwrap();
    let h = r.headers().unwrap().iter().map(str::to_owned).collect();
    let rows = r
        .records()
        .map(|x| x.unwrap().iter().map(str::to_owned).collect())
        .collect();
    (h, rows)
}

fn col(h: &[String], name: &str) -> usize {
    h.iter().position(|c| c == name).unwrap()
}

fn num(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap()
}

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

/// `n` synthetic grouped rows (DRG), deterministic.
fn synthetic(n: usize, seed: u64) -> Vec<String> {
    let mut rng = Rng(seed);
    let groups = ["AA11", "AA15", "BB19", "PC19", "HH11"];
    let base = [20000u64, 12000, 8000, 5000, 40000];
    (0..n)
        .map(|i| {
            let h = rng.below(8) + 1;
            let level = [3, 3, 2, 2, 0, 0, 1, 1][usize::try_from(h - 1).unwrap()];
            let g = usize::try_from(rng.below(5)).unwrap();
            let (status, group) = match rng.below(40) {
                0 => ("ungroupable", "0000"),
                _ => ("grouped", groups[g]),
            };
            let cost_fen = base[g] * (30 + rng.below(300)) + rng.below(100);
            let covered_fen = cost_fen * (70 + rng.below(31)) / 100;
            let month = 1 + rng.below(12);
            let day = 1 + rng.below(20);
            let los = 1 + rng.below(8);
            format!(
                "C{i:06},{status},MDCA,AA1,{group},H{h:02},{level},{},P{:04},2025-{month:02}-{day:02},2025-{month:02}-{:02},{}.{:02},{}.{:02},0,{},{},{los}",
                if rng.below(2) == 0 { "employee" } else { "resident" },
                rng.below(400),
                day + los,
                cost_fen / 100,
                cost_fen % 100,
                covered_fen / 100,
                covered_fen % 100,
                u8::from(rng.below(20) == 0),
                ["", "", "", "up", "down"][usize::try_from(rng.below(5)).unwrap()],
            )
        })
        .collect()
}

fn write_input(path: &Path, rows: &[String]) {
    let mut s = String::from(HEADER);
    s.push('\n');
    for r in rows {
        s.push_str(r);
        s.push('\n');
    }
    std::fs::write(path, s).unwrap();
}

#[test]
fn every_row_gets_one_output_row_and_bad_rows_a_named_error() {
    let (d, policy) = setup("rows");
    // BOM + CRLF, a good row, an unknown group, a bad level, a bad cost, an invalid
    // grouping, an ambiguous case rejected by policy, an ungroupable case paid 70%.
    let input = "\u{feff}case_id,status,mdc,adrg,drg,hospital_id,hospital_level,insurance_type,person_id,admit_date,discharge_date,total_cost,covered_cost,los,extra\r\n\
        K1,grouped,MDCA,AA1,AA11,H01,3,employee,P1,2025-01-01,2025-01-05,20000,18000,4,x\r\n\
        K2,grouped,MDCA,ZZ1,ZZ19,H01,3,employee,P2,2025-01-01,2025-01-05,20000,18000,4,x\r\n\
        K3,grouped,MDCA,AA1,AA11,H01,9,employee,P3,2025-01-01,2025-01-05,20000,18000,4,x\r\n\
        K4,grouped,MDCA,AA1,AA11,H01,3,employee,P4,2025-01-01,2025-01-05,abc,18000,4,x\r\n\
        K5,invalid,0000,00,0000,H01,3,employee,P5,2025-01-01,2025-01-05,20000,18000,4,x\r\n\
        K6,ambiguous,MDCA,QY,AQY,H01,3,employee,P6,2025-01-01,2025-01-05,20000,18000,4,x\r\n\
        K7,ungroupable,0000,00,0000,H01,3,resident,P7,2025-01-01,2025-01-05,10000,10000,4,x\r\n\
        K8,grouped,MDCA,AA1,AA11,H01,3,employee,P8,2025-01-09,2025-01-05,20000,18000,4,x\r\n";
    std::fs::write(d.join("in.csv"), input).unwrap();
    let out = d.join("out.csv");
    let o = run(&[
        "price",
        "--policy",
        policy.to_str().unwrap(),
        "--input",
        d.join("in.csv").to_str().unwrap(),
        "--output",
        out.to_str().unwrap(),
    ]);
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let (h, rows) = read_csv(&out);
    assert_eq!(
        h[..9],
        [
            "case_id",
            "method",
            "group",
            "hospital_id",
            "payment_standard",
            "patient_share",
            "fund_outlay",
            "primary_care",
            "outlier"
        ]
    );
    assert_eq!(rows.len(), 8);
    let ids: Vec<&str> = rows.iter().map(|r| r[0].as_str()).collect();
    assert_eq!(ids, ["K1", "K2", "K3", "K4", "K5", "K6", "K7", "K8"]);
    let (st, msg, pay) = (
        col(&h, "status"),
        col(&h, "message"),
        col(&h, "payment_standard"),
    );
    // K1: 2.0 × 10000 × 1.2 = 24000; patient 2000 + 1000 + 17000 × 15% = 5550.
    assert_eq!(rows[0][st], "ok");
    assert_eq!(rows[0][pay], "24000.00");
    assert_eq!(rows[0][col(&h, "patient_share")], "5550.00");
    assert_eq!(rows[0][col(&h, "fund_outlay")], "18450.00");
    let expect = [
        (
            1,
            "line 3: field `drg`: drg group `ZZ19` is not in the policy",
        ),
        (2, "line 4: field `hospital_level`: `9`"),
        (3, "line 5: field `total_cost`: `abc` is not a number"),
        (
            4,
            "line 6: field `status`: case was not grouped (status invalid)",
        ),
        (
            5,
            "line 7: field `status`: ambiguous case rejected by policy",
        ),
        (
            7,
            "line 9: field `discharge_date`: 2025-01-05 is before admit_date 2025-01-09",
        ),
    ];
    for (i, m) in expect {
        assert_eq!(rows[i][st], "rejected");
        assert!(rows[i][msg].starts_with(m), "{} vs {m}", rows[i][msg]);
        assert_eq!(rows[i][pay], "", "a rejected row is never paid zero");
    }
    assert_eq!(rows[6][st], "ok");
    assert_eq!(rows[6][pay], "7000.00");
    assert_eq!(rows[6][col(&h, "outlier")], "ungrouped");
}

#[test]
fn missing_required_column_is_exit_2_naming_it() {
    let (d, policy) = setup("missing");
    std::fs::write(
        d.join("in.csv"),
        "case_id,status,drg,hospital_id,hospital_level\nK1,grouped,AA11,H1,3\n",
    )
    .unwrap();
    let o = run(&[
        "price",
        "--policy",
        policy.to_str().unwrap(),
        "--input",
        d.join("in.csv").to_str().unwrap(),
        "--output",
        d.join("o.csv").to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("no `insurance_type` column"), "{err}");
}

#[test]
fn bad_policy_is_exit_2_naming_key_and_value() {
    let (d, _) = setup("badpolicy");
    let bad = POLICY.replace("advance_share = 0.9", "advance_share = 9");
    std::fs::write(d.join("bad.toml"), bad).unwrap();
    write_input(&d.join("in.csv"), &synthetic(5, 3));
    let o = run(&[
        "price",
        "--policy",
        d.join("bad.toml").to_str().unwrap(),
        "--input",
        d.join("in.csv").to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("`settlement.advance_share` has invalid value 9"),
        "{err}"
    );
}

fn price(policy: &Path, input: &Path, output: &Path, threads: &str) {
    let o = run(&[
        "price",
        "--policy",
        policy.to_str().unwrap(),
        "--input",
        input.to_str().unwrap(),
        "--output",
        output.to_str().unwrap(),
        "--threads",
        threads,
    ]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

#[test]
fn output_is_identical_for_any_thread_count_and_input_order() {
    let (d, policy) = setup("determinism");
    let rows = synthetic(40_000, 11);
    write_input(&d.join("in.csv"), &rows);
    price(&policy, &d.join("in.csv"), &d.join("p1.csv"), "1");
    price(&policy, &d.join("in.csv"), &d.join("p3.csv"), "3");
    let a = std::fs::read(d.join("p1.csv")).unwrap();
    assert_eq!(a, std::fs::read(d.join("p3.csv")).unwrap());
    // Shuffled input: the same row for every case (accumulators run in date order).
    let mut shuffled = rows.clone();
    let mut rng = Rng(99);
    for i in (1..shuffled.len()).rev() {
        let j = usize::try_from(rng.below(u64::try_from(i).unwrap() + 1)).unwrap();
        shuffled.swap(i, j);
    }
    write_input(&d.join("shuf.csv"), &shuffled);
    price(&policy, &d.join("shuf.csv"), &d.join("ps.csv"), "2");
    let sorted = |p: &Path| {
        let (_, mut r) = read_csv(p);
        r.sort();
        r
    };
    let base = sorted(&d.join("p1.csv"));
    assert_eq!(base, sorted(&d.join("ps.csv")));
    // Some annual caps bind, so order inside a person really matters.
    let (h, _) = read_csv(&d.join("p1.csv"));
    assert!(
        base.iter()
            .any(|r| d_or0(&r[col(&h, "over_cap")]) > Decimal::ZERO)
    );

    // Settlement is the same for both, and for any thread count.
    for (inp, out, t) in [("p1.csv", "s1.csv", "1"), ("ps.csv", "s2.csv", "3")] {
        let o = run(&[
            "settle",
            "--policy",
            policy.to_str().unwrap(),
            "--input",
            d.join(inp).to_str().unwrap(),
            "--output",
            d.join(out).to_str().unwrap(),
            "--threads",
            t,
        ]);
        assert_eq!(
            o.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
    for suffix in ["s{}.csv", "s{}.summary.csv", "s{}.community.csv"] {
        let a = std::fs::read(d.join(suffix.replace("{}", "1"))).unwrap();
        let b = std::fs::read(d.join(suffix.replace("{}", "2"))).unwrap();
        assert_eq!(a, b, "{suffix}");
    }
}

fn d_or0(s: &str) -> Decimal {
    if s.is_empty() { Decimal::ZERO } else { num(s) }
}

#[test]
fn primary_care_group_pays_the_same_in_every_hospital() {
    let (dd, policy) = setup("primary");
    let mut rows = Vec::new();
    for (i, (h, lv)) in [("H01", 3), ("H02", 2), ("H05", 0), ("H07", 1), ("H09", 3)]
        .iter()
        .enumerate()
    {
        rows.push(format!(
            "P{i},grouped,MDCP,PC1,PC19,{h},{lv},employee,Q{i},2025-03-01,2025-03-04,5200.00,5000.00,0,0,,3"
        ));
        rows.push(format!(
            "N{i},grouped,MDCA,AA1,AA11,{h},{lv},employee,R{i},2025-03-01,2025-03-04,20000.00,18000.00,0,0,,3"
        ));
    }
    write_input(&dd.join("in.csv"), &rows);
    price(&policy, &dd.join("in.csv"), &dd.join("out.csv"), "0");
    let (h, out) = read_csv(&dd.join("out.csv"));
    let pay = col(&h, "payment_standard");
    let pc: Vec<&str> = out
        .iter()
        .filter(|r| r[2] == "PC19")
        .map(|r| r[pay].as_str())
        .collect();
    assert_eq!(pc, ["5000.00"; 5]);
    assert!(
        out.iter()
            .filter(|r| r[2] == "PC19")
            .all(|r| r[col(&h, "primary_care")] == "1")
    );
    let other: std::collections::BTreeSet<&str> = out
        .iter()
        .filter(|r| r[2] == "AA11")
        .map(|r| r[pay].as_str())
        .collect();
    assert!(
        other.len() > 1,
        "non-primary group differs by level: {other:?}"
    );
}

#[test]
fn settlement_totals_add_up_to_the_fen() {
    let (d, policy) = setup("totals");
    write_input(&d.join("in.csv"), &synthetic(5_000, 5));
    price(&policy, &d.join("in.csv"), &d.join("p.csv"), "0");
    let o = run(&[
        "settle",
        "--policy",
        policy.to_str().unwrap(),
        "--input",
        d.join("p.csv").to_str().unwrap(),
        "--output",
        d.join("s.csv").to_str().unwrap(),
    ]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    // Recompute per-hospital sums from the priced rows.
    let (ph, prows) = read_csv(&d.join("p.csv"));
    let mut sums: BTreeMap<String, [Decimal; 4]> = BTreeMap::new();
    for r in &prows {
        assert_eq!(r[col(&ph, "status")], "ok");
        let e = sums.entry(r[3].clone()).or_default();
        e[0] += Decimal::ONE;
        e[1] += num(&r[col(&ph, "payment_standard")]);
        e[2] += num(&r[col(&ph, "patient_share")]);
        e[3] += num(&r[col(&ph, "fund_outlay")]);
        // fund outlay = max(0, standard − patient), every amount to the fen.
        let std_ = num(&r[col(&ph, "payment_standard")]);
        let pat = num(&r[col(&ph, "patient_share")]);
        assert_eq!(
            num(&r[col(&ph, "fund_outlay")]),
            (std_ - pat).max(Decimal::ZERO)
        );
        for c in ["payment_standard", "patient_share", "fund_outlay"] {
            assert_eq!(num(&r[col(&ph, c)]).scale(), 2, "{c}");
        }
    }
    let (sh, srows) = read_csv(&d.join("s.csv"));
    assert_eq!(
        sh[..6],
        [
            "hospital_id",
            "cases",
            "points",
            "payment_total",
            "patient_total",
            "fund_total"
        ]
    );
    assert_eq!(srows.len(), sums.len());
    let mut annual = Decimal::ZERO;
    let mut member_paid = std::collections::BTreeMap::new();
    for r in &srows {
        let s = &sums[&r[0]];
        assert_eq!(num(&r[1]), s[0]);
        assert_eq!(num(&r[3]), s[1], "payment {}", r[0]);
        assert_eq!(num(&r[4]), s[2], "patient {}", r[0]);
        assert_eq!(num(&r[5]), s[3], "fund {}", r[0]);
        // advances + deposits = fund outlay; final = annual − advances.
        let adv = num(&r[col(&sh, "advance_paid")]);
        let dep = num(&r[col(&sh, "deposit_held")]);
        assert_eq!(adv + dep, s[3]);
        let ann = num(&r[col(&sh, "annual_amount")]);
        let fin = num(&r[col(&sh, "final_payment")]);
        if r[col(&sh, "community")].is_empty() {
            assert_eq!(fin, ann - adv);
        } else {
            // A member is paid its allocation plus its employee part (outside the
            // resident package), checked against the community file below.
            member_paid.insert(
                r[0].clone(),
                (fin + adv, num(&r[col(&sh, "outside_community")])),
            );
        }
        assert_eq!(
            ann,
            num(&r[col(&sh, "assessed")]) - num(&r[col(&sh, "audit_deduction")])
        );
        annual += ann;
        if r[0] == "H03" {
            assert_eq!(r[col(&sh, "audit_deduction")], "1000.50");
        }
        if r[0] == "H02" {
            assert_eq!(r[col(&sh, "assessment_coef")], "0.95");
        }
    }
    // Budget: total = reserves + allocations + remainder.
    let (_, summary) = read_csv(&d.join("s.summary.csv"));
    let get = |sec: &str, item: &str| {
        num(&summary
            .iter()
            .find(|r| r[0] == sec && r[1] == item)
            .unwrap_or_else(|| panic!("{sec}/{item}"))[2])
    };
    assert_eq!(get("budget", "total"), num("123456789.01"));
    assert_eq!(get("budget", "risk_reserve"), num("1234567.89"));
    assert_eq!(
        get("budget", "risk_reserve")
            + get("budget", "city_reserve")
            + get("budget", "allocation:C1")
            + get("budget", "remainder"),
        get("budget", "total")
    );
    assert_eq!(get("totals", "annual_amount"), annual);
    // Community: allocations add up to what the fund pays the community.
    let (ch, crows) = read_csv(&d.join("s.community.csv"));
    let alloc: Decimal = crows.iter().map(|r| num(&r[col(&ch, "allocation")])).sum();
    assert_eq!(alloc, get("community:C1", "paid"));
    for r in &crows {
        let alloc = num(&r[col(&ch, "allocation")]);
        let (paid, outside) = member_paid[&r[1]];
        assert_eq!(paid, alloc + outside, "member {}", r[1]);
        let spent = num(&r[col(&ch, "spent")]);
        let ann = num(&srows.iter().find(|s| s[0] == r[1]).unwrap()[col(&sh, "annual_amount")]);
        assert_eq!(spent + outside, ann, "member {}", r[1]);
    }
    let spent: Decimal = crows.iter().map(|r| num(&r[col(&ch, "spent")])).sum();
    assert_eq!(spent, get("community:C1", "spent"));
    let central = crows.iter().find(|r| r[1] == "H05").unwrap();
    assert!(num(&central[col(&ch, "share")]) >= num("0.2999"));
    let r = get("community:C1", "surplus_or_deficit");
    if r >= Decimal::ZERO {
        assert_eq!(
            get("community:C1", "retained") + get("community:C1", "carried"),
            r
        );
    } else {
        assert_eq!(
            get("community:C1", "fund_deficit_share")
                + get("community:C1", "community_deficit_share"),
            -r
        );
    }
    // Floating rate: total cost / total weight points of the year.
    assert!(get("drg", "final_rate:employee") > Decimal::ZERO);

    // Report reads both and writes per-hospital + city rows.
    let o = run(&[
        "report",
        "--input",
        d.join("p.csv").to_str().unwrap(),
        "--settlement",
        d.join("s.csv").to_str().unwrap(),
        "--output",
        d.join("r.csv").to_str().unwrap(),
        "--groups",
        d.join("g.csv").to_str().unwrap(),
        "--svg",
        d.join("c.svg").to_str().unwrap(),
    ]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let table = String::from_utf8_lossy(&o.stdout);
    assert!(
        table.contains("grouping_rate") && table.contains("ALL"),
        "{table}"
    );
    let (rh, rrows) = read_csv(&d.join("r.csv"));
    let city = rrows.last().unwrap();
    assert_eq!(city[1], "ALL");
    assert_eq!(city[col(&rh, "cases")], "5000");
    // City-wide indices are 1 by construction (group means are the city's own).
    assert_eq!(city[col(&rh, "cost_index")], "1");
    assert_eq!(city[col(&rh, "time_index")], "1");
    let pay_sum: Decimal = rrows[..rrows.len() - 1]
        .iter()
        .map(|r| num(&r[col(&rh, "payment_total")]))
        .sum();
    assert_eq!(pay_sum, num(&city[col(&rh, "payment_total")]));
    let grouped = num(&city[col(&rh, "grouped")]);
    let ung = prows
        .iter()
        .filter(|r| r[col(&ph, "grouping_status")] != "grouped")
        .count();
    assert_eq!(grouped, Decimal::from(5000 - ung));
    assert!(
        std::fs::read_to_string(d.join("c.svg"))
            .unwrap()
            .starts_with("<svg")
    );
    let (gh, grows) = read_csv(&d.join("g.csv"));
    assert!(
        grows
            .iter()
            .all(|r| ["low", "ok", "high"].contains(&r[col(&gh, "cv_flag")].as_str()))
    );
}

#[test]
fn stdin_and_stdout_work() {
    let (d, policy) = setup("stdio");
    let rows = synthetic(300, 8);
    let mut s = String::from(HEADER);
    s.push('\n');
    for r in &rows {
        s.push_str(r);
        s.push('\n');
    }
    let mut child = Command::new(bin())
        .args([
            "price",
            "--policy",
            policy.to_str().unwrap(),
            "--input",
            "-",
            "--output",
            "-",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(s.as_bytes()).unwrap();
    let o = child.wait_with_output().unwrap();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    write_input(&d.join("in.csv"), &rows);
    price(&policy, &d.join("in.csv"), &d.join("p.csv"), "0");
    assert_eq!(o.stdout, std::fs::read(d.join("p.csv")).unwrap());
}

#[test]
fn dip_cases_price_and_settle_by_points() {
    let d = dir("dip");
    std::fs::write(
        d.join("policy.toml"),
        r#"
[policy]
name = "dip"
region = "T"
[dip]
point_value_method = "settlement"
point_value = { employee = 10, resident = 8 }
fund_budget = 50000
[coefficients]
levels = { "3" = 1.2, "2" = 1.0, "1" = 0.9, "0" = 0.8 }
[primary_care]
dip = ["J18.9:cons"]
[outliers.dip]
rule = "low-high-review"
[benefits]
[benefits.inpatient.employee]
deductible = 0
ratio = 0.9
[benefits.inpatient.resident]
deductible = 0
ratio = 0.8
"#,
    )
    .unwrap();
    std::fs::write(
        d.join("in.csv"),
        "case_id,status,dip_code,layer,score,aux_coef,hospital_id,hospital_level,insurance_type,person_id,admit_date,discharge_date,total_cost,covered_cost,los\n\
         D1,grouped,K80.1:51.23,core,1500,1.1,H1,3,employee,A,2025-02-01,2025-02-05,20000,20000,4\n\
         D2,composite,A09-1,composite,500,,H2,2,resident,B,2025-02-01,2025-02-05,2000,2000,4\n\
         D3,grouped,J18.9:cons,core,600,,H1,3,employee,C,2025-02-01,2025-02-05,3000,3000,4\n\
         D4,ungrouped,,,,,H1,3,employee,E,2025-02-01,2025-02-05,3000,3000,4\n\
         D5,grouped,K80.1:51.23,core,abc,,H1,3,employee,F,2025-02-01,2025-02-05,3000,3000,4\n",
    )
    .unwrap();
    let o = run(&[
        "price",
        "--policy",
        d.join("policy.toml").to_str().unwrap(),
        "--input",
        d.join("in.csv").to_str().unwrap(),
        "--output",
        d.join("p.csv").to_str().unwrap(),
    ]);
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let (h, rows) = read_csv(&d.join("p.csv"));
    let get = |i: usize, c: &str| rows[i][col(&h, c)].clone();
    // D1: 1500 × 1.1 × 1.2 × 10 = 19800; patient 10%.
    assert_eq!(get(0, "method"), "dip");
    assert_eq!(get(0, "payment_standard"), "19800.00");
    assert_eq!(get(0, "patient_share"), "2000.00");
    assert_eq!(get(0, "fund_outlay"), "17800.00");
    assert_eq!(get(0, "score"), "1500");
    assert_eq!(get(0, "points"), "1980");
    // D2: 500 × 1.0 × 8 = 4000; cost exactly 50% is not low-cost.
    assert_eq!(get(1, "payment_standard"), "4000.00");
    assert_eq!(get(1, "outlier"), "none");
    // D3: primary-care type, no hospital coefficient: 600 × 10.
    assert_eq!(get(2, "payment_standard"), "6000.00");
    assert_eq!(get(2, "primary_care"), "1");
    assert_eq!(get(3, "status"), "rejected");
    assert!(get(3, "message").starts_with("line 5: field `status`: ungrouped case rejected"));
    assert!(get(4, "message").starts_with("line 6: field `score`: `abc` is not a number"));
    let o = run(&[
        "settle",
        "--policy",
        d.join("policy.toml").to_str().unwrap(),
        "--input",
        d.join("p.csv").to_str().unwrap(),
        "--output",
        d.join("s.csv").to_str().unwrap(),
    ]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let (sh, srows) = read_csv(&d.join("s.csv"));
    // Points 1980 + 600 = 2580 (H1) and 500 (H2). Fund payment ratio = (25000 −
    // 2700) / 25000 = 0.892; PV = 50000 / 0.892 / 3080 = 18.1993. Each hospital is
    // paid round(points × PV × ratio): 2580 × 18.1993 × 0.892 = 41883.137… → 41883.14
    // and 500 × 18.1993 × 0.892 = 8116.887… → 8116.89; 0.03 more than the budget,
    // shown as the rounding difference.
    assert_eq!(srows[0][col(&sh, "points")], "2580");
    assert_eq!(srows[0][col(&sh, "fund_due")], "41883.14");
    assert_eq!(srows[1][col(&sh, "fund_due")], "8116.89");
    let (_, summary) = read_csv(&d.join("s.summary.csv"));
    let val = |item: &str| summary.iter().find(|r| r[1] == item).unwrap()[2].clone();
    assert_eq!(val("fund_payment_ratio:employee"), "0.892");
    assert_eq!(val("point_value:employee"), "18.1993");
    assert_eq!(val("distributed:employee"), "50000.03");
    assert_eq!(val("rounding_difference"), "-0.03");
}
