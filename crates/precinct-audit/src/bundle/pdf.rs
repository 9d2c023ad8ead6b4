//! The bundle as a PDF report for people: what was exported, the
//! checkpoint and key, how to verify, then the events as a table over as
//! many landscape A4 pages as it takes. Built-in Helvetica in WinAnsi
//! encoding, so no font is embedded; the output is the same bytes for the
//! same bundle.

use pdf_writer::{Content, Finish, Name, Pdf, Rect, Ref, Str, TextStr};

use super::{verify, Bundle, BundleEntry, BundleError, VerifiedBundle, BUNDLE_FORMAT};
use crate::time_rfc3339;

const PAGE_W: f32 = 842.0;
const PAGE_H: f32 = 595.0;
const MARGIN: f32 = 36.0;
const TEXT_W: f32 = PAGE_W - 2.0 * MARGIN;
/// The table stops above the footer.
const TABLE_BOTTOM: f32 = 44.0;
const ROW_H: f32 = 12.0;
const CELL_PAD: f32 = 3.0;
const TABLE_FONT: f32 = 8.0;
const DESCRIPTION_LINES: usize = 6;

const COLUMNS: [(&str, f32); 7] = [
    ("Seq", 44.0),
    ("Time (UTC)", 124.0),
    ("Actor", 120.0),
    ("Action", 140.0),
    ("Object", 170.0),
    ("Outcome", 52.0),
    ("Reason", 120.0),
];

/// The report. The bundle is verified first, against its own key: a
/// bundle that does not verify gets no report, so that a report is never
/// the only trace of a broken bundle.
pub fn to_pdf(bundle: &Bundle) -> Result<Vec<u8>, BundleError> {
    let verified = verify(bundle)?;
    let mut pages = vec![Page::new()];
    let y = pages[0].front_matter(bundle, &verified);

    let first_rows = rows_fitting(y);
    let other_rows = rows_fitting(PAGE_H - MARGIN);
    let all: Vec<Vec<String>> = bundle.entries.iter().map(|e| cells(e).to_vec()).collect();
    let mut rest: &[Vec<String>] = &all;
    let take = rest.len().min(first_rows);
    pages[0].table(y, &COLUMNS, &rest[..take]);
    rest = &rest[take..];
    if bundle.entries.is_empty() {
        pages[0].line(
            REGULAR,
            9.0,
            MARGIN,
            y - 2.0 * ROW_H,
            "No events in this export.",
        );
    }
    while !rest.is_empty() {
        let take = rest.len().min(other_rows);
        let mut page = Page::new();
        page.table(PAGE_H - MARGIN, &COLUMNS, &rest[..take]);
        pages.push(page);
        rest = &rest[take..];
    }
    let footer = format!(
        "Precinct audit log export \u{b7} {} \u{b7} tree size {} \u{b7} root {}\u{2026}",
        verified.origin,
        verified.tree_size,
        &hex::encode(verified.root)[..16]
    );
    let total = pages.len();
    for (i, page) in pages.iter_mut().enumerate() {
        page.footer(&footer, i + 1, total);
    }
    write(pages, "Precinct audit log export", &bundle.description)
}

/// A report for people as a table: a title, a line under it, then the
/// rows over as many landscape A4 pages as it takes (cells cut short end
/// in an ellipsis). The columns' widths add up to at most 770 points.
pub fn table_pdf(
    title: &str,
    subtitle: &str,
    columns: &[(&str, f32)],
    rows: &[Vec<String>],
) -> Result<Vec<u8>, BundleError> {
    let mut first = Page::new();
    let mut y = PAGE_H - MARGIN - 16.0;
    first.line(BOLD, 16.0, MARGIN, y, title);
    y -= 18.0;
    for l in wrap(subtitle, REGULAR, 10.0, TEXT_W) {
        first.text(REGULAR, 10.0, MARGIN, y, &l);
        y -= 13.0;
    }
    y -= 8.0;
    let mut pages = vec![first];
    let take = rows.len().min(rows_fitting(y));
    pages[0].table(y, columns, &rows[..take]);
    if rows.is_empty() {
        pages[0].line(REGULAR, 9.0, MARGIN, y - 2.0 * ROW_H, "Nothing to report.");
    }
    let mut rest = &rows[take..];
    while !rest.is_empty() {
        let take = rest.len().min(rows_fitting(PAGE_H - MARGIN));
        let mut page = Page::new();
        page.table(PAGE_H - MARGIN, columns, &rest[..take]);
        pages.push(page);
        rest = &rest[take..];
    }
    let total = pages.len();
    for (i, page) in pages.iter_mut().enumerate() {
        page.footer(title, i + 1, total);
    }
    write(pages, title, subtitle)
}

/// Table rows (after the header row) that fit below `top`.
fn rows_fitting(top: f32) -> usize {
    let rows = ((top - TABLE_BOTTOM) / ROW_H).floor() as usize;
    rows.saturating_sub(1)
}

fn write(pages: Vec<Page>, title: &str, subject: &str) -> Result<Vec<u8>, BundleError> {
    let id = |n: usize| -> Result<Ref, BundleError> {
        i32::try_from(n)
            .ok()
            .filter(|&n| n > 0)
            .map(Ref::new)
            .ok_or(BundleError::ReportTooLarge)
    };
    let (catalog, tree, regular, bold, info) = (id(1)?, id(2)?, id(3)?, id(4)?, id(5)?);
    let mut page_ids = Vec::with_capacity(pages.len());
    for i in 0..pages.len() {
        let n = i.checked_mul(2).and_then(|n| n.checked_add(6));
        let n = n.ok_or(BundleError::ReportTooLarge)?;
        page_ids.push((id(n)?, id(n + 1)?));
    }

    let mut pdf = Pdf::new();
    pdf.catalog(catalog).pages(tree);
    pdf.pages(tree)
        .kids(page_ids.iter().map(|(p, _)| *p))
        .count(i32::try_from(pages.len()).map_err(|_| BundleError::ReportTooLarge)?);
    for (page, (page_id, content_id)) in pages.into_iter().zip(page_ids) {
        let mut p = pdf.page(page_id);
        p.media_box(Rect::new(0.0, 0.0, PAGE_W, PAGE_H));
        p.parent(tree);
        p.contents(content_id);
        p.resources()
            .fonts()
            .pair(REGULAR.name, regular)
            .pair(BOLD.name, bold);
        p.finish();
        pdf.stream(content_id, &page.content.finish());
    }
    for (font, id) in [(REGULAR, regular), (BOLD, bold)] {
        pdf.type1_font(id)
            .base_font(Name(font.base))
            .encoding_predefined(Name(b"WinAnsiEncoding"));
    }
    pdf.document_info(info)
        .title(TextStr(title))
        .subject(TextStr(subject))
        .producer(TextStr("precinct-audit"));
    Ok(pdf.finish())
}

struct Page {
    content: Content,
}

impl Page {
    fn new() -> Self {
        Self {
            content: Content::new(),
        }
    }

    fn text(&mut self, font: Font, size: f32, x: f32, y: f32, bytes: &[u8]) {
        self.content
            .begin_text()
            .set_font(font.name, size)
            .next_line(x, y)
            .show(Str(bytes))
            .end_text();
    }

    fn line(&mut self, font: Font, size: f32, x: f32, y: f32, s: &str) {
        self.text(font, size, x, y, &win_ansi(s));
    }

    /// Title, description, checkpoint, key and how to verify; returns the
    /// height where the table may start.
    fn front_matter(&mut self, bundle: &Bundle, v: &VerifiedBundle) -> f32 {
        let mut y = PAGE_H - MARGIN - 16.0;
        self.line(BOLD, 16.0, MARGIN, y, "Precinct audit log export");
        y -= 20.0;
        let mut description = wrap(&bundle.description, REGULAR, 10.0, TEXT_W);
        if description.len() > DESCRIPTION_LINES {
            description.truncate(DESCRIPTION_LINES);
            if let Some(last) = description.last_mut() {
                last.extend_from_slice(b" ");
                *last = fit_bytes(last, REGULAR, 10.0, TEXT_W, true);
            }
        }
        for l in description {
            self.text(REGULAR, 10.0, MARGIN, y, &l);
            y -= 13.0;
        }
        y -= 6.0;

        let label_w = 150.0;
        let facts = [
            ("Exported at (UTC)", time_rfc3339(bundle.exported_at_us)),
            ("Events in this export", bundle.entries.len().to_string()),
            ("Log (checkpoint origin)", v.origin.clone()),
            ("Checkpoint tree size", v.tree_size.to_string()),
            ("Checkpoint root (SHA-256)", hex::encode(v.root)),
            ("Verifier key", v.key.encode()),
            ("Bundle format", BUNDLE_FORMAT.to_owned()),
        ];
        for (label, value) in facts {
            self.line(BOLD, 9.0, MARGIN, y, label);
            for l in wrap(&value, REGULAR, 9.0, TEXT_W - label_w) {
                self.text(REGULAR, 9.0, MARGIN + label_w, y, &l);
                y -= 12.0;
            }
        }
        y -= 6.0;
        self.line(BOLD, 10.0, MARGIN, y, "How to verify");
        y -= 13.0;
        for l in wrap(HOW_TO_VERIFY, REGULAR, 9.0, TEXT_W) {
            self.text(REGULAR, 9.0, MARGIN, y, &l);
            y -= 12.0;
        }
        y - 8.0
    }

    /// A header row under `top`, then one row per entry.
    fn table(&mut self, top: f32, columns: &[(&str, f32)], rows: &[Vec<String>]) {
        let mut y = top - ROW_H;
        self.content
            .set_fill_gray(0.82)
            .rect(MARGIN, y, TEXT_W, ROW_H)
            .fill_nonzero()
            .set_fill_gray(0.0);
        let header: Vec<String> = columns.iter().map(|(t, _)| (*t).to_owned()).collect();
        self.row(BOLD, y, columns, &header);
        for (i, cells) in rows.iter().enumerate() {
            y -= ROW_H;
            if i % 2 == 1 {
                self.content
                    .set_fill_gray(0.94)
                    .rect(MARGIN, y, TEXT_W, ROW_H)
                    .fill_nonzero()
                    .set_fill_gray(0.0);
            }
            self.row(REGULAR, y, columns, cells);
        }
        self.content
            .set_stroke_gray(0.5)
            .set_line_width(0.5)
            .move_to(MARGIN, y)
            .line_to(MARGIN + TEXT_W, y)
            .stroke();
    }

    fn row(&mut self, font: Font, y: f32, columns: &[(&str, f32)], cells: &[String]) {
        let mut x = MARGIN;
        for ((_, w), value) in columns.iter().zip(cells) {
            let text = fit_bytes(
                &win_ansi(value),
                font,
                TABLE_FONT,
                w - 2.0 * CELL_PAD,
                false,
            );
            self.text(font, TABLE_FONT, x + CELL_PAD, y + 3.5, &text);
            x += w;
        }
    }

    fn footer(&mut self, left: &str, page: usize, pages: usize) {
        self.content.set_fill_gray(0.35);
        let right = win_ansi(&format!("Page {page} of {pages}"));
        let right_x = PAGE_W - MARGIN - width(&right, REGULAR, 7.5);
        let left = fit_bytes(
            &win_ansi(left),
            REGULAR,
            7.5,
            right_x - MARGIN - 12.0,
            false,
        );
        self.text(REGULAR, 7.5, MARGIN, 22.0, &left);
        self.text(REGULAR, 7.5, right_x, 22.0, &right);
        self.content.set_fill_gray(0.0);
    }
}

const HOW_TO_VERIFY: &str = "This report is for reading. The evidence is the JSON bundle it was \
rendered from, in which every event carries an RFC 6962 inclusion proof against the signed \
checkpoint above; the bundle verified against the key above when this report was made. Anyone \
can check the bundle offline, without Precinct or its database, with the precinct-verify program \
of the precinct-audit crate: \u{201c}precinct-verify BUNDLE.json --key KEY\u{201d}, where KEY is \
the verifier key the department publishes (compare it with the key above). With \u{201c}--checkpoint \
FILE\u{201d} it also compares the checkpoint with a copy published outside the database. A bundle \
that verifies shows that each event is in the signed log, unchanged, at its seq. In the table, \
cells cut short end in \u{201c}\u{2026}\u{201d} and characters outside Latin-1 appear as \
\u{201c}?\u{201d}; the bundle and its CSV hold the full values.";

fn cells(entry: &BundleEntry) -> [String; 7] {
    let e = &entry.event;
    let actor = match (&e.actor_name, &e.actor_id) {
        (Some(name), Some(id)) => format!("{name} ({id})"),
        (Some(one), None) | (None, Some(one)) => one.clone(),
        (None, None) => String::new(),
    };
    let object = match (&e.object_type, &e.object_id) {
        (Some(t), Some(id)) => format!("{t} {id}"),
        (Some(one), None) | (None, Some(one)) => one.clone(),
        (None, None) => String::new(),
    };
    [
        entry.seq.to_string(),
        time_rfc3339(e.time_us),
        actor,
        e.action.clone(),
        object,
        e.outcome.clone(),
        e.reason.clone().unwrap_or_default(),
    ]
}

#[derive(Clone, Copy)]
struct Font {
    name: Name<'static>,
    base: &'static [u8],
    /// Advance widths of WinAnsi codes 32..=255 in 1/1000 em.
    widths: &'static [u16; 224],
}

const REGULAR: Font = Font {
    name: Name(b"F1"),
    base: b"Helvetica",
    widths: &HELVETICA,
};
const BOLD: Font = Font {
    name: Name(b"F2"),
    base: b"Helvetica-Bold",
    widths: &HELVETICA_BOLD,
};

/// WinAnsi bytes of the text; what the encoding lacks becomes `?`.
fn win_ansi(s: &str) -> Vec<u8> {
    s.chars()
        .map(|c| match c {
            ' '..='~' | '\u{a0}'..='\u{ff}' => c as u8,
            '\u{20ac}' => 0x80,
            '\u{201a}' => 0x82,
            '\u{201e}' => 0x84,
            '\u{2026}' => 0x85,
            '\u{2018}' => 0x91,
            '\u{2019}' => 0x92,
            '\u{201c}' => 0x93,
            '\u{201d}' => 0x94,
            '\u{2022}' => 0x95,
            '\u{2013}' => 0x96,
            '\u{2014}' => 0x97,
            _ => b'?',
        })
        .collect()
}

fn width(bytes: &[u8], font: Font, size: f32) -> f32 {
    let units: u32 = bytes
        .iter()
        .map(|&b| {
            b.checked_sub(32)
                .and_then(|i| font.widths.get(usize::from(i)))
                .map_or(0, |&w| u32::from(w))
        })
        .sum();
    units as f32 * size / 1000.0
}

const ELLIPSIS: u8 = 0x85;

/// The bytes cut to `max` points wide, ending in an ellipsis when cut (or
/// always, with `force_ellipsis`).
fn fit_bytes(bytes: &[u8], font: Font, size: f32, max: f32, force_ellipsis: bool) -> Vec<u8> {
    if !force_ellipsis && width(bytes, font, size) <= max {
        return bytes.to_vec();
    }
    let room = max - width(&[ELLIPSIS], font, size);
    let mut out = bytes.to_vec();
    while !out.is_empty() && width(&out, font, size) > room {
        out.pop();
    }
    while out.last() == Some(&b' ') {
        out.pop();
    }
    out.push(ELLIPSIS);
    out
}

/// Greedy word wrap to `max` points; a word wider than a line is broken.
fn wrap(s: &str, font: Font, size: f32, max: f32) -> Vec<Vec<u8>> {
    let mut lines = Vec::new();
    let mut line: Vec<u8> = Vec::new();
    for word in win_ansi(s).split(|&b| b == b' ').filter(|w| !w.is_empty()) {
        let mut candidate = line.clone();
        if !candidate.is_empty() {
            candidate.push(b' ');
        }
        candidate.extend_from_slice(word);
        if width(&candidate, font, size) <= max {
            line = candidate;
            continue;
        }
        if !line.is_empty() {
            lines.push(std::mem::take(&mut line));
        }
        for &b in word {
            line.push(b);
            if width(&line, font, size) > max && line.len() > 1 {
                line.pop();
                lines.push(std::mem::replace(&mut line, vec![b]));
            }
        }
    }
    if !line.is_empty() || lines.is_empty() {
        lines.push(line);
    }
    lines
}

/// Helvetica's advance widths (Adobe's AFM, WinAnsi order from code 32).
#[rustfmt::skip]
const HELVETICA: [u16; 224] = [
    278, 278, 355, 556, 556, 889, 667, 191, 333, 333, 389, 584, 278, 333, 278, 278,
    556, 556, 556, 556, 556, 556, 556, 556, 556, 556, 278, 278, 584, 584, 584, 556,
    1015, 667, 667, 722, 722, 667, 611, 778, 722, 278, 500, 667, 556, 833, 722, 778,
    667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, 278, 278, 278, 469, 556,
    333, 556, 556, 500, 556, 556, 278, 556, 556, 222, 222, 500, 222, 833, 556, 556,
    556, 556, 333, 500, 278, 556, 500, 722, 500, 500, 500, 334, 260, 334, 584, 0,
    556, 0, 222, 0, 333, 1000, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 222, 222, 333, 333, 350, 556, 1000, 0, 0, 0, 0, 0, 0, 0, 0,
    278, 333, 556, 556, 556, 556, 260, 556, 333, 737, 370, 556, 584, 333, 737, 333,
    400, 584, 333, 333, 333, 556, 537, 278, 333, 333, 365, 556, 834, 834, 834, 611,
    667, 667, 667, 667, 667, 667, 1000, 722, 667, 667, 667, 667, 278, 278, 278, 278,
    722, 722, 778, 778, 778, 778, 778, 584, 778, 722, 722, 722, 722, 667, 667, 611,
    556, 556, 556, 556, 556, 556, 889, 500, 556, 556, 556, 556, 278, 278, 278, 278,
    556, 556, 556, 556, 556, 556, 556, 584, 611, 556, 556, 556, 556, 500, 556, 500,
];

/// Helvetica-Bold's advance widths, as above.
#[rustfmt::skip]
const HELVETICA_BOLD: [u16; 224] = [
    278, 333, 474, 556, 556, 889, 722, 238, 333, 333, 389, 584, 278, 333, 278, 278,
    556, 556, 556, 556, 556, 556, 556, 556, 556, 556, 333, 333, 584, 584, 584, 611,
    975, 722, 722, 722, 722, 667, 611, 778, 722, 278, 556, 722, 611, 833, 722, 778,
    667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, 333, 278, 333, 584, 556,
    333, 556, 611, 556, 611, 556, 333, 611, 611, 278, 278, 556, 278, 889, 611, 611,
    611, 611, 389, 556, 333, 611, 556, 778, 556, 556, 500, 389, 280, 389, 584, 0,
    556, 0, 278, 0, 500, 1000, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 278, 278, 500, 500, 350, 556, 1000, 0, 0, 0, 0, 0, 0, 0, 0,
    278, 333, 556, 556, 556, 556, 280, 556, 333, 737, 370, 556, 584, 333, 737, 333,
    400, 584, 333, 333, 333, 611, 556, 278, 333, 333, 365, 556, 834, 834, 834, 611,
    722, 722, 722, 722, 722, 722, 1000, 722, 667, 667, 667, 667, 278, 278, 278, 278,
    722, 722, 778, 778, 778, 778, 778, 584, 778, 722, 722, 722, 722, 667, 667, 611,
    556, 556, 556, 556, 556, 556, 889, 556, 556, 556, 556, 556, 278, 278, 278, 278,
    611, 611, 611, 611, 611, 611, 611, 584, 611, 611, 611, 611, 611, 556, 611, 556,
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bundle::tests::{bundle_of, key, sample_bundle};

    fn page_count(pdf: &[u8]) -> usize {
        let text = String::from_utf8_lossy(pdf);
        text.matches("/Type /Page").count() - text.matches("/Type /Pages").count()
    }

    #[test]
    fn a_small_bundle_is_one_page() {
        let (bundle, _) = sample_bundle();
        let pdf = to_pdf(&bundle).expect("pdf");
        assert!(pdf.starts_with(b"%PDF-"));
        assert!(pdf.trim_ascii_end().ends_with(b"%%EOF"));
        assert_eq!(page_count(&pdf), 1);
        let text = String::from_utf8_lossy(&pdf);
        assert!(text.contains("/BaseFont /Helvetica"));
        assert!(text.contains("/WinAnsiEncoding"));
        assert!(text.contains("(Page 1 of 1)"));
        // Deterministic: the same bundle gives the same bytes.
        assert_eq!(to_pdf(&bundle).expect("pdf"), pdf);
    }

    #[test]
    fn many_events_take_many_pages() {
        let k = key();
        let seqs: Vec<u64> = (0..300).collect();
        let bundle = bundle_of(300, &seqs, &k);
        let pdf = to_pdf(&bundle).expect("pdf");
        let first = rows_fitting(Page::new().front_matter(&bundle, &verify(&bundle).expect("ok")));
        let other = rows_fitting(PAGE_H - MARGIN);
        assert!(first > 5 && other > 30, "{first} {other}");
        let want = 1 + (300 - first).div_ceil(other);
        assert_eq!(page_count(&pdf), want);
        assert!(String::from_utf8_lossy(&pdf).contains(&format!("(Page {want} of {want})")));
        assert!(pdf.trim_ascii_end().ends_with(b"%%EOF"));
    }

    #[test]
    fn an_empty_or_broken_bundle() {
        let k = key();
        let pdf = to_pdf(&bundle_of(20, &[], &k)).expect("pdf");
        assert_eq!(page_count(&pdf), 1);
        let (mut bundle, _) = sample_bundle();
        bundle.entries[0].event.outcome = "denied".into();
        assert_eq!(to_pdf(&bundle).map_err(|e| e.code()), Err("not_included"));
    }

    #[test]
    fn text_is_encoded_measured_and_cut() {
        assert_eq!(win_ansi("Zoë – “x” €"), b"Zo\xeb \x96 \x93x\x94 \x80");
        assert_eq!(win_ansi("Дмитрий\u{7}"), b"????????");
        // (Parentheses and backslashes are escaped by pdf-writer's Str.)
        assert_eq!(width(b"ab", REGULAR, 10.0), 11.12);
        let cut = fit_bytes(b"a long reason code", REGULAR, 8.0, 30.0, false);
        assert_eq!(cut.last(), Some(&ELLIPSIS));
        assert!(width(&cut, REGULAR, 8.0) <= 30.0);
        assert_eq!(fit_bytes(b"ok", REGULAR, 8.0, 30.0, false), b"ok");
        let lines = wrap(&"word ".repeat(100), REGULAR, 9.0, 200.0);
        assert!(lines.len() > 5);
        assert!(lines.iter().all(|l| width(l, REGULAR, 9.0) <= 200.0));
        let lines = wrap(&"x".repeat(500), REGULAR, 9.0, 200.0);
        assert!(lines.iter().all(|l| width(l, REGULAR, 9.0) <= 200.0));
        assert_eq!(lines.iter().map(Vec::len).sum::<usize>(), 500);
    }
}
