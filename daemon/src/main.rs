//! The `certkeeper` binary: the daemon and its CLI.

use std::process::ExitCode;

use clap::Parser;
use tracing_subscriber::EnvFilter;

use certkeeper::cli::{Cli, Command};
use certkeeper::config::Config;

fn main() -> ExitCode {
    let cli = Cli::parse();
    if !matches!(cli.command, Command::Run) {
        restore_sigpipe();
    }
    let runtime = tokio::runtime::Runtime::new().expect("a tokio runtime can be built");
    let result = runtime.block_on(dispatch(&cli));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("certkeeper: {}", describe(&error));
            ExitCode::FAILURE
        }
    }
}

async fn dispatch(cli: &Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Run => {
            init_logging();
            let config = cli
                .config
                .as_deref()
                .ok_or_else(|| anyhow::anyhow!("run needs --config FILE"))?;
            certkeeper::daemon::run(config).await
        }
        Command::CheckConfig => {
            let config = cli
                .config
                .as_deref()
                .ok_or_else(|| anyhow::anyhow!("check-config needs --config FILE"))?;
            let loaded = Config::load(config)?;
            if !loaded.vendors_known() || !loaded.dns_providers.is_empty() {
                // A vendor name may come from a ca-vendor plugin, and a provider names a plugin
                // of some kind: load them as `run` would.
                let dir = &loaded.plugin_dir;
                let host = certkeeper::plugin::PluginHost::load(dir, loaded.dns_providers.clone())?;
                loaded.check_vendors(config)?;
                loaded.check_dns_plugins(config, &host.plugins())?;
            }
            if let Some(key_file) = &loaded.store_key_file {
                certkeeper::store::seal::StoreKey::load(key_file)?;
            }
            println!("{}: ok", config.display());
            Ok(())
        }
        Command::Store(ref cmd) => cmd.run(cli.json),
        _ => cli.run_client().await,
    }
}

/// Logs go to stderr; `RUST_LOG` filters them and `CERTKEEPER_LOG_FORMAT=json` makes them JSON.
fn init_logging() {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,hickory_server=warn"));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(ansi);
    if std::env::var("CERTKEEPER_LOG_FORMAT").as_deref() == Ok("json") {
        builder.json().init();
    } else {
        builder.init();
    }
}

/// The error and its causes, skipping a cause whose text the message already holds (our errors
/// often quote their source).
fn describe(error: &anyhow::Error) -> String {
    let mut message = error.to_string();
    for cause in error.chain().skip(1) {
        let text = cause.to_string();
        if !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
    }
    message
}

/// Let a CLI command die quietly when its reader goes away (`certkeeper order list | head`),
/// as command-line tools do, instead of panicking on the failed write. The daemon keeps Rust's
/// default of ignoring SIGPIPE.
fn restore_sigpipe() {
    const SIGPIPE: i32 = 13;
    const SIG_DFL: usize = 0;
    unsafe extern "C" {
        fn signal(signum: i32, handler: usize) -> usize;
    }
    // SAFETY: restoring the default disposition of SIGPIPE before any thread is started.
    unsafe {
        signal(SIGPIPE, SIG_DFL);
    }
}
