//! Text encodings of case files: detection and streaming decoding to UTF-8, as a layer
//! in front of the block splitter (which only ever sees UTF-8).
//!
//! HIS and 病案 exports, and Excel on Chinese Windows, write GBK/GB18030. Detection: a
//! byte order mark (UTF-8, UTF-16LE/BE) decides; otherwise the first non-ASCII bytes of
//! the file (up to [`SNIFF_LIMIT`]) are checked: valid UTF-8 means UTF-8, anything else
//! is read as GB18030 (a superset of GBK and GB2312). `--encoding` overrides detection.

use std::io::{self, Read};

use encoding_rs::{Decoder, DecoderResult, Encoding, GB18030, UTF_8, UTF_16BE, UTF_16LE};

/// How far detection reads looking for non-ASCII bytes before settling on UTF-8.
pub const SNIFF_LIMIT: usize = 4 << 20;

/// How many bytes after the first non-ASCII byte detection checks.
const SNIFF_AFTER: usize = 64 << 10;

/// An unknown `--encoding` label.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown encoding `{0}` (use utf-8, gb18030, gbk, utf-16le, utf-16be, big5 or another WHATWG label)"
)]
pub struct UnknownEncoding(pub String);

/// The encoding named by a label (`utf-8`, `gbk`, `gb18030`, `gb2312`, `utf-16le`, …).
pub fn encoding_for_label(label: &str) -> Result<&'static Encoding, UnknownEncoding> {
    Encoding::for_label(label.trim().as_bytes()).ok_or_else(|| UnknownEncoding(label.into()))
}

/// How the encoding of an input was chosen, for the run summary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Chosen {
    /// Given with `--encoding`.
    Given,
    /// Read from a byte order mark.
    Bom,
    /// The text is valid UTF-8 (or plain ASCII).
    ValidUtf8,
    /// The text is not valid UTF-8 but is valid GB18030.
    NotUtf8,
    /// The text is valid in neither: it is read as UTF-8, and each row holding an invalid
    /// byte is rejected naming its field.
    Neither,
}

/// The encoding an input was read with and how it was chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Detected {
    /// The encoding.
    pub encoding: &'static Encoding,
    /// How it was chosen.
    pub chosen: Chosen,
}

impl Detected {
    /// `UTF-8`, `GB18030 (detected: not UTF-8)`, `GBK (--encoding)`…
    pub fn describe(&self) -> String {
        let name = self.encoding.name();
        match self.chosen {
            Chosen::Given => format!("{name} (--encoding)"),
            Chosen::Bom => format!("{name} (byte order mark)"),
            Chosen::ValidUtf8 => name.to_string(),
            Chosen::NotUtf8 => format!("{name} (detected: the file is not UTF-8)"),
            Chosen::Neither => format!("{name} (some bytes are neither UTF-8 nor GB18030)"),
        }
    }
}

/// A reader that yields the input as UTF-8: a pass-through for UTF-8 input, a streaming
/// decoder for any other encoding. Malformed sequences are passed on as they were (so the
/// rows holding them are rejected as not UTF-8).
pub struct Decoded<R> {
    input: R,
    /// Bytes read during detection, served first.
    head: Vec<u8>,
    head_at: usize,
    decoder: Option<Decoder>,
    raw: Vec<u8>,
    out: Vec<u8>,
    out_at: usize,
    eof: bool,
    malformed: bool,
    detected: Detected,
}

/// Opens `input` for reading as UTF-8: `given` is the `--encoding` choice (`None`
/// detects). A UTF-8 byte order mark is left in place (the splitter drops it); other
/// byte order marks are consumed by the decoder.
pub fn decode<R: Read>(mut input: R, given: Option<&'static Encoding>) -> io::Result<Decoded<R>> {
    let mut head = Vec::new();
    let detected = match given {
        Some(encoding) => {
            fill(&mut input, &mut head, 4)?;
            Detected {
                encoding,
                chosen: Chosen::Given,
            }
        }
        None => sniff(&mut input, &mut head)?,
    };
    let decoder = (detected.encoding != UTF_8).then(|| detected.encoding.new_decoder());
    Ok(Decoded {
        input,
        head,
        head_at: 0,
        decoder,
        raw: vec![0; 256 << 10],
        out: Vec::new(),
        out_at: 0,
        eof: false,
        malformed: false,
        detected,
    })
}

impl<R> Decoded<R> {
    /// The encoding in use and how it was chosen.
    pub fn detected(&self) -> Detected {
        self.detected
    }

    /// True once a byte sequence invalid in the encoding was met (passed on as it was).
    pub fn malformed(&self) -> bool {
        self.malformed
    }
}

/// Reads into `buf` until it holds at least `want` bytes or the input ends.
fn fill<R: Read>(input: &mut R, buf: &mut Vec<u8>, want: usize) -> io::Result<()> {
    let mut chunk = [0u8; 64 << 10];
    while buf.len() < want {
        let n = match input.read(&mut chunk[..(want - buf.len()).min(64 << 10)]) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            r => r?,
        };
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    Ok(())
}

/// Detection: BOM, else valid UTF-8 in the first non-ASCII stretch, else GB18030.
fn sniff<R: Read>(input: &mut R, head: &mut Vec<u8>) -> io::Result<Detected> {
    fill(input, head, 4)?;
    if let Some((encoding, _)) = Encoding::for_bom(head) {
        return Ok(Detected {
            encoding,
            chosen: Chosen::Bom,
        });
    }
    let mut want = 64 << 10;
    let first_non_ascii = loop {
        fill(input, head, want)?;
        if let Some(i) = head.iter().position(|b| !b.is_ascii()) {
            break Some(i);
        }
        if head.len() < want || want >= SNIFF_LIMIT {
            break None;
        }
        want *= 2;
    };
    let Some(first) = first_non_ascii else {
        return Ok(Detected {
            encoding: UTF_8,
            chosen: Chosen::ValidUtf8,
        });
    };
    fill(input, head, first + SNIFF_AFTER)?;
    let complete = head.len() < first + SNIFF_AFTER;
    let stretch = &head[first..];
    if looks_like_utf8(stretch, complete) {
        return Ok(Detected {
            encoding: UTF_8,
            chosen: Chosen::ValidUtf8,
        });
    }
    // Bytes that are neither UTF-8 nor GB18030 (stray garbage such as `\xFF`) do not make
    // the file GB18030: it stays UTF-8 and the rows holding them are rejected one by one.
    // Whole lines only are judged: the last one may be cut inside a character.
    let whole = if complete {
        stretch
    } else {
        stretch
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(stretch, |end| &stretch[..end])
    };
    let gb18030 = GB18030
        .decode_without_bom_handling_and_without_replacement(whole)
        .is_some();
    Ok(Detected {
        encoding: if gb18030 { GB18030 } else { UTF_8 },
        chosen: if gb18030 {
            Chosen::NotUtf8
        } else {
            Chosen::Neither
        },
    })
}

/// UTF-8 when the text's valid multi-byte sequences outnumber its invalid ones (a UTF-8
/// file with a stray bad byte stays UTF-8, and that row alone is rejected; GBK text
/// hardly ever forms valid UTF-8 sequences). A sequence cut by the end of an incomplete
/// sniff is not counted.
fn looks_like_utf8(mut bytes: &[u8], complete: bool) -> bool {
    let (mut valid, mut invalid) = (0usize, 0usize);
    let multi = |b: &[u8]| b.iter().filter(|&&x| x >= 0xC0).count();
    loop {
        match std::str::from_utf8(bytes) {
            Ok(_) => {
                valid += multi(bytes);
                break;
            }
            Err(e) => {
                valid += multi(&bytes[..e.valid_up_to()]);
                match e.error_len() {
                    Some(n) => {
                        invalid += 1;
                        bytes = &bytes[e.valid_up_to() + n..];
                    }
                    None => {
                        invalid += usize::from(complete);
                        break;
                    }
                }
            }
        }
    }
    valid > invalid
}

impl<R: Read> Read for Decoded<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let Some(decoder) = self.decoder.as_mut() else {
            // UTF-8: what detection read, then the input itself.
            if self.head_at < self.head.len() {
                let n = buf.len().min(self.head.len() - self.head_at);
                buf[..n].copy_from_slice(&self.head[self.head_at..self.head_at + n]);
                self.head_at += n;
                return Ok(n);
            }
            return self.input.read(buf);
        };
        loop {
            if self.out_at < self.out.len() {
                let n = buf.len().min(self.out.len() - self.out_at);
                buf[..n].copy_from_slice(&self.out[self.out_at..self.out_at + n]);
                self.out_at += n;
                return Ok(n);
            }
            if self.eof {
                return Ok(0);
            }
            // Next raw chunk: the detection head first, then the input.
            let raw: &[u8] = if self.head_at < self.head.len() {
                let h = &self.head[self.head_at..];
                self.head_at = self.head.len();
                h
            } else {
                let n = loop {
                    match self.input.read(&mut self.raw) {
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                        r => break r?,
                    }
                };
                self.eof = n == 0;
                &self.raw[..n]
            };
            let last = self.eof;
            self.out.clear();
            self.out_at = 0;
            let need = decoder
                .max_utf8_buffer_length(raw.len())
                .unwrap_or(raw.len() * 3 + 16);
            self.out.resize(need, 0);
            // Malformed sequences are passed on as the raw bytes: they are not UTF-8,
            // so the row holding them is rejected naming its line and field, rather
            // than read with a replacement character.
            let mut at = 0;
            let mut filled = 0;
            loop {
                let (result, read, written) = decoder.decode_to_utf8_without_replacement(
                    &raw[at..],
                    &mut self.out[filled..],
                    last,
                );
                filled += written;
                at += read;
                match result {
                    DecoderResult::InputEmpty => break,
                    DecoderResult::Malformed(bad, extra) => {
                        self.malformed = true;
                        let end = at.saturating_sub(extra as usize);
                        let start = end.saturating_sub(bad as usize);
                        let bytes = &raw[start..end];
                        if self.out.len() < filled + bytes.len() + 16 {
                            self.out.resize(filled + bytes.len() + need, 0);
                        }
                        self.out[filled..filled + bytes.len()].copy_from_slice(bytes);
                        filled += bytes.len();
                    }
                    DecoderResult::OutputFull => {
                        let grow = self.out.len() + need;
                        self.out.resize(grow, 0);
                    }
                }
            }
            self.out.truncate(filled);
        }
    }
}

/// True when `encoding` is one of the UTF-16 variants (detected by BOM only).
pub fn is_utf16(encoding: &'static Encoding) -> bool {
    encoding == UTF_16LE || encoding == UTF_16BE
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all(bytes: &[u8], given: Option<&'static Encoding>) -> (String, Detected) {
        let mut d = decode(bytes, given).unwrap();
        let mut s = String::new();
        d.read_to_string(&mut s).unwrap();
        (s, d.detected())
    }

    #[test]
    fn gb18030_is_detected_and_decoded() {
        let text = "case_id,sex\n1,男\n2,女\n";
        let (bytes, _, _) = GB18030.encode(text);
        assert!(std::str::from_utf8(&bytes).is_err());
        let (s, d) = read_all(&bytes, None);
        assert_eq!(s, text);
        assert_eq!(d.encoding, GB18030);
        assert_eq!(d.chosen, Chosen::NotUtf8);
    }

    #[test]
    fn utf8_and_ascii_pass_through() {
        let (s, d) = read_all("a,b\n1,男\n".as_bytes(), None);
        assert_eq!((s.as_str(), d.encoding), ("a,b\n1,男\n", UTF_8));
        let (s, d) = read_all(b"a,b\n1,2\n", None);
        assert_eq!((s.as_str(), d.chosen), ("a,b\n1,2\n", Chosen::ValidUtf8));
    }

    #[test]
    fn bytes_invalid_in_both_encodings_keep_the_file_utf8() {
        // 0xFF is neither UTF-8 nor GB18030: the file is not re-read as GB18030 (which
        // would turn the garbage into Chinese); the row holding it is rejected later.
        let input = b"a,b\n1,I63.9\xff\xfe\n2,2\n";
        let mut r = decode(&input[..], None).unwrap();
        let mut out = Vec::new();
        r.read_to_end(&mut out).unwrap();
        assert_eq!(out, input);
        assert_eq!(
            (r.detected().encoding, r.detected().chosen),
            (UTF_8, Chosen::Neither)
        );
    }

    #[test]
    fn non_ascii_far_into_the_file_is_still_seen() {
        let mut text = "x\n".repeat(100_000);
        text.push_str("出院科别\n");
        let (bytes, _, _) = GB18030.encode(&text);
        let (s, d) = read_all(&bytes, None);
        assert_eq!(d.encoding, GB18030);
        assert_eq!(s, text);
    }

    #[test]
    fn a_stray_byte_neither_flips_utf8_nor_is_hidden() {
        // A UTF-8 file with one bad byte stays UTF-8.
        let mut bytes = "a,b\n1,男\n2,女\n".as_bytes().to_vec();
        bytes.extend_from_slice(b"3,\xff\n");
        let (_, d) = {
            let mut dec = decode(&bytes[..], None).unwrap();
            let mut v = Vec::new();
            dec.read_to_end(&mut v).unwrap();
            (v, dec.detected())
        };
        assert_eq!(d.encoding, UTF_8);
        // A GB18030 file with a malformed byte keeps that byte, so the row is rejected.
        let (mut gb, _, _) = GB18030.encode("a,b\n1,男\n");
        let mut gb = gb.to_mut().clone();
        gb.extend_from_slice(b"2,\xff\n");
        let mut dec = decode(&gb[..], Some(GB18030)).unwrap();
        let mut v = Vec::new();
        dec.read_to_end(&mut v).unwrap();
        assert!(dec.malformed());
        assert_eq!(v, ["a,b\n1,男\n2,".as_bytes(), b"\xff\n"].concat());
    }

    #[test]
    fn bom_and_label_decide() {
        let mut le = vec![0xFF, 0xFE];
        for u in "病案号\n".encode_utf16() {
            le.extend_from_slice(&u.to_le_bytes());
        }
        let (s, d) = read_all(&le, None);
        assert_eq!(
            (s.as_str(), d.encoding, d.chosen),
            ("病案号\n", UTF_16LE, Chosen::Bom)
        );
        let gbk = encoding_for_label("GBK").unwrap();
        let (bytes, _, _) = gbk.encode("性别\n");
        let (s, d) = read_all(&bytes, Some(gbk));
        assert_eq!((s.as_str(), d.chosen), ("性别\n", Chosen::Given));
        assert!(encoding_for_label("klingon").is_err());
    }

    #[test]
    fn decoding_survives_tiny_reads() {
        // A reader that returns one byte at a time: multi-byte sequences split across
        // reads must still decode.
        struct OneByte<'a>(&'a [u8]);
        impl Read for OneByte<'_> {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                if self.0.is_empty() || buf.is_empty() {
                    return Ok(0);
                }
                buf[0] = self.0[0];
                self.0 = &self.0[1..];
                Ok(1)
            }
        }
        let text = "主要诊断编码,其他诊断编码1\nK35.800,I10.X00\n";
        let (bytes, _, _) = GB18030.encode(text);
        let mut d = decode(OneByte(&bytes), Some(GB18030)).unwrap();
        let mut s = String::new();
        d.read_to_string(&mut s).unwrap();
        assert_eq!(s, text);
        assert!(!d.malformed());
    }
}
