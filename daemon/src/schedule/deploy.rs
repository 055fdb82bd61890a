//! The scheduler's deploy step: write a certificate to its targets once per issuance (and again
//! when a file went missing or was changed), then run the hooks until they succeed.

use tracing::{error, info, warn};

use super::Scheduler;
use super::snapshot::Snapshot;
use crate::config::Config;
use crate::deploy::DeployTarget;

impl Scheduler {
    /// Deploy the newest certificate called `name` if its targets do not hold it yet, and
    /// retry hooks that failed before. Failures are logged; the next pass tries again.
    pub(super) async fn deploy(
        &self,
        config: &Config,
        name: &str,
        verify_files: bool,
        snapshot: &Snapshot,
    ) {
        let Some(cert) = config
            .certificates
            .iter()
            .find(|c| c.name.get_ref() == name)
        else {
            return;
        };
        if cert.deploy.is_empty() {
            return;
        }
        let Ok(Some(latest)) = self.by_id(snapshot.latest(name)) else {
            return;
        };
        let Ok(record) = self.record(name) else {
            return;
        };
        let mut deployed = record.deployed.clone();
        let mut hooks_pending = record.hooks_pending;
        let stale = deployed.as_deref() != Some(latest.id.as_str())
            || (verify_files && !cert.deploy.iter().all(|t| t.is_current(&latest)));
        if stale {
            if let Err(error) = write_all(&cert.deploy, &latest) {
                error!(%error, "deploy failed; retrying on the next pass");
                crate::metrics::deploy_failure(name);
                let failed = Some(format!("deploy failed: {error}"));
                // N.B. the targets no longer hold one whole deployment: forget it, so every
                // pass writes them again, not only the passes that check the files.
                self.save_deploy(name, None, record.hooks_pending, failed)
                    .await;
                return;
            }
            info!(certificate_id = %latest.id, targets = cert.deploy.len(), "certificate deployed");
            deployed = Some(latest.id.clone());
            hooks_pending = cert.deploy.iter().any(|t| !t.hooks.is_empty());
        }
        let mut failed = None;
        if hooks_pending {
            failed = run_hooks(name, &cert.deploy)
                .await
                .map(|e| format!("deploy hook failed (the files are in place): {e}"));
            hooks_pending = failed.is_some();
        }
        self.save_deploy(name, deployed, hooks_pending, failed)
            .await;
    }

    /// Write back only the deploy fields: hooks may have run for a while, and the rest of the
    /// record may have changed meanwhile.
    async fn save_deploy(
        &self,
        name: &str,
        deployed: Option<String>,
        hooks_pending: bool,
        deploy_error: Option<String>,
    ) {
        let _records = self.records.lock().await;
        let mut record = match self.record(name) {
            Ok(record) => record,
            Err(error) => return error!(%error, "cannot read the deploy state"),
        };
        record.deployed = deployed;
        record.hooks_pending = hooks_pending;
        record.deploy_error = deploy_error;
        if let Err(error) = self.save(record) {
            error!(%error, "cannot store the deploy state");
        }
    }
}

fn write_all(
    targets: &[DeployTarget],
    cert: &crate::store::CertificateRecord,
) -> Result<(), crate::deploy::DeployError> {
    targets.iter().try_for_each(|target| target.write(cert))
}

/// Run every hook of every target; the last failure, if any failed.
async fn run_hooks(name: &str, targets: &[DeployTarget]) -> Option<String> {
    let mut failed = None;
    for hook in targets.iter().flat_map(|t| &t.hooks) {
        if let Err(error) = crate::deploy::run_hook(name, hook).await {
            warn!(%error, "deploy hook failed; the files are in place and it will run again");
            failed = Some(error.to_string());
        }
    }
    failed
}
