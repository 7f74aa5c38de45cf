//! Bad values in the payment sections are rejected with the key (and value) named.

mod common;

/// Follows `common::HEAD`.
const BASE: &str = r#"
[benefits.inpatient.employee]
deductible = { "3" = 1000, "2" = 600, "1" = 300, "0" = 100 }
ratio = 0.9
[benefits.inpatient.resident]
deductible = 500
ratio = 0.7
[budget]
total = 1000000
[[budget.allocation]]
id = "C"
share = 0.1
[settlement]
advance_share = 0.9
[[settlement.surplus_bands]]
up_to = 0.05
kept = 1
[[settlement.surplus_bands]]
kept = 0
[[community]]
id = "C"
lead = "L"
[[community.member]]
hospital = "T1"
kind = "central_township"
"#;

fn load(text: &str) -> Result<drgdip_payment::Policy, String> {
    common::try_policy(&format!("{}{text}", common::HEAD)).map_err(|e| e.to_string())
}

fn err(from: &str, to: &str) -> String {
    assert!(BASE.contains(from), "fixture lacks {from}");
    load(&BASE.replace(from, to)).unwrap_err()
}

#[test]
fn the_base_fixture_loads() {
    let p = load(BASE).unwrap();
    assert_eq!(p.payment.communities[0].id, "C");
}

#[test]
fn payment_keys_are_named_in_errors() {
    let e = err("ratio = 0.9", "ratio = 1.9");
    assert!(
        e.contains("`benefits.inpatient.employee.ratio`") && e.contains("1.9"),
        "{e}"
    );
    let e = err("deductible = 500", "deductible = -5");
    assert!(
        e.contains("`benefits.inpatient.resident.deductible`") && e.contains("-5"),
        "{e}"
    );
    let e = err("\"0\" = 100 }", "\"0\" = \"x\" }");
    assert!(
        e.contains("`benefits.inpatient.employee.deductible.0`"),
        "{e}"
    );
    let e = err("advance_share = 0.9", "advance_share = \"most\"");
    assert!(
        e.contains("`settlement.advance_share`") && e.contains("\"most\""),
        "{e}"
    );
    let e = err("up_to = 0.05\nkept = 1", "up_to = 0.05\nkept = 2");
    assert!(e.contains("`settlement.surplus_bands[0].kept`"), "{e}");
    let e = err(
        "[[settlement.surplus_bands]]\nkept = 0",
        "[[settlement.surplus_bands]]\nup_to = 0.01\nkept = 0",
    );
    assert!(e.contains("`settlement.surplus_bands[1].up_to`"), "{e}");
    let e = err("share = 0.1", "share = 1.5");
    assert!(e.contains("`budget.allocation[0].share`"), "{e}");
    let e = err("id = \"C\"\nshare", "id = \"D\"\nshare");
    assert!(
        e.contains("`community[0].id`") && e.contains("\"C\""),
        "{e}"
    );
    let e = err("kind = \"central_township\"", "kind = \"hamlet\"");
    assert!(
        e.contains("`community[0].member[0].kind`") && e.contains("hamlet"),
        "{e}"
    );
    let e = err("[settlement]\n", "[settlement]\nadvanse = 1\n");
    assert!(e.contains("`settlement.advanse`"), "{e}");
    let e = err("lead = \"L\"", "lead = \"T1\"");
    assert!(
        e.contains("`community[0].member`") && e.contains("twice"),
        "{e}"
    );
}
