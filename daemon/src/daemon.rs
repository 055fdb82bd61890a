//! Wiring: build every part from the config, start the listeners, resume unfinished work, keep
//! the configured certificates issued, and shut down cleanly on SIGTERM or SIGINT.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio::signal::unix::{SignalKind, signal};
use tracing::{error, info, warn};

use crate::acme::{CaEndpoint, Engine, NewOrderRequest};
use crate::admin::{self, AdminState};
use crate::challenge::Board;
use crate::config::Config;
use crate::dns::{self, PropagationChecker};
use crate::http01::Http01Server;
use crate::plugin::PluginHost;
use crate::store::{CertificateRecord, OrderRecord, Store, now};

/// How often the daemon checks that every configured certificate is issued and fresh.
const RECONCILE_EVERY: Duration = Duration::from_secs(300);

/// Run the daemon until SIGTERM or SIGINT.
pub async fn run(config_path: &Path) -> anyhow::Result<()> {
    // Everything that can refuse bad input is checked before the store is opened, so a refused
    // start leaves the store file exactly as it was.
    let config = Config::load(config_path)?;
    let plugins = Arc::new(load_plugins(&config)?);
    let propagation = Arc::new(PropagationChecker::new(config.propagation.clone())?);
    let store = Arc::new(Store::open(&config.store)?);
    let board = Arc::new(Board::new());
    let zones = config
        .dns_server
        .as_ref()
        .map(|d| d.zones.clone())
        .unwrap_or_default();
    let engine = Arc::new(Engine::new(
        store,
        Arc::clone(&board),
        Arc::clone(&plugins),
        propagation,
        endpoints(&config),
        zones,
    ));

    let http01 = match &config.http01 {
        Some(h) => Some(Http01Server::spawn(&h.listen, Arc::clone(&board)).await?),
        None => None,
    };
    let dns_server = match &config.dns_server {
        Some(d) => Some(dns::spawn(d, Arc::clone(&board)).await?),
        None => None,
    };
    let state = Arc::new(AdminState {
        engine: Arc::clone(&engine),
        plugins,
    });
    let admin_task = admin::serve(&config.admin_socket, state)?;
    engine.resume().await?;
    info!(config = %config_path.display(), "certkeeper started");

    let reconciler = tokio::spawn(reconcile_forever(Arc::clone(&engine), config.clone()));
    wait_for_shutdown().await?;

    info!("shutting down");
    reconciler.abort();
    admin_task.abort();
    let _ = std::fs::remove_file(&config.admin_socket);
    if let Some(server) = http01 {
        server.shutdown().await;
    }
    if let Some(server) = dns_server {
        server.shutdown().await;
    }
    info!("stopped");
    Ok(())
}

fn load_plugins(config: &Config) -> anyhow::Result<PluginHost> {
    let dir = &config.plugin_dir;
    if !dir.is_dir() && config.dns_providers.is_empty() {
        info!(dir = %dir.display(), "no plugin directory and no DNS providers configured");
    }
    PluginHost::load(dir, config.dns_providers.clone())
        .with_context(|| format!("loading plugins from {}", dir.display()))
}

fn endpoints(config: &Config) -> Vec<CaEndpoint> {
    config
        .cas
        .iter()
        .map(|ca| CaEndpoint {
            name: ca.name.get_ref().clone(),
            directory: ca.directory_url(),
            tls_root: ca.tls_root.clone(),
        })
        .collect()
}

async fn wait_for_shutdown() -> anyhow::Result<()> {
    let mut term = signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
    tokio::select! {
        _ = term.recv() => info!(signal = "SIGTERM", "signal received"),
        _ = tokio::signal::ctrl_c() => info!(signal = "SIGINT", "signal received"),
    }
    Ok(())
}

async fn reconcile_forever(engine: Arc<Engine>, config: Config) {
    loop {
        if let Err(error) = reconcile(&engine, &config).await {
            error!(%error, "reconcile failed");
        }
        tokio::time::sleep(RECONCILE_EVERY).await;
    }
}

/// Make the store match the config: register missing accounts, order missing or due
/// certificates.
async fn reconcile(engine: &Arc<Engine>, config: &Config) -> anyhow::Result<()> {
    for account in &config.accounts {
        let name = account.name.get_ref();
        if engine.find_account(name).is_ok() {
            continue;
        }
        let result = match account.request() {
            Ok(request) => engine.register_account(&request).await.map(drop),
            Err(message) => Err(crate::acme::EngineError::Invalid(message)),
        };
        if let Err(error) = result {
            error!(%error, account = %name, "cannot register configured account");
        }
    }
    for cert in &config.certificates {
        let name = cert.name.get_ref();
        if !needs_order(engine, name, cert.names.get_ref())? {
            continue;
        }
        let request = NewOrderRequest {
            account: cert.account.get_ref().clone(),
            names: cert.names.get_ref().clone(),
            challenge: cert.challenge,
            dns: cert.dns.as_ref().map(|d| d.get_ref().clone()),
            csr_id: None,
            key_type: cert.key_type,
            auto_finalize: true,
            certificate_name: Some(name.clone()),
            profile: cert.profile.as_ref().map(|p| p.get_ref().clone()),
        };
        match engine.create_order(request).await {
            Ok(order) => {
                info!(certificate = %name, order = %order.id, "ordering configured certificate")
            }
            Err(error) => warn!(%error, certificate = %name, "cannot order configured certificate"),
        }
    }
    Ok(())
}

/// Whether `name` lacks a fresh, unrevoked certificate for exactly `names` and no order is under
/// way.
fn needs_order(engine: &Engine, name: &str, names: &[String]) -> anyhow::Result<bool> {
    let orders: Vec<OrderRecord> = engine
        .orders()?
        .into_iter()
        .filter(|o| o.certificate_name.as_deref() == Some(name))
        .collect();
    if orders
        .iter()
        .any(|o| !o.status.is_final() && o.error.is_none())
    {
        return Ok(false);
    }
    let certs: Vec<CertificateRecord> = engine
        .certificates()?
        .into_iter()
        .filter(|c| c.name == name)
        .collect();
    let Some(latest) = certs.first() else {
        return Ok(true);
    };
    let mut want: Vec<String> = names.iter().map(|n| n.to_ascii_lowercase()).collect();
    let mut have = latest.names.clone();
    want.sort();
    have.sort();
    Ok(want != have || due_for_renewal(latest) || latest.revoked_at.is_some())
}

/// Renew when a third of the lifetime is left (CA-FACTS: never a fixed number of days).
fn due_for_renewal(cert: &CertificateRecord) -> bool {
    let lifetime = cert.not_after - cert.not_before;
    now() >= cert.not_after - lifetime / 3
}
