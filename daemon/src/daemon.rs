//! Wiring: build every part from the config, start the listeners, resume unfinished work, hand
//! the certificates to the renewal scheduler, reload on SIGHUP, and shut down cleanly on SIGTERM
//! or SIGINT.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use tokio::signal::unix::{SignalKind, signal};
use tracing::{info, warn};

use crate::acme::{CaEndpoint, Engine};
use crate::admin::{self, AdminState};
use crate::challenge::Board;
use crate::config::Config;
use crate::dns::{self, PropagationChecker};
use crate::http01::Http01Server;
use crate::metrics;
use crate::plugin::{PluginHost, PluginWatcher};
use crate::schedule::Scheduler;
use crate::store::Store;
use crate::store::seal::StoreKey;

/// Run the daemon until SIGTERM or SIGINT.
pub async fn run(config_path: &Path) -> anyhow::Result<()> {
    // Everything that can refuse bad input is checked before the store is opened, so a refused
    // start leaves the store file exactly as it was.
    let config = Config::load(config_path)?;
    warn_if_readable_by_others(config_path, &config);
    let plugins = Arc::new(load_plugins(&config)?);
    config.check_vendors(config_path)?;
    config.check_dns_plugins(config_path, &plugins.plugins())?;
    let propagation = Arc::new(PropagationChecker::new(config.propagation.clone())?);
    let store_key = config
        .store_key_file
        .as_deref()
        .map(StoreKey::load)
        .transpose()?;
    let store = Arc::new(Store::open_with_key(&config.store, store_key)?);
    let board = Arc::new(Board::new());
    let zones = config
        .dns_server
        .as_ref()
        .map(|d| d.zones.clone())
        .unwrap_or_default();
    let engine = Arc::new(
        Engine::new(
            store,
            Arc::clone(&board),
            Arc::clone(&plugins),
            propagation,
            endpoints(&config),
            zones,
        )
        .with_limits(config.acme.clone()),
    );

    let http01 = match &config.http01 {
        Some(h) => Some(Http01Server::spawn(&h.listen, Arc::clone(&board)).await?),
        None => None,
    };
    let dns_server = match &config.dns_server {
        Some(d) => Some(dns::spawn(d, Arc::clone(&board)).await?),
        None => None,
    };
    let scheduler = Arc::new(Scheduler::new(
        Arc::clone(&engine),
        Arc::new(config.clone()),
    ));
    let metrics_task = match &config.metrics {
        Some(m) => Some(metrics::serve(m, scheduler_gauges(&scheduler)).await?),
        None => None,
    };
    let state = Arc::new(AdminState {
        engine: Arc::clone(&engine),
        plugins: Arc::clone(&plugins),
        scheduler: Some(Arc::clone(&scheduler)),
    });
    let _plugin_watcher = watch_plugins(&plugins);
    let admin_task = admin::serve(&config.admin_socket, state)?;
    engine.resume().await?;
    info!(config = %config_path.display(), "certkeeper started");

    let renewals = tokio::spawn(Arc::clone(&scheduler).run());
    wait_for_shutdown(&scheduler, config_path).await?;

    info!("shutting down");
    renewals.abort();
    if let Some(task) = metrics_task {
        task.abort();
    }
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
    let cache = config.plugin_cache_dir();
    PluginHost::load_with_cache(dir, config.dns_providers.clone(), Some(&cache))
        .with_context(|| format!("loading plugins from {}", dir.display()))
}

/// Hot reload: a daemon whose plugin directory cannot be watched still serves what it loaded.
fn watch_plugins(plugins: &Arc<PluginHost>) -> Option<PluginWatcher> {
    plugins
        .watch()
        .inspect_err(|error| warn!(%error, "plugins will not be reloaded until restart"))
        .ok()
}

fn endpoints(config: &Config) -> Vec<CaEndpoint> {
    config
        .cas
        .iter()
        .map(|ca| CaEndpoint {
            name: ca.name.get_ref().clone(),
            directory: ca.directory_url(),
            tls_root: ca.tls_root.clone(),
            vendor: ca.vendor.as_ref().map(|v| v.get_ref().clone()),
            eab_api_key_file: ca.eab_api_key_file.as_ref().map(|f| f.get_ref().clone()),
        })
        .collect()
}

/// Wait for SIGTERM or SIGINT, reloading the config on each SIGHUP meanwhile.
async fn wait_for_shutdown(scheduler: &Scheduler, config_path: &Path) -> anyhow::Result<()> {
    let mut term = signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
    let mut hup = signal(SignalKind::hangup()).context("installing the SIGHUP handler")?;
    loop {
        tokio::select! {
            _ = term.recv() => break info!(signal = "SIGTERM", "signal received"),
            _ = tokio::signal::ctrl_c() => break info!(signal = "SIGINT", "signal received"),
            _ = hup.recv() => {
                info!(signal = "SIGHUP", "signal received; reloading the config");
                let _ = scheduler.reload(config_path);
            }
        }
    }
    Ok(())
}

fn scheduler_gauges(scheduler: &Arc<Scheduler>) -> metrics::Gauges {
    let scheduler = Arc::clone(scheduler);
    Arc::new(move |out| scheduler.write_gauges(out))
}

/// Provider credentials and EAB keys may sit in the config inline: say so when other users can
/// read the file.
fn warn_if_readable_by_others(path: &Path, config: &Config) {
    use std::os::unix::fs::PermissionsExt;
    let holds_secrets = !config.dns_providers.is_empty()
        || config.accounts.iter().any(|a| a.eab_hmac_key.is_some());
    let mode = std::fs::metadata(path)
        .map(|m| m.permissions().mode())
        .unwrap_or(0);
    if holds_secrets && mode & 0o077 != 0 {
        warn!(
            config = %path.display(),
            mode = format!("{:o}", mode & 0o777),
            "the config may hold credentials but other users can read it; chmod 600 it"
        );
    }
}
