//! Entry points of the fuzz targets (`fuzz/`, see `docs/fuzzing.md`): each takes
//! arbitrary bytes, runs one parser (and what follows it) and panics only when a
//! property of the project is broken: a crash, a row lost or invented, two readers
//! disagreeing. The targets call these functions; the test `tests/fuzz_corpus.rs`
//! replays the checked-in corpora through them on stable Rust, so CI keeps every
//! finding fixed.
//!
//! The demo scheme, catalogue and policy of `data/` serve as the fixed half of the
//! inputs (read once per process from this crate's source folder).

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use sha2::{Digest, Sha256};

use drgdip_grouper::dip::{Catalog, CatalogSource, DipCase};
use drgdip_grouper::{Grouper, Scheme};
use drgdip_io::stream::{self, Format, Job, Options};
use drgdip_io::{DipGroupJob, GroupJob};

/// The files of a scheme folder, in the order the scheme target's first byte picks.
pub const SCHEME_FILES: [&str; 9] = [
    "scheme.json",
    "mcc.csv",
    "cc.csv",
    "pdx_exclusion_table.csv",
    "or_procedures.csv",
    "dx_names.csv",
    "proc_names.csv",
    "dx_code_map.csv",
    "proc_code_map.csv",
];

/// The files of a catalogue folder, in the order the catalogue target's first byte picks.
pub const CATALOG_FILES: [&str; 7] = [
    "catalog.json",
    "types.csv",
    "aux.csv",
    "cci.csv",
    "dx_lists.csv",
    "exclusions.csv",
    "procedure_attributes.csv",
];

/// The project's `data/` folder.
pub fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("data")
}

fn demo_grouper() -> &'static Grouper {
    static G: OnceLock<Grouper> = OnceLock::new();
    G.get_or_init(|| {
        let scheme = Scheme::from_dir(data_dir().join("demo-scheme")).expect("demo scheme");
        Grouper::compile(&scheme).expect("demo scheme compiles")
    })
}

fn demo_catalog() -> &'static Catalog {
    static C: OnceLock<Catalog> = OnceLock::new();
    C.get_or_init(|| {
        let source = CatalogSource::from_dir(data_dir().join("demo-catalog")).expect("catalogue");
        Catalog::compile(&source).expect("demo catalogue compiles")
    })
}

/// Small blocks, so that even short inputs are cut into several blocks and batches.
fn small_blocks(format: Format) -> Options {
    Options {
        format,
        carry: true,
        block_size: 64,
        batch_blocks: 3,
        ..Options::default()
    }
}

/// The number of data records (after the header) the `csv` crate reads, as the
/// pipeline reads CSV: a UTF-8 byte order mark dropped, rows of any length.
pub fn csv_data_records(data: &[u8]) -> usize {
    let body = data.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(data);
    csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(body)
        .byte_records()
        .count()
        .saturating_sub(1)
}

/// Runs a job over `data` as CSV and as JSON Lines; for CSV, the output must have one
/// row per record the `csv` crate reads, and parse back as CSV with the header's width.
fn run_job<J: Job>(job: &J, data: &[u8]) {
    let mut out = Vec::new();
    // A whole file rejected (no header, a required column missing) is an error the CLI
    // reports with exit 2: nothing is lost silently.
    if let Ok(summary) = stream::run(job, data, &mut out, &small_blocks(Format::Csv), &|_, _| {}) {
        let records = csv_data_records(data) as u64;
        assert_eq!(summary.rows, records, "rows written vs records read");
        let mut rdr = csv::ReaderBuilder::new().from_reader(&out[..]);
        let width = rdr.byte_headers().expect("output header").len();
        let mut rows = 0u64;
        for rec in rdr.byte_records() {
            assert_eq!(rec.expect("output parses").len(), width, "output row width");
            rows += 1;
        }
        assert_eq!(rows, records, "output rows vs records read");
    }
    out.clear();
    let jsonl = stream::run(
        job,
        data,
        &mut out,
        &small_blocks(Format::JsonLines),
        &|_, _| {},
    );
    let summary = jsonl.expect("JSON Lines input is never rejected whole");
    let lines = data
        .strip_prefix(b"\xEF\xBB\xBF")
        .unwrap_or(data)
        .split(|&b| b == b'\n')
        .filter(|l| !l.iter().all(u8::is_ascii_whitespace))
        .count() as u64;
    assert_eq!(summary.rows, lines, "JSON Lines rows vs non-blank lines");
}

/// Target `case_drg`: a case file (CSV and JSON Lines) grouped by the demo scheme.
pub fn case_drg(data: &[u8]) {
    let grouper = demo_grouper();
    run_job(&GroupJob::new(grouper, false), data);
    run_job(&GroupJob::new(grouper, true), data);
}

/// Target `case_dip`: a case file (CSV and JSON Lines) grouped by the demo catalogue.
pub fn case_dip(data: &[u8]) {
    run_job(&DipGroupJob::new(demo_catalog()), data);
}

/// Target `splitter` (differential): the pipeline's block cutter and record splitters
/// against the `csv` crate reading the whole input: the same header, the same records
/// with the same fields, line numbers increasing; or both find no header.
pub fn splitter(data: &[u8]) {
    let body = data.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(data);
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(body);
    let want: Vec<Vec<Vec<u8>>> = rdr
        .byte_records()
        .map(|r| {
            r.expect("reading bytes cannot fail")
                .iter()
                .map(<[u8]>::to_vec)
                .collect()
        })
        .collect();
    let lines = 1 + body.iter().filter(|&&b| b == b'\n' || b == b'\r').count() as u64;
    for block in [1, 3, 16, 4096] {
        let Ok((names, records)) = stream::csv_records(data, block) else {
            assert!(
                want.is_empty(),
                "the pipeline found no header, the csv crate did"
            );
            continue;
        };
        let header: Vec<String> = want[0]
            .iter()
            .map(|f| String::from_utf8_lossy(f).trim().to_string())
            .collect();
        assert_eq!(names, header, "header (block {block})");
        let got: Vec<&Vec<Vec<u8>>> = records.iter().map(|r| &r.1).collect();
        let expected: Vec<&Vec<Vec<u8>>> = want[1..].iter().collect();
        assert_eq!(got, expected, "records (block {block})");
        let mut last = 1;
        for &(line, _) in &records {
            assert!(line > last && line <= lines, "line {line} after {last}");
            last = line;
        }
    }
}

/// A process-private scratch folder holding a copy of a `data/` folder.
fn scratch_copy(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("drgdip-fuzz-{}-{name}", std::process::id()));
    if !dir.exists() {
        std::fs::create_dir_all(&dir).expect("scratch folder");
        for entry in std::fs::read_dir(data_dir().join(name)).expect("data folder") {
            let entry = entry.expect("data folder entry");
            std::fs::copy(entry.path(), dir.join(entry.file_name())).expect("copy");
        }
    }
    dir
}

/// Groups and explains the demo corpus cases with a grouper that compiled or loaded.
fn exercise_grouper(grouper: &Grouper) {
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus/demo.csv");
    let input = std::fs::read(corpus).expect("demo corpus");
    let mut out = Vec::new();
    let job = GroupJob::new(grouper, true);
    let summary = stream::run(
        &job,
        &input[..],
        &mut out,
        &small_blocks(Format::Csv),
        &|_, _| {},
    )
    .expect("the corpus reads");
    assert_eq!(summary.rows as usize, csv_data_records(&input));
    let mut scratch = grouper.scratch();
    let case = drgdip_grouper::Case::default();
    let grouped = grouper.group(&case, &mut scratch);
    let explained = grouper.explain(&case);
    assert_eq!(grouped.status, explained.status, "group and explain agree");
}

/// Target `scheme_folder`: the first byte picks a file of the demo scheme
/// ([`SCHEME_FILES`]), the rest replaces it; the folder is read and compiled, and a
/// scheme that compiles must group, explain and round-trip through its compiled form.
pub fn scheme_folder(data: &[u8]) {
    let Some((&pick, content)) = data.split_first() else {
        return;
    };
    let dir = scratch_copy("demo-scheme");
    let name = SCHEME_FILES[pick as usize % SCHEME_FILES.len()];
    let original = std::fs::read(data_dir().join("demo-scheme").join(name)).expect("demo file");
    std::fs::write(dir.join(name), content).expect("write");
    let compiled = Scheme::from_dir(&dir).map(|s| Grouper::compile(&s));
    std::fs::write(dir.join(name), original).expect("restore");
    if let Ok(Ok(grouper)) = compiled {
        exercise_grouper(&grouper);
        let bytes = grouper.to_bytes().expect("encodes");
        let loaded = Grouper::from_bytes(&bytes).expect("a compiled scheme loads back");
        assert_eq!(loaded.to_bytes().expect("encodes"), bytes, "round trip");
    }
}

/// Target `catalog`: the first byte picks a file of the demo catalogue
/// ([`CATALOG_FILES`]), the rest replaces it; a catalogue that compiles must group a
/// few cases and round-trip through its compiled form.
pub fn catalog(data: &[u8]) {
    let Some((&pick, content)) = data.split_first() else {
        return;
    };
    let name = CATALOG_FILES[pick as usize % CATALOG_FILES.len()];
    let dir = data_dir().join("demo-catalog");
    let originals: Vec<(&str, Vec<u8>)> = CATALOG_FILES
        .iter()
        .map(|&f| (f, std::fs::read(dir.join(f)).unwrap_or_default()))
        .collect();
    let file = |f: &str| -> Option<&[u8]> {
        if f == name {
            return Some(content);
        }
        originals
            .iter()
            .find(|(n, _)| *n == f)
            .map(|(_, b)| b.as_slice())
    };
    let Ok(source) = CatalogSource::from_files(&file) else {
        return;
    };
    let Ok(catalog) = Catalog::compile(&source) else {
        return;
    };
    exercise_catalog(&catalog);
    let bytes = catalog.to_bytes().expect("encodes");
    Catalog::from_bytes(&bytes).expect("a compiled catalogue loads back");
}

fn exercise_catalog(catalog: &Catalog) {
    let mut scratch = catalog.scratch();
    let case = DipCase::default();
    let grouped = catalog.group(&case, &mut scratch);
    let explained = catalog.explain(&case);
    assert_eq!(grouped.status, explained.status, "group and explain agree");
}

/// Frames `payload` as a compiled file with the label and format version of `genuine`
/// (a compiled file), a correct length and checksum: what anyone can do.
pub fn framed(genuine: &[u8], payload: &[u8]) -> Vec<u8> {
    let mut out = genuine[..20].to_vec();
    out.extend_from_slice(&(payload.len() as u64).to_le_bytes());
    out.extend_from_slice(&Sha256::digest(payload));
    out.extend_from_slice(payload);
    out
}

/// Target `artifact`: the bytes as a whole compiled file, and as the payload behind a
/// correct header and checksum of a scheme and of a catalogue; whatever loads must
/// group and explain without panic.
pub fn artifact(data: &[u8]) {
    static HEADERS: OnceLock<(Vec<u8>, Vec<u8>)> = OnceLock::new();
    let (scheme, catalog) = HEADERS.get_or_init(|| {
        let g = demo_grouper().to_bytes().expect("encodes");
        let c = demo_catalog().to_bytes().expect("encodes");
        (g[..20].to_vec(), c[..20].to_vec())
    });
    let _ = Grouper::from_bytes(data);
    let _ = Catalog::from_bytes(data);
    if let Ok(g) = Grouper::from_bytes(&framed(scheme, data)) {
        exercise_grouper(&g);
    }
    if let Ok(c) = Catalog::from_bytes(&framed(catalog, data)) {
        exercise_catalog(&c);
    }
}

/// Target `workbook_drg`: the bytes as an official CHS-DRG workbook (`.xlsx`, no
/// errata); a workbook that reads and compiles must group and explain the demo corpus.
pub fn workbook_drg(data: &[u8]) {
    let Ok(scheme) = Scheme::from_workbook_bytes(Path::new("fuzz.xlsx"), data, None) else {
        return;
    };
    if let Ok(grouper) = Grouper::compile(&scheme) {
        exercise_grouper(&grouper);
    }
}

/// Target `policy`: the bytes as a policy file (pricing and payment sections), with
/// files it names read from `data/`.
pub fn policy(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let base = data_dir();
    let _ = drgdip_pricing::policy::pricing_from_str(text, &base);
    let _ = drgdip_payment::Policy::from_str_in(text, &base);
}

/// The demo policy (`data/demo-policy.toml`), read once.
fn demo_policy() -> &'static drgdip_payment::Policy {
    static P: OnceLock<drgdip_payment::Policy> = OnceLock::new();
    P.get_or_init(|| {
        drgdip_payment::Policy::load(&data_dir().join("demo-policy.toml")).expect("demo policy")
    })
}

/// A few grouped DRG cases of the demo policy's hospitals (the input of `price`).
pub const DEMO_GROUPED: &str = "case_id,status,drg,hospital_id,hospital_level,insurance_type,person_id,admit_date,discharge_date,total_cost,covered_cost,day_surgery,referral,los\n\
c1,grouped,BM11,H001,3,employee,P1,2025-03-01,2025-03-09,29000.50,26000,0,,8\n\
c2,grouped,BR25,H010,2,resident,P2,2025-04-02,2025-04-06,8000,7500,0,up,4\n\
c3,grouped,BM15,H031,1,employee,P1,2025-05-01,2025-05-20,90000,85000,0,,19\n\
c4,ungroupable,,H035,0,resident,P3,2025-06-01,2025-06-03,3000,3000,1,,2\n\
c5,grouped,AH11,H001,3,employee,P4,2025-07-01,2025-07-02,500,500,0,,1\n";

/// The rows of a CSV output: its header's width, and each data row's width.
fn output_rows(out: &[u8]) -> (usize, Vec<csv::ByteRecord>) {
    let mut rdr = csv::ReaderBuilder::new().from_reader(out);
    let width = rdr.byte_headers().expect("output header").len();
    let rows = rdr
        .byte_records()
        .map(|r| r.expect("output parses"))
        .collect();
    (width, rows)
}

/// The physical lines of `data` (as the pipeline counts them: `\n`, `\r\n` and a lone
/// `\r` end a line), for checking that messages name a line of the file.
fn physical_lines(data: &[u8]) -> u64 {
    let ends = data
        .iter()
        .enumerate()
        .filter(|&(i, &b)| b == b'\n' || (b == b'\r' && data.get(i + 1) != Some(&b'\n')))
        .count();
    1 + ends as u64
}

/// Target `price`: the bytes as grouped cases (the input of `drgdip price`) priced with
/// the demo policy. The whole file is refused (no header, a column missing) or every
/// record the `csv` crate reads gives exactly one output row, as wide as the header, in
/// input order; a rejected row's message names a line of the file.
pub fn price(data: &[u8]) {
    use drgdip_pipeline::price::{PRICED_HEADER, PriceConfig, SpillTo};
    let mut out = Vec::new();
    let config = PriceConfig {
        threads: None,
        spill: SpillTo::Memory,
    };
    let Ok(summary) = drgdip_pipeline::price(
        demo_policy(),
        data,
        &mut out,
        &config,
        &drgdip_pipeline::no_progress,
    ) else {
        return;
    };
    let records = csv_data_records(data) as u64;
    assert_eq!(summary.rows, records, "rows priced vs records read");
    let (width, rows) = output_rows(&out);
    assert_eq!(width, PRICED_HEADER.len(), "output header");
    assert_eq!(rows.len() as u64, records, "output rows vs records read");
    let status = PRICED_HEADER.iter().position(|&c| c == "status").unwrap();
    let lines = physical_lines(data);
    let mut rejected = 0;
    for row in &rows {
        assert_eq!(row.len(), width, "output row width");
        if &row[status] == b"rejected" {
            rejected += 1;
            let message = String::from_utf8_lossy(&row[status + 1]);
            let line: u64 = message
                .strip_prefix("line ")
                .and_then(|m| m.split(':').next())
                .and_then(|n| n.parse().ok())
                .unwrap_or_else(|| panic!("a rejected row names its line: {message}"));
            assert!((2..=lines).contains(&line), "line {line} of {lines}");
        }
    }
    assert_eq!(rejected, summary.rejected, "rejected rows");
}

/// Target `settle`: the bytes as priced cases (the input of `drgdip settle`) settled
/// with the demo policy. The whole file is refused, or every record the `csv` crate
/// reads is counted once (settled, skipped, other year or unreadable, the first
/// unreadable ones named by a line of the file) and the settlement writes.
pub fn settle(data: &[u8]) {
    use drgdip_pipeline::settle::{
        SettleConfig, settle_csv, write_community, write_hospitals, write_summary,
    };
    let policy = demo_policy();
    let run = settle_csv(
        policy,
        data,
        &SettleConfig::default(),
        &drgdip_pipeline::no_progress,
    );
    let Ok((settlement, summary)) = run else {
        return;
    };
    assert_eq!(
        summary.rows,
        csv_data_records(data) as u64,
        "rows counted vs records read"
    );
    assert!(summary.skipped + summary.other_year + summary.unreadable <= summary.rows);
    assert!(summary.errors.len() as u64 <= summary.unreadable);
    let lines = physical_lines(data);
    for e in &summary.errors {
        assert!((2..=lines).contains(&e.line), "line {} of {lines}", e.line);
    }
    let mut out = Vec::new();
    write_hospitals(&mut out, &settlement).expect("writes");
    let (_, rows) = output_rows(&out);
    assert_eq!(
        rows.len(),
        settlement.hospitals.len(),
        "one row per hospital"
    );
    write_summary(&mut Vec::new(), policy, &settlement).expect("writes");
    write_community(&mut Vec::new(), &settlement).expect("writes");
}

/// The demo cases of [`DEMO_GROUPED`] priced with the demo policy.
fn demo_priced() -> &'static [u8] {
    static P: OnceLock<Vec<u8>> = OnceLock::new();
    P.get_or_init(|| {
        let mut out = Vec::new();
        let config = drgdip_pipeline::PriceConfig {
            threads: None,
            spill: drgdip_pipeline::SpillTo::Memory,
        };
        drgdip_pipeline::price(
            demo_policy(),
            DEMO_GROUPED.as_bytes(),
            &mut out,
            &config,
            &drgdip_pipeline::no_progress,
        )
        .expect("the demo cases price");
        out
    })
}

/// Target `report`: the first byte chooses what the rest is. Even: priced cases (the
/// input of `drgdip report`): the whole file is refused, or every record the `csv`
/// crate reads is counted once in the city row (cases, rejected) or as unreadable.
/// Odd: the settlement file read with the priced demo cases: read or refused whole.
/// Whatever is read writes its CSV files, table and chart.
pub fn report(data: &[u8]) {
    use drgdip_pipeline::report::{REPORT_HEADER, ReportConfig, report};
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let config = ReportConfig::default();
    let progress = &drgdip_pipeline::no_progress;
    let run = if pick % 2 == 0 {
        report(rest, None::<&[u8]>, &config, progress)
    } else {
        report(demo_priced(), Some(rest), &config, progress)
    };
    let Ok(r) = run else {
        return;
    };
    let mut out = Vec::new();
    r.write_csv(&mut out).expect("writes");
    let (width, rows) = output_rows(&out);
    assert_eq!(width, REPORT_HEADER.len(), "report header");
    let city = rows.last().expect("a city row");
    assert_eq!(&city[0], b"city");
    if pick % 2 == 0 {
        let count = |col: &str| -> u64 {
            let i = REPORT_HEADER.iter().position(|&c| c == col).unwrap();
            std::str::from_utf8(&city[i]).unwrap().parse().unwrap()
        };
        assert_eq!(
            count("cases") + count("rejected") + r.unreadable,
            csv_data_records(rest) as u64,
            "rows counted vs records read"
        );
        let lines = physical_lines(rest);
        for e in &r.errors {
            assert!((2..=lines).contains(&e.line), "line {} of {lines}", e.line);
        }
    }
    r.write_groups(&mut Vec::new()).expect("writes");
    let _ = r.table();
    let _ = r.svg();
}

/// Target `workbook_dip`: the bytes as the national DIP 3.0 workbook (`.xlsx`,
/// `NationalWorkbook::from_bytes`); a workbook that reads and compiles must group,
/// explain and round-trip through its compiled form.
pub fn workbook_dip(data: &[u8]) {
    use drgdip_grouper::dip::NationalWorkbook;
    let Ok(wb) = NationalWorkbook::from_bytes(data, Path::new("fuzz.xlsx")) else {
        return;
    };
    let Ok(catalog) = Catalog::compile(&wb.to_source()) else {
        return;
    };
    exercise_catalog(&catalog);
    let bytes = catalog.to_bytes().expect("encodes");
    Catalog::from_bytes(&bytes).expect("a compiled catalogue loads back");
}
