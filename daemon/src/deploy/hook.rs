//! Reload hooks: a program with arguments (a shell only when asked), killed after its timeout,
//! its output logged line by line.

use std::process::Stdio;
use std::time::Duration;

use tokio::process::Command;
use tracing::{info, warn};

use super::HookConfig;

/// A hook did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum HookError {
    /// The program could not be started.
    #[error("hook `{command}`: cannot start: {source}")]
    Spawn {
        /// The command.
        command: String,
        /// Why.
        source: std::io::Error,
    },
    /// It ran longer than its timeout and was killed.
    #[error("hook `{command}`: killed after {secs} s")]
    Timeout {
        /// The command.
        command: String,
        /// The timeout.
        secs: u64,
    },
    /// It exited unsuccessfully.
    #[error("hook `{command}`: {status}")]
    Failed {
        /// The command.
        command: String,
        /// Its exit status.
        status: std::process::ExitStatus,
    },
}

/// A hook's process group, killed whole when dropped before the hook finished: on its timeout,
/// or when the daemon stops while it runs.
struct ProcessGroup(Option<u32>);

impl ProcessGroup {
    /// The hook finished on its own: leave whatever it deliberately left running.
    fn release(mut self) {
        self.0 = None;
    }
}

impl Drop for ProcessGroup {
    fn drop(&mut self) {
        unsafe extern "C" {
            fn kill(pid: i32, signal: i32) -> i32;
        }
        const SIGKILL: i32 = 9;
        if let Some(pgid) = self.0.and_then(|id| i32::try_from(id).ok()) {
            // SAFETY: kill(2) on a negative pid signals that process group; the group is the
            // hook's own (process_group(0) made the hook its leader) and nothing else's.
            unsafe {
                kill(-pgid, SIGKILL);
            }
        }
    }
}

/// Run `hook` for certificate `certificate`, logging what it printed.
pub async fn run_hook(certificate: &str, hook: &HookConfig) -> Result<(), HookError> {
    let command = hook.command.get_ref().clone();
    let mut cmd = if hook.shell {
        let mut c = Command::new("/bin/sh");
        c.arg("-c")
            .arg(&command)
            .arg("certkeeper-hook")
            .args(&hook.args);
        c
    } else {
        let mut c = Command::new(&command);
        c.args(&hook.args);
        c
    };
    cmd.env("CERTKEEPER_CERTIFICATE", certificate)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        // Its own process group, so a timeout (or the daemon stopping) ends what it started too.
        .process_group(0);
    let child = cmd.spawn().map_err(|source| HookError::Spawn {
        command: command.clone(),
        source,
    })?;
    let group = ProcessGroup(child.id());

    let limit = Duration::from_secs(hook.timeout_secs);
    let output = match tokio::time::timeout(limit, child.wait_with_output()).await {
        Ok(Ok(output)) => output,
        Ok(Err(source)) => return Err(HookError::Spawn { command, source }),
        Err(_) => {
            crate::metrics::hook_run(certificate, "timeout");
            return Err(HookError::Timeout {
                command,
                secs: hook.timeout_secs,
            });
        }
    };
    group.release();
    log_output(certificate, &command, &output.stdout, &output.stderr);
    if output.status.success() {
        crate::metrics::hook_run(certificate, "ok");
        info!(certificate, hook = %command, "deploy hook succeeded");
        Ok(())
    } else {
        crate::metrics::hook_run(certificate, "error");
        Err(HookError::Failed {
            command,
            status: output.status,
        })
    }
}

fn log_output(certificate: &str, command: &str, stdout: &[u8], stderr: &[u8]) {
    for line in String::from_utf8_lossy(stdout).lines() {
        info!(certificate, hook = %command, stream = "stdout", "{line}");
    }
    for line in String::from_utf8_lossy(stderr).lines() {
        warn!(certificate, hook = %command, stream = "stderr", "{line}");
    }
}

#[cfg(test)]
mod tests {
    use toml::Spanned;

    use super::*;

    fn hook(command: &str, args: &[&str], shell: bool, timeout_secs: u64) -> HookConfig {
        HookConfig {
            command: Spanned::new(0..0, command.to_owned()),
            args: args.iter().map(|a| (*a).to_owned()).collect(),
            shell,
            timeout_secs,
        }
    }

    #[tokio::test]
    async fn arguments_reach_the_program_without_a_shell() {
        let dir = tempfile::tempdir().expect("tempdir");
        let out = dir.path().join("out");
        let target = out.to_str().expect("utf-8 path");
        run_hook("c", &hook("/usr/bin/touch", &[target], false, 5))
            .await
            .expect("ran");
        assert!(out.exists());
        let literal = hook("/bin/echo", &["$(touch /nonexistent)"], false, 5);
        run_hook("c", &literal).await.expect("echo ran");
    }

    #[tokio::test]
    async fn a_hook_that_outlives_its_timeout_is_killed_and_reported() {
        let error = run_hook("c", &hook("/bin/sleep", &["30"], false, 1))
            .await
            .expect_err("timed out");
        assert!(
            matches!(error, HookError::Timeout { secs: 1, .. }),
            "{error}"
        );
    }

    /// Regression: only the shell was killed at the timeout; what it started ran on, orphaned.
    #[tokio::test]
    async fn a_timed_out_hook_takes_what_it_started_with_it() {
        let dir = tempfile::tempdir().unwrap();
        let pid_file = dir.path().join("pid");
        let script = format!("sleep 300 & echo $! > {}; wait", pid_file.display());
        run_hook("c", &hook(&script, &[], true, 1))
            .await
            .expect_err("timed out");
        let pid = std::fs::read_to_string(&pid_file)
            .unwrap()
            .trim()
            .to_owned();
        tokio::time::sleep(Duration::from_millis(200)).await;
        let state = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let alive = state.split_whitespace().nth(2).is_some_and(|s| s != "Z");
        assert!(
            !alive,
            "the hook's child {pid} outlived the timeout: {state}"
        );
    }

    #[tokio::test]
    async fn a_failing_hook_names_its_command() {
        let error = run_hook("c", &hook("exit 3", &[], true, 5))
            .await
            .expect_err("fails");
        assert!(error.to_string().contains("exit 3"), "{error}");
    }
}
