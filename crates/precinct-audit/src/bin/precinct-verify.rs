//! precinct-verify: checks an exported audit bundle offline, with no
//! database and no network, so that anyone (a court, an auditor, a defence
//! expert) can confirm that the events in it are in Precinct's signed log,
//! unchanged. Arguments are parsed by hand: three of them do not need a
//! parser crate, and every dependency is one more thing to review.

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;

use precinct_audit::bundle::{verify_with_key, Bundle};

const USAGE: &str = "\
usage: precinct-verify BUNDLE.json [--key VERIFIER_KEY] [--checkpoint FILE]

Checks an audit bundle exported by `precinct audit export`: the checkpoint's
signature, and each event's inclusion proof against it. No database or
network is used.

  --key VERIFIER_KEY   the log's verifier key as the department publishes it
                       (name+keyid+base64). Without it the key inside the
                       bundle is used, which only shows the bundle is
                       consistent with itself, not who signed it.
  --checkpoint FILE    a signed checkpoint published outside the database (a
                       witness copy); it must verify with the key and be the
                       same tree (size and root) as the bundle's checkpoint.
  -h, --help           prints this text.

Exit status: 0 verified, 1 not verified (the reason is printed),
2 usage error or a file that cannot be read.";

#[derive(Debug, PartialEq, Eq)]
struct Args {
    bundle: PathBuf,
    key: Option<String>,
    checkpoint: Option<PathBuf>,
}

#[derive(Debug, PartialEq, Eq)]
enum Command {
    Verify(Args),
    Help,
}

/// Parses the arguments after the program name; `Err` is a usage error.
fn parse_args(args: impl IntoIterator<Item = OsString>) -> Result<Command, String> {
    let mut bundle: Option<PathBuf> = None;
    let mut key: Option<String> = None;
    let mut checkpoint: Option<PathBuf> = None;
    let mut args = args.into_iter();
    let mut options_done = false;
    while let Some(arg) = args.next() {
        let text = arg.to_str().unwrap_or_default();
        if options_done || !text.starts_with('-') || text == "-" {
            if bundle.replace(PathBuf::from(arg)).is_some() {
                return Err("give one bundle file".into());
            }
            continue;
        }
        let (name, inline) = match text.split_once('=') {
            Some((n, v)) if n.starts_with("--") => (n, Some(OsString::from(v))),
            _ => (text, None),
        };
        let mut value = |name: &str| {
            inline
                .clone()
                .or_else(|| args.next())
                .ok_or_else(|| format!("{name} needs a value"))
        };
        match name {
            "--" => options_done = true,
            "-h" | "--help" => return Ok(Command::Help),
            "--key" => {
                let v = value(name)?;
                let v = v
                    .into_string()
                    .map_err(|_| "--key is not text".to_owned())?;
                if key.replace(v).is_some() {
                    return Err("--key given twice".into());
                }
            }
            "--checkpoint" => {
                if checkpoint.replace(PathBuf::from(value(name)?)).is_some() {
                    return Err("--checkpoint given twice".into());
                }
            }
            _ => return Err(format!("unknown option {name}")),
        }
    }
    let bundle = bundle.ok_or("no bundle file given")?;
    Ok(Command::Verify(Args {
        bundle,
        key,
        checkpoint,
    }))
}

/// Why verification did not succeed, and the exit status to report it.
struct Failure {
    status: u8,
    message: String,
}

fn unreadable(path: &std::path::Path, e: std::io::Error) -> Failure {
    Failure {
        status: 2,
        message: format!("cannot read {}: {e}", path.display()),
    }
}

fn not_verified(e: precinct_audit::bundle::BundleError) -> Failure {
    Failure {
        status: 1,
        message: format!("NOT VERIFIED [{}]: {e}", e.code()),
    }
}

/// Verifies and returns the summary to print.
fn run(args: &Args) -> Result<String, Failure> {
    let text = std::fs::read_to_string(&args.bundle).map_err(|e| unreadable(&args.bundle, e))?;
    let witness = match &args.checkpoint {
        Some(path) => Some(std::fs::read_to_string(path).map_err(|e| unreadable(path, e))?),
        None => None,
    };
    let bundle = Bundle::from_json(&text).map_err(not_verified)?;
    let verified = verify_with_key(&bundle, args.key.as_deref()).map_err(not_verified)?;
    if let Some(note) = &witness {
        verified.check_witness(note).map_err(not_verified)?;
    }
    let key_source = if args.key.is_some() {
        "the key given with --key"
    } else {
        "taken from the bundle itself: compare it with the key the department publishes, \
         or give it with --key"
    };
    let witness_line = match &args.checkpoint {
        Some(path) => format!("the same tree head as {}", path.display()),
        None => "none given (--checkpoint)".to_owned(),
    };
    // The description comes from the file: escape control characters so
    // that it cannot rewrite the terminal.
    Ok(format!(
        "VERIFIED: {} entries are in the log, unchanged, at their seq\n\
         \x20 description:  {}\n\
         \x20 exported at:  {}\n\
         \x20 log origin:   {}\n\
         \x20 tree size:    {}\n\
         \x20 root:         {}\n\
         \x20 verifier key: {}\n\
         \x20               ({key_source})\n\
         \x20 witness:      {witness_line}",
        verified.entries,
        bundle.description.escape_debug(),
        precinct_audit::time_rfc3339(bundle.exported_at_us),
        verified.origin.escape_debug(),
        verified.tree_size,
        hex::encode(verified.root),
        verified.key.encode().escape_debug(),
    ))
}

fn main() -> ExitCode {
    let args = match parse_args(std::env::args_os().skip(1)) {
        Ok(Command::Verify(args)) => args,
        Ok(Command::Help) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("precinct-verify: {e}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match run(&args) {
        Ok(summary) => {
            println!("{summary}");
            ExitCode::SUCCESS
        }
        Err(f) => {
            eprintln!("precinct-verify: {}", f.message);
            ExitCode::from(f.status)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Command, String> {
        parse_args(args.iter().map(OsString::from))
    }

    #[test]
    fn arguments() {
        let want = |key: Option<&str>, cp: Option<&str>| {
            Ok(Command::Verify(Args {
                bundle: "b.json".into(),
                key: key.map(str::to_owned),
                checkpoint: cp.map(PathBuf::from),
            }))
        };
        assert_eq!(parse(&["b.json"]), want(None, None));
        assert_eq!(
            parse(&["b.json", "--key", "k+1+AA=="]),
            want(Some("k+1+AA=="), None)
        );
        assert_eq!(
            parse(&["--key=k+1+AA==", "b.json"]),
            want(Some("k+1+AA=="), None)
        );
        assert_eq!(
            parse(&["--checkpoint", "cp.txt", "b.json", "--key", "k"]),
            want(Some("k"), Some("cp.txt"))
        );
        assert_eq!(parse(&["-h"]), Ok(Command::Help));
        assert_eq!(parse(&["b.json", "--help"]), Ok(Command::Help));
        let dash = parse(&["--", "-odd.json"]);
        assert!(matches!(dash, Ok(Command::Verify(a)) if a.bundle.as_os_str() == "-odd.json"));
        for bad in [
            &[][..],
            &["a.json", "b.json"],
            &["b.json", "--key"],
            &["b.json", "--key", "a", "--key", "b"],
            &["b.json", "--frobnicate"],
            &["b.json", "-k", "x"],
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
    }
}
