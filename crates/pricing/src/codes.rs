//! Small value types shared by pricing and payment: hospital level, insurance type,
//! payment method and calendar date.

use std::fmt;

/// Hospital level (医院等级). The policy file keys levels by their code `3`, `2`, `1`,
/// `0`; case files may also use the Chinese names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum HospitalLevel {
    /// 基层: township health centres, community health centres (code `0`).
    PrimaryCare,
    /// 一级 (code `1`).
    First,
    /// 二级 (code `2`).
    Second,
    /// 三级 (code `3`).
    Third,
}

impl HospitalLevel {
    /// Every level, lowest first.
    pub const ALL: [HospitalLevel; 4] = [
        HospitalLevel::PrimaryCare,
        HospitalLevel::First,
        HospitalLevel::Second,
        HospitalLevel::Third,
    ];

    /// Parses `3`/`2`/`1`/`0` or `三级`/`二级`/`一级`/`基层` (surrounding spaces ignored).
    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim() {
            "3" | "三级" => Some(Self::Third),
            "2" | "二级" => Some(Self::Second),
            "1" | "一级" => Some(Self::First),
            "0" | "基层" => Some(Self::PrimaryCare),
            _ => None,
        }
    }

    /// The level's code as used in policy files and outputs.
    #[must_use]
    pub fn code(self) -> &'static str {
        match self {
            Self::Third => "3",
            Self::Second => "2",
            Self::First => "1",
            Self::PrimaryCare => "0",
        }
    }

    /// Index 0..4 (primary care = 0), for per-level tables.
    #[must_use]
    pub fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for HospitalLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// Insurance type (险种): employee (职工) or resident (居民) basic medical insurance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum InsuranceType {
    /// 职工基本医疗保险.
    Employee,
    /// 城乡居民基本医疗保险.
    Resident,
}

impl InsuranceType {
    /// Both types, employee first.
    pub const ALL: [InsuranceType; 2] = [InsuranceType::Employee, InsuranceType::Resident];

    /// Parses `employee`/`resident` (any case) or `职工`/`居民`.
    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        let t = s.trim();
        if t.eq_ignore_ascii_case("employee") || t == "职工" {
            Some(Self::Employee)
        } else if t.eq_ignore_ascii_case("resident") || t == "居民" {
            Some(Self::Resident)
        } else {
            None
        }
    }

    /// The key used in policy files and outputs.
    #[must_use]
    pub fn key(self) -> &'static str {
        match self {
            Self::Employee => "employee",
            Self::Resident => "resident",
        }
    }

    /// Index 0..2, for per-type tables.
    #[must_use]
    pub fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for InsuranceType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.key())
    }
}

/// Payment method of a case: DRG (weight × rate) or DIP (points × point value).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Method {
    /// 按疾病诊断相关分组付费.
    Drg,
    /// 按病种分值付费.
    Dip,
}

impl Method {
    /// `drg` or `dip`.
    #[must_use]
    pub fn key(self) -> &'static str {
        match self {
            Self::Drg => "drg",
            Self::Dip => "dip",
        }
    }

    /// Parses `drg` / `dip` (any case).
    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        let t = s.trim();
        if t.eq_ignore_ascii_case("drg") {
            Some(Self::Drg)
        } else if t.eq_ignore_ascii_case("dip") {
            Some(Self::Dip)
        } else {
            None
        }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.key())
    }
}

/// A calendar date (proleptic Gregorian), ordered chronologically.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date {
    /// Year, 1900..=2999.
    pub year: u16,
    /// Month, 1..=12.
    pub month: u8,
    /// Day of month, 1..=31 (checked against the month).
    pub day: u8,
}

impl Date {
    /// Parses `YYYY-MM-DD`; returns `None` for anything else or an impossible date.
    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        let b = s.trim().as_bytes();
        if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
            return None;
        }
        let num = |r: std::ops::Range<usize>| -> Option<u32> {
            let mut v = 0u32;
            for &c in &b[r] {
                if !c.is_ascii_digit() {
                    return None;
                }
                v = v * 10 + u32::from(c - b'0');
            }
            Some(v)
        };
        let year = num(0..4)?;
        let month = num(5..7)?;
        let day = num(8..10)?;
        if !(1900..=2999).contains(&year) || !(1..=12).contains(&month) || day == 0 {
            return None;
        }
        let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
        let dim = match month {
            2 if leap => 29,
            2 => 28,
            4 | 6 | 9 | 11 => 30,
            _ => 31,
        };
        if day > dim {
            return None;
        }
        Some(Self {
            year: year as u16,
            month: month as u8,
            day: day as u8,
        })
    }
}

impl Date {
    /// A 20-bit integer that orders like the date (`year << 9 | month << 5 | day`).
    #[must_use]
    pub fn key(self) -> u32 {
        (u32::from(self.year) << 9) | (u32::from(self.month) << 5) | u32::from(self.day)
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_levels_and_types_in_both_spellings() {
        assert_eq!(HospitalLevel::parse("三级"), Some(HospitalLevel::Third));
        assert_eq!(
            HospitalLevel::parse(" 0 "),
            Some(HospitalLevel::PrimaryCare)
        );
        assert_eq!(
            HospitalLevel::parse("基层"),
            Some(HospitalLevel::PrimaryCare)
        );
        assert_eq!(HospitalLevel::parse("4"), None);
        assert_eq!(InsuranceType::parse("职工"), Some(InsuranceType::Employee));
        assert_eq!(
            InsuranceType::parse("Resident"),
            Some(InsuranceType::Resident)
        );
        assert_eq!(InsuranceType::parse("x"), None);
    }

    #[test]
    fn parses_dates_and_rejects_impossible_ones() {
        let d = Date::parse("2024-02-29").unwrap();
        assert_eq!(d.to_string(), "2024-02-29");
        assert!(Date::parse("2023-02-29").is_none());
        assert!(Date::parse("2023-13-01").is_none());
        assert!(Date::parse("2023-1-01").is_none());
        assert!(Date::parse("20230101").is_none());
        assert!(Date::parse("2023-04-31").is_none());
        assert!(Date::parse("2023-01-02") > Date::parse("2023-01-01"));
    }
}
