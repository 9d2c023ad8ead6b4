//! What the console shows: plain tables, and the framed notice that carries a
//! one-time password (printed to stdout once, never logged).

use precinct_domain::credentials::NewPassword;
use precinct_server::service::{ServiceError, ServiceResult};

/// Columns padded to their widest cell; an empty list says so.
pub fn print_table(headers: &[&str], rows: &[Vec<String>], nothing: &str) {
    if rows.is_empty() {
        println!("{nothing}");
        return;
    }
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        println!("{}", padded.join("  ").trim_end());
    };
    line(headers.to_vec());
    for row in rows {
        line(row.iter().map(String::as_str).collect());
    }
}

pub fn yes_no(b: bool) -> String {
    if b { "yes" } else { "no" }.to_owned()
}

/// A box around lines, wide enough for the longest.
pub fn print_boxed(lines: &[String]) {
    let width = lines.iter().map(|l| l.chars().count()).max().unwrap_or(0);
    println!("+{}+", "-".repeat(width + 2));
    for l in lines {
        let pad = width - l.chars().count();
        println!("| {l}{} |", " ".repeat(pad));
    }
    println!("+{}+", "-".repeat(width + 2));
}

/// The one-time password of `username`, with what the user must do next.
pub fn print_one_time_password(title: &str, username: &str, password: &NewPassword) {
    print_boxed(&[
        title.to_owned(),
        String::new(),
        format!("  user:               {username}"),
        format!("  one-time password:  {}", password.expose()),
        String::new(),
        "You must set a new password and enrol MFA at first login.".to_owned(),
        "This password is shown only once; it is not stored in clear.".to_owned(),
    ]);
}

/// Turns the bare "unit not found" of a lookup by name into a sentence that
/// names what was looked for.
pub trait ByName<T> {
    fn by_name(self, what: &str, name: &str) -> anyhow::Result<T>;
}

impl<T> ByName<T> for ServiceResult<T> {
    fn by_name(self, what: &str, name: &str) -> anyhow::Result<T> {
        self.map_err(|e| match e {
            ServiceError::NotFound(_) => anyhow::anyhow!("there is no {what} named `{name}`"),
            e => e.into(),
        })
    }
}

/// `s` as one word for a POSIX shell, quoted only when it needs to be.
pub fn shell_word(s: &str) -> String {
    let plain = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:=@,+".contains(c));
    if plain {
        s.to_owned()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_words_are_quoted_when_needed() {
        assert_eq!(shell_word("ws-02"), "ws-02");
        assert_eq!(shell_word("WS Central/01"), "'WS Central/01'");
        assert_eq!(shell_word("O'Hara"), r"'O'\''Hara'");
    }
}
