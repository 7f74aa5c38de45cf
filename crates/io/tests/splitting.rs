//! Record splitting of case CSVs: every record the `csv` crate reads gives exactly one
//! row, with its line in the file, whatever the line ends, quotes and block cuts
//! (regressions of issue 10's findings 1–3).

use drgdip_io::stream::{self, Column, Job, Options, Out, Row};

/// Writes each row's line number and `id`.
struct Echo;

const COLUMNS: [Column; 2] = [
    Column {
        name: "id",
        required: true,
    },
    Column {
        name: "dept",
        required: false,
    },
];

impl Job for Echo {
    type State = ();
    fn columns(&self) -> &[Column] {
        &COLUMNS
    }
    fn header(&self) -> Vec<String> {
        vec!["line".into(), "id".into(), "dept".into()]
    }
    fn categories(&self) -> &[&'static str] {
        &["row"]
    }
    fn state(&self) {}
    fn row(&self, _: &mut (), row: &Row<'_>, out: &mut Out) -> usize {
        out.write_field(row.line.to_string());
        out.write_field(row.get(0));
        out.write_field(row.get(1));
        0
    }
}

/// (line, id, dept) of every output row, with blocks of `block` bytes.
fn rows(input: &[u8], block: usize) -> Vec<(u64, String, String)> {
    let options = Options {
        block_size: block,
        batch_blocks: 3,
        ..Options::default()
    };
    let mut out = Vec::new();
    let summary = stream::run(&Echo, input, &mut out, &options, &|_, _| {}).unwrap();
    let mut rdr = csv::Reader::from_reader(&out[..]);
    let rows: Vec<(u64, String, String)> = rdr
        .records()
        .map(|r| {
            let r = r.unwrap();
            (r[0].parse().unwrap(), r[1].to_string(), r[2].to_string())
        })
        .collect();
    assert_eq!(summary.rows, rows.len() as u64);
    rows
}

/// The number of data records the `csv` crate reads from `input`.
fn csv_count(input: &[u8]) -> usize {
    csv::ReaderBuilder::new()
        .flexible(true)
        .from_reader(input)
        .byte_records()
        .count()
}

fn ids(rows: &[(u64, String, String)]) -> Vec<&str> {
    rows.iter().map(|r| r.1.as_str()).collect()
}

#[test]
fn bare_cr_line_ends_keep_every_record() {
    let plain = b"id,dept\r1,a\r2,b\r3,c\r";
    let quoted = b"\"id\",\"dept\"\r\"1\",\"a\"\r\"2\",\"b\"\r\"3\",\"c\"\r";
    for input in [&plain[..], &quoted[..]] {
        for block in [1, 4, 1 << 20] {
            let got = rows(input, block);
            assert_eq!(ids(&got), ["1", "2", "3"], "block {block}");
            let lines: Vec<u64> = got.iter().map(|r| r.0).collect();
            assert_eq!(lines, [2, 3, 4]);
        }
    }
}

#[test]
fn a_stray_quote_in_an_unquoted_field_is_a_literal_character() {
    // One unquoted `dept` holds a literal quote; later rows carry a quoted two-line field.
    let mut input = String::from("id,dept\n");
    let n = 2000;
    for i in 0..n {
        match i {
            7 => input.push_str("7,5\"病区\n"),
            i if i % 97 == 3 => input.push_str(&format!("{i},\"two\nlines\"\n")),
            i => input.push_str(&format!("{i},x\n")),
        }
    }
    assert_eq!(csv_count(input.as_bytes()), n);
    for block in [16, 100, 4096, 1 << 20] {
        let got = rows(input.as_bytes(), block);
        assert_eq!(got.len(), n, "block {block}");
        let want: Vec<String> = (0..n).map(|i| i.to_string()).collect();
        assert_eq!(ids(&got), want);
        assert_eq!(got[7].2, "5\"病区");
        assert_eq!(got[3].2, "two\nlines");
        // Each two-line field pushes the following records one line down.
        let extra = (0..n).filter(|&i| i % 97 == 3 && i < 500).count() as u64;
        assert_eq!(got[500].0, 502 + extra);
    }
}

#[test]
fn crlf_lines_with_blank_lines_are_numbered_as_in_the_file() {
    // Line:        1           2    3             4    5    6                7
    let plain = b"id,dept\r\n\r\n1,a\r\n\r\n\r\n2,b\r\n";
    let quoted = b"id,dept\r\n\r\n1,\"a\"\r\n\r\n\r\n2,\"b\"\r\n";
    for input in [&plain[..], &quoted[..]] {
        for block in [1, 5, 1 << 20] {
            let got = rows(input, block);
            let lines: Vec<(u64, &str)> = got.iter().map(|r| (r.0, r.1.as_str())).collect();
            assert_eq!(lines, [(3, "1"), (6, "2")], "block {block}");
        }
    }
    // A blank line before a quoted record in the middle of a block.
    let input = b"id,dept\r\n1,a\r\n\r\n\"2\",\"b\r\nc\"\r\n3,d\r\n";
    let got = rows(input, 1 << 20);
    let lines: Vec<u64> = got.iter().map(|r| r.0).collect();
    assert_eq!(lines, [2, 4, 6]);
}

#[test]
fn the_pipeline_reads_the_records_the_csv_crate_reads() {
    let inputs: [&[u8]; 11] = [
        // A record starting with a byte order mark, in a block with quotes (the `csv`
        // crate drops a mark only at the start of the file).
        b"id\n\xEF\xBB\xBFx,y\n\"q\"\n",
        b"id\n\xEF\xBB\xBF\x16d\n\"u2\r\r2\x01\x00\x00\x00\x00",
        b"id,dept\na\"b,c\n\"x\"\"y\",z\n",
        b"id,dept\n\"a\"b\"c,d\n1,2\n",
        b"id,dept\r\n\"q\r\n\",1\r\r\n2,\"\"\n\n",
        b"\xEF\xBB\xBFid,dept\n1,\"unterminated\n2,3\n",
        b"id\n\"\"\"\n\"\n,\n",
        b"id,dept\n x \"y\", \"z\"\n\r\r\n",
        b"id,dept\r1,2\r\n3,\"4\r5\"\r",
        b"id,dept\n1,2",
        b"id,dept\n\"a\"\"\"\",b\n\"\"\"\n",
    ];
    for input in inputs {
        let body = input.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(input);
        let mut rdr = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(body);
        let want: Vec<Vec<Vec<u8>>> = rdr
            .byte_records()
            .map(|r| r.unwrap().iter().map(<[u8]>::to_vec).collect())
            .collect();
        for block in 1..=input.len() + 1 {
            let (names, records) = stream::csv_records(input, block).unwrap();
            let header: Vec<String> = want[0]
                .iter()
                .map(|f| String::from_utf8_lossy(f).trim().to_string())
                .collect();
            assert_eq!(names, header);
            let got: Vec<Vec<Vec<u8>>> = records.into_iter().map(|r| r.1).collect();
            assert_eq!(
                got,
                want[1..],
                "{:?} block {block}",
                String::from_utf8_lossy(input)
            );
        }
    }
}
