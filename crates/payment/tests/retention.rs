//! Surplus retention across every band and at each boundary, and deficit sharing,
//! worked by hand.

use drgdip_payment::policy::{Band, default_surplus_bands};
use drgdip_payment::retention::{apply_bands, settle_unit};
use rust_decimal::Decimal;
use rust_decimal_macros::dec;

const BUDGET: Decimal = dec!(1000000);

fn deficit_bands() -> Vec<Band> {
    // The fund bears half of an over-spend up to 5% of the budget, 30% of the part
    // between 5% and 10%, nothing beyond.
    vec![
        Band {
            up_to: Some(dec!(0.05)),
            share: dec!(0.5),
        },
        Band {
            up_to: Some(dec!(0.10)),
            share: dec!(0.3),
        },
        Band {
            up_to: None,
            share: dec!(0),
        },
    ]
}

fn surplus(spent: Decimal) -> (Decimal, Decimal, Decimal) {
    let r = settle_unit(BUDGET, spent, &default_surplus_bands(), &deficit_bands());
    assert_eq!(r.retained + r.carried, r.surplus_or_deficit, "parts add up");
    assert_eq!(r.paid, spent + r.retained);
    (r.surplus_or_deficit, r.retained, r.carried)
}

#[test]
fn the_seed_example() {
    // Budget 1,000,000, spent 880,000 → surplus 120,000, kept 50,000 + 35,000 + 6,000.
    assert_eq!(
        surplus(dec!(880000)),
        (dec!(120000), dec!(91000), dec!(29000))
    );
    let b = apply_bands(BUDGET, dec!(120000), &default_surplus_bands());
    let kept: Vec<Decimal> = b.slices.iter().map(|s| s.share_amount).collect();
    assert_eq!(kept, vec![dec!(50000), dec!(35000), dec!(6000), dec!(0)]);
    let parts: Vec<Decimal> = b.slices.iter().map(|s| s.amount).collect();
    assert_eq!(parts, vec![dec!(50000), dec!(50000), dec!(20000), dec!(0)]);
}

#[test]
fn every_band_and_each_boundary() {
    // No surplus.
    assert_eq!(surplus(dec!(1000000)), (dec!(0), dec!(0), dec!(0)));
    // Inside the first band: kept in full.
    assert_eq!(surplus(dec!(970000)), (dec!(30000), dec!(30000), dec!(0)));
    // Exactly 5% (含5%): still all kept.
    assert_eq!(surplus(dec!(950000)), (dec!(50000), dec!(50000), dec!(0)));
    // One fen past 5%: that fen is 70% kept → 0.007 rounds to 0.01.
    assert_eq!(
        surplus(dec!(949999.99)),
        (dec!(50000.01), dec!(50000.01), dec!(0))
    );
    // Ten fen past: 0.07 kept, 0.03 carried.
    assert_eq!(
        surplus(dec!(949999.90)),
        (dec!(50000.10), dec!(50000.07), dec!(0.03))
    );
    // Inside the second band: 50,000 + 30,000 × 70%.
    assert_eq!(
        surplus(dec!(920000)),
        (dec!(80000), dec!(71000), dec!(9000))
    );
    // Exactly 10%.
    assert_eq!(
        surplus(dec!(900000)),
        (dec!(100000), dec!(85000), dec!(15000))
    );
    // Exactly 15%: 50,000 + 35,000 + 15,000.
    assert_eq!(
        surplus(dec!(850000)),
        (dec!(150000), dec!(100000), dec!(50000))
    );
    // Above 15%: nothing more kept.
    assert_eq!(
        surplus(dec!(800000)),
        (dec!(200000), dec!(100000), dec!(100000))
    );
    assert_eq!(
        surplus(dec!(0)),
        (dec!(1000000), dec!(100000), dec!(900000))
    );
}

#[test]
fn deficits_follow_the_sharing_rule() {
    let d = |spent: Decimal| {
        let r = settle_unit(BUDGET, spent, &default_surplus_bands(), &deficit_bands());
        assert_eq!(r.fund_share + r.unit_share, -r.surplus_or_deficit);
        assert_eq!(r.paid, BUDGET + r.fund_share);
        assert_eq!(r.retained, dec!(0));
        (r.surplus_or_deficit, r.fund_share, r.unit_share)
    };
    assert_eq!(d(dec!(1030000)), (dec!(-30000), dec!(15000), dec!(15000)));
    assert_eq!(d(dec!(1050000)), (dec!(-50000), dec!(25000), dec!(25000)));
    // 25,000 + 30,000 × 30% = 34,000.
    assert_eq!(d(dec!(1080000)), (dec!(-80000), dec!(34000), dec!(46000)));
    assert_eq!(d(dec!(1100000)), (dec!(-100000), dec!(40000), dec!(60000)));
    // Beyond 10% the unit bears everything.
    assert_eq!(d(dec!(1150000)), (dec!(-150000), dec!(40000), dec!(110000)));
}

#[test]
fn odd_budgets_round_band_limits_to_the_fen() {
    // Budget 333,333.33: 5% = 16,666.6665 → 16,666.67.
    let b = apply_bands(dec!(333333.33), dec!(20000), &default_surplus_bands());
    assert_eq!(b.slices[0].amount, dec!(16666.67));
    assert_eq!(b.slices[1].amount, dec!(3333.33));
    assert_eq!(b.slices[1].share_amount, dec!(2333.33)); // 2333.331
    assert_eq!(b.shared, dec!(19000.00));
    assert_eq!(b.rest, dec!(1000.00));
}
