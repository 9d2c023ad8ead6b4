//! The bundle's events as CSV for spreadsheets: RFC 4180 (CRLF rows,
//! quoted fields where needed), one row per event in bundle order.

use super::Bundle;
use crate::time_rfc3339;

const HEADER: [&str; 17] = [
    "seq",
    "time (UTC)",
    "actor",
    "actor id",
    "session",
    "channel",
    "workstation",
    "device",
    "source ip",
    "action",
    "object type",
    "object id",
    "outcome",
    "reason",
    "grant",
    "request id",
    "event id",
];

/// The events as CSV. Cells that a spreadsheet would run as a formula
/// (starting with `=`, `+`, `-`, `@`, tab or CR) get a leading `'`: the
/// CSV is for reading; the JSON bundle keeps the exact values.
pub fn to_csv(bundle: &Bundle) -> String {
    let mut out = String::new();
    row(&mut out, HEADER.iter().copied());
    for entry in &bundle.entries {
        let e = &entry.event;
        let opt = |v: &Option<String>| v.clone().unwrap_or_default();
        let cells = [
            entry.seq.to_string(),
            time_rfc3339(e.time_us),
            opt(&e.actor_name),
            opt(&e.actor_id),
            opt(&e.session_id),
            e.channel.clone(),
            opt(&e.workstation_id),
            opt(&e.device_id),
            opt(&e.source_ip),
            e.action.clone(),
            opt(&e.object_type),
            opt(&e.object_id),
            e.outcome.clone(),
            opt(&e.reason),
            opt(&e.grant_id),
            opt(&e.request_id),
            e.id.clone(),
        ];
        row(&mut out, cells.iter().map(String::as_str));
    }
    out
}

/// One RFC 4180 row (CRLF), each cell quoted where needed and guarded
/// against spreadsheet formulas; for other reports in the same form.
pub fn row<'a>(out: &mut String, cells: impl Iterator<Item = &'a str>) {
    for (i, value) in cells.enumerate() {
        if i > 0 {
            out.push(',');
        }
        cell(out, value);
    }
    out.push_str("\r\n");
}

fn cell(out: &mut String, value: &str) {
    let guard = value.starts_with(['=', '+', '-', '@', '\t', '\r']);
    let quote = value.contains([',', '"', '\r', '\n']);
    if quote {
        out.push('"');
    }
    if guard {
        out.push('\'');
    }
    out.push_str(&value.replace('"', "\"\""));
    if quote {
        out.push('"');
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bundle::tests::{event, sample_bundle};

    /// A strict RFC 4180 reader, to read back what `to_csv` wrote.
    fn parse(text: &str) -> Vec<Vec<String>> {
        let mut rows = Vec::new();
        let mut row = Vec::new();
        let mut field = String::new();
        let mut chars = text.chars().peekable();
        let mut quoted = false;
        while let Some(c) = chars.next() {
            match (quoted, c) {
                (true, '"') if chars.peek() == Some(&'"') => {
                    chars.next();
                    field.push('"');
                }
                (true, '"') => quoted = false,
                (true, c) => field.push(c),
                (false, '"') => {
                    assert!(field.is_empty(), "quote inside an unquoted field");
                    quoted = true;
                }
                (false, ',') => row.push(std::mem::take(&mut field)),
                (false, '\r') => {
                    assert_eq!(chars.next(), Some('\n'), "bare CR");
                    row.push(std::mem::take(&mut field));
                    rows.push(std::mem::take(&mut row));
                }
                (false, '\n') => panic!("bare LF ends a row"),
                (false, c) => field.push(c),
            }
        }
        assert!(
            !quoted && field.is_empty() && row.is_empty(),
            "unterminated"
        );
        rows
    }

    #[test]
    fn one_row_per_event_with_a_header() {
        let (bundle, _) = sample_bundle();
        let rows = parse(&to_csv(&bundle));
        assert_eq!(rows.len(), 1 + bundle.entries.len());
        assert_eq!(rows[0], HEADER);
        for (row, entry) in rows[1..].iter().zip(&bundle.entries) {
            assert_eq!(row.len(), HEADER.len());
            assert_eq!(row[0], entry.seq.to_string());
            assert_eq!(row[1], time_rfc3339(entry.event.time_us));
            assert_eq!(row[9], entry.event.action);
            assert_eq!(row[16], entry.event.id);
        }
    }

    #[test]
    fn quotes_and_guards_cells() {
        let (mut bundle, _) = sample_bundle();
        let mut e = event(99);
        e.actor_name = Some("Smith, \"Jo\"".into());
        e.reason = Some("line one\nline two".into());
        e.object_id = Some("=HYPERLINK(\"http://x\")".into());
        e.workstation_id = Some("-2+3".into());
        e.grant_id = Some("@SUM(A1)".into());
        e.source_ip = Some("+1".into());
        e.request_id = Some("a=b".into());
        bundle.entries[0].event = e;
        let text = to_csv(&bundle);
        assert!(text.contains("\"Smith, \"\"Jo\"\"\""));
        let rows = parse(&text);
        let row = &rows[1];
        assert_eq!(row[2], "Smith, \"Jo\"");
        assert_eq!(row[13], "line one\nline two");
        assert_eq!(row[11], "'=HYPERLINK(\"http://x\")");
        assert_eq!(row[6], "'-2+3");
        assert_eq!(row[14], "'@SUM(A1)");
        assert_eq!(row[8], "'+1");
        // Only a leading character makes a formula.
        assert_eq!(row[15], "a=b");
        // Empty optional fields are empty cells.
        assert_eq!(row[7], "");
    }
}
