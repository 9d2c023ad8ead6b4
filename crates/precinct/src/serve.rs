//! `precinct serve`: first-run administrator, then the listener until Ctrl-C
//! or SIGTERM.

use anyhow::Context;
use precinct_server::config::ServerConfig;
use precinct_server::service::admin::FIRST_ADMIN;
use precinct_server::service::Services;

use crate::output::print_one_time_password;

pub async fn run(
    config: ServerConfig,
    services: Services,
    demo: Option<crate::demo::DemoSeed>,
) -> anyhow::Result<()> {
    if let Some(password) = services
        .ensure_first_admin()
        .await
        .context("cannot create the first administrator")?
    {
        print_one_time_password(
            "First start: the administrator account was created.",
            FIRST_ADMIN,
            &password,
        );
    }
    let demo = match demo {
        Some(d) => Some(crate::demo::prepare(&services, d).await?),
        None => None,
    };
    // Bind before announcing, so that the address printed is one that works
    // (and shows the real port when asked for port 0).
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    let local = listener.local_addr().unwrap_or(config.listen);
    let scheme = if config.tls.is_some() {
        "https"
    } else {
        "http"
    };
    tracing::info!(
        %local,
        tls = config.tls.is_some(),
        trusted_proxies = config.trusted_proxies.len(),
        "serving"
    );
    if let Some(Some(logins)) = &demo {
        use secrecy::ExposeSecret;
        let default = ServerConfig::for_data_dir(config.data_dir.clone());
        crate::demo::print_guide(
            logins,
            &crate::demo::Reach {
                data_dir: &config.data_dir,
                custom_database: config.database_url.expose_secret()
                    != default.database_url.expose_secret(),
                host: crate::demo::host_for(local),
                tls: Some(config.tls.is_some()),
                listen: (config.listen != default.listen).then_some(config.listen),
            },
        );
    } else if let Some(None) = &demo {
        println!(
            "--demo: this database already holds cases and no demo department; serving it as it is."
        );
    }
    println!("Precinct is listening on {scheme}://{local}/ (Ctrl-C to stop)");
    let store = services.store.clone();
    precinct_server::serve_on(listener, config, services, shutdown_signal()).await?;
    store.close().await;
    tracing::info!("stopped");
    Ok(())
}

/// Completes on Ctrl-C or, on Unix, SIGTERM (what service managers send).
async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %e, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
    tracing::info!("shutting down");
}
