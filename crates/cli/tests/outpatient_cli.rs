//! `drgdip outpatient` with the demo policy: the 两病 scheme (30 yuan a year) and the
//! resident ordinary outpatient cap (400 yuan a year), one row per claim, exit 1 when
//! a row is rejected.

use std::path::PathBuf;
use std::process::Command;

fn policy() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../data/demo-policy.toml")
}

#[test]
fn outpatient_claims_are_priced_from_the_cli() {
    let dir = std::env::temp_dir().join(format!("drgdip-outpatient-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let input = dir.join("claims.csv");
    std::fs::write(
        &input,
        "claim_id,person_id,scheme,hospital_level,insurance_type,visit_date,total_cost,covered_cost\n\
         O1,p1,two_diseases,1,resident,2025-01-05,100.00,100.00\n\
         O2,p1,two_diseases,1,resident,2025-02-05,100.00,100.00\n\
         O3,p2,ordinary,1,resident,2025-01-05,900.00,900.00\n\
         O4,p2,ordinary,1,resident,2025-04-05,100.00,100.00\n\
         O5,p3,ordinary,1,employee,2025-04-05,100.00,100.00\n",
    )
    .unwrap();
    let out = dir.join("out.csv");
    let o = Command::new(env!("CARGO_BIN_EXE_drgdip"))
        .args(["outpatient", "--policy"])
        .arg(policy())
        .arg("--input")
        .arg(&input)
        .arg("--output")
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let text = std::fs::read_to_string(&out).unwrap();
    let rows: Vec<Vec<&str>> = text
        .lines()
        .skip(1)
        .map(|l| l.split(',').collect())
        .collect();
    assert_eq!(rows.len(), 5);
    // fund_share column: the demo's two_diseases (30 a year, 70%) and ordinary (50%,
    // cap 400 a year, residents only).
    let fund: Vec<&str> = rows.iter().map(|r| r[12]).collect();
    assert_eq!(fund, ["49.00", "70.00", "400.00", "0.00", ""]);
    assert_eq!(rows[4][13], "rejected");
    assert!(
        rows[4][14].starts_with("row 6: field `insurance_type`"),
        "{:?}",
        rows[4]
    );
}
