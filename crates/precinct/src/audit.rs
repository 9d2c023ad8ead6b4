//! `precinct audit`: verify the log, prove an event or the log's
//! consistency, export bundles and check them offline.

use anyhow::{bail, Context};
use indicatif::{ProgressBar, ProgressStyle};
use precinct_audit::bundle::{to_csv, to_pdf, verify_with_key, Bundle};
use precinct_audit::time_rfc3339;
use precinct_server::service::admin::Actor;
use precinct_server::service::audit::Origin;
use precinct_server::service::auditlog::read_witness;
use precinct_server::service::verify::verify_log;
use precinct_server::service::Services;
use precinct_store::EventFilter;
use std::io::IsTerminal;
use std::path::Path;

use crate::cli::AuditCommand;

pub async fn run(services: &Services, cmd: AuditCommand) -> anyhow::Result<()> {
    let origin = Origin::console();
    match cmd {
        AuditCommand::Verify { against } => verify(services, &origin, against.as_deref()).await,
        AuditCommand::Prove { event, checkpoint } => {
            let p = services.prove_event(&origin, &event, checkpoint).await?;
            println!("event:       {}", p.event.id);
            println!("leaf index:  {}", p.seq);
            println!("leaf hash:   {}", hex::encode(p.event.leaf_hash()));
            println!("tree size:   {}", p.checkpoint.size);
            println!("root:        {}", hex::encode(&p.checkpoint.root));
            println!("proof:");
            for h in &p.proof {
                println!("  {}", hex::encode(h));
            }
            println!("checkpoint:\n{}", p.checkpoint.note);
            // Judge by the signed note, never by the root column beside it.
            let cp = services
                .log_verifier()
                .open(&p.checkpoint.note)
                .map_err(|e| anyhow::anyhow!("the checkpoint's signature does not verify: {e}"))?;
            let ok = cp.size == p.checkpoint.size
                && precinct_audit::merkle::verify_inclusion(
                    p.seq,
                    cp.size,
                    &p.event.leaf_hash(),
                    &p.proof,
                    &cp.root,
                );
            if !ok {
                bail!("the proof does not verify against the signed checkpoint");
            }
            println!("The proof verifies.");
            Ok(())
        }
        AuditCommand::Consistency { from, to } => {
            let (a, b, proof) = services.prove_consistency(&origin, from, to).await?;
            println!("from size {} root {}", a.size, hex::encode(&a.root));
            println!("to   size {} root {}", b.size, hex::encode(&b.root));
            println!("proof:");
            for h in &proof {
                println!("  {}", hex::encode(h));
            }
            let verifier = services.log_verifier();
            let open = |note: &str| {
                verifier
                    .open(note)
                    .map_err(|e| anyhow::anyhow!("a checkpoint's signature does not verify: {e}"))
            };
            let (ca, cb) = (open(&a.note)?, open(&b.note)?);
            if !precinct_audit::merkle::verify_consistency(
                ca.size, cb.size, &ca.root, &cb.root, &proof,
            ) {
                bail!("the consistency proof does not verify");
            }
            println!(
                "The log at {} is a prefix of the log at {}: it was only appended to.",
                a.size, b.size
            );
            Ok(())
        }
        AuditCommand::Export {
            case,
            user,
            from,
            to,
            out,
        } => {
            let mut filter = EventFilter::default();
            let mut what = Vec::new();
            if let Some(case) = case {
                filter.object_type = Some("case".into());
                what.push(format!("case {case}"));
                filter.object_id = Some(case);
            }
            if let Some(name) = user {
                let u = services.user_by_username(Actor::Console, &name).await?;
                filter.actor_id = Some(u.id.to_string());
                what.push(format!("user {name}"));
            }
            if let Some(f) = from {
                filter.from_us = Some(precinct_server::service::auditor::parse_instant(
                    "from", &f, false,
                )?);
                what.push(format!("from {f}"));
            }
            if let Some(t) = to {
                filter.to_us = Some(precinct_server::service::auditor::parse_instant(
                    "to", &t, true,
                )?);
                what.push(format!("to {t}"));
            }
            let description = if what.is_empty() {
                "All audit events".to_owned()
            } else {
                format!("Audit events: {}", what.join(", "))
            };
            let bundle = services
                .export_bundle(&origin, &filter, &description)
                .await?;
            std::fs::create_dir_all(&out)
                .with_context(|| format!("cannot create {}", out.display()))?;
            let json = bundle.to_json().context("cannot encode the bundle")?;
            std::fs::write(out.join("bundle.json"), json)?;
            std::fs::write(out.join("events.csv"), to_csv(&bundle))?;
            let pdf = to_pdf(&bundle).map_err(|e| anyhow::anyhow!("cannot render the PDF: {e}"))?;
            std::fs::write(out.join("events.pdf"), pdf)?;
            println!(
                "Exported {} events to {} (bundle.json, events.csv, events.pdf).",
                bundle.entries.len(),
                out.display()
            );
            println!(
                "Verify offline: precinct audit verify-bundle {} --key {}",
                out.join("bundle.json").display(),
                bundle.verifier_key
            );
            Ok(())
        }
        AuditCommand::Key => {
            println!("{}", services.log_verifier().encode());
            Ok(())
        }
        AuditCommand::VerifyBundle {
            file,
            key,
            checkpoint,
        } => verify_bundle(&file, key.as_deref(), checkpoint.as_deref()),
    }
}

async fn verify(
    services: &Services,
    origin: &Origin,
    against: Option<&Path>,
) -> anyhow::Result<()> {
    services
        .record(&[services
            .event(
                origin,
                "audit.verify",
                precinct_server::service::audit::Outcome::Allowed,
            )
            .build()])
        .await?;
    let witness = match against {
        Some(p) => read_witness(
            &std::fs::read_to_string(p).with_context(|| format!("cannot read {}", p.display()))?,
        ),
        None => Vec::new(),
    };
    let bar = if std::io::stderr().is_terminal() {
        let b = ProgressBar::new(0);
        b.set_style(
            ProgressStyle::with_template("{bar:40} {pos}/{len} events ({per_sec}, {eta})")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        b
    } else {
        ProgressBar::hidden()
    };
    let started = std::time::Instant::now();
    let result = verify_log(
        &services.store,
        &services.log_verifier(),
        &witness,
        &mut |done, total| {
            bar.set_length(total);
            bar.set_position(done);
        },
    )
    .await;
    bar.finish_and_clear();
    match result {
        Ok(r) => {
            let secs = started.elapsed().as_secs_f64().max(1e-9);
            println!(
                "The audit log verifies: {} events, {} checkpoints{}, root {}.",
                r.events,
                r.checkpoints,
                if r.witnessed > 0 {
                    format!(", {} witness checkpoints", r.witnessed)
                } else {
                    String::new()
                },
                hex::encode(r.root)
            );
            println!("({:.0} events/s)", r.events as f64 / secs);
            Ok(())
        }
        Err(e) => bail!("THE AUDIT LOG DOES NOT VERIFY: {e}"),
    }
}

/// Checks a bundle without any database.
pub fn verify_bundle(
    file: &Path,
    key: Option<&str>,
    checkpoint: Option<&Path>,
) -> anyhow::Result<()> {
    let text =
        std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
    let bundle = Bundle::from_json(&text)
        .map_err(|e| anyhow::anyhow!("NOT VERIFIED [{}]: {e}", e.code()))?;
    let v = verify_with_key(&bundle, key)
        .map_err(|e| anyhow::anyhow!("NOT VERIFIED [{}]: {e}", e.code()))?;
    if let Some(cp) = checkpoint {
        let note =
            std::fs::read_to_string(cp).with_context(|| format!("cannot read {}", cp.display()))?;
        v.check_witness(&note)
            .map_err(|e| anyhow::anyhow!("NOT VERIFIED [{}]: {e}", e.code()))?;
    }
    println!(
        "Verified: {} events of \"{}\", exported {}, are in the log {} of {} entries (root {}).",
        v.entries,
        bundle.description,
        time_rfc3339(bundle.exported_at_us),
        v.origin,
        v.tree_size,
        hex::encode(v.root)
    );
    if key.is_none() {
        println!("Note: checked with the key inside the bundle; pass --key with the department's published key to know who signed it.");
    }
    Ok(())
}
