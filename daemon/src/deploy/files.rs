//! Atomic file replacement: a temporary file in the target's own directory gets the bytes, the
//! mode and the owner, is fsynced, renamed over the target, and the directory is fsynced, so a
//! reader sees the old file or the new one and a crash leaves no half-written key.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// A deploy file could not be written; names the path and the step.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    /// A filesystem step failed.
    #[error("deploy {}: {step}: {source}", path.display())]
    Io {
        /// The target file.
        path: PathBuf,
        /// What was being done.
        step: &'static str,
        /// Why.
        source: std::io::Error,
    },
    /// An owner or group name is unknown on this system.
    #[error("deploy {}: no {kind} called \"{name}\" in /etc/{kind_file}", path.display())]
    UnknownId {
        /// The target file.
        path: PathBuf,
        /// `user` or `group`.
        kind: &'static str,
        /// `passwd` or `group`.
        kind_file: &'static str,
        /// The name asked for.
        name: String,
    },
}

/// A PEM chain split into the leaf and the rest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pem {
    /// The first certificate.
    pub leaf: String,
    /// Every certificate after it.
    pub chain: String,
}

impl Pem {
    /// Split `chain_pem` after its first `END CERTIFICATE` line.
    pub fn split(chain_pem: &str) -> Self {
        const END: &str = "-----END CERTIFICATE-----";
        match chain_pem.find(END) {
            Some(at) => {
                let cut = at + END.len();
                let rest = chain_pem[cut..].trim_start_matches(['\r', '\n']);
                Self {
                    leaf: format!("{}\n", &chain_pem[..cut]),
                    chain: rest.to_owned(),
                }
            }
            None => Self {
                leaf: chain_pem.to_owned(),
                chain: String::new(),
            },
        }
    }
}

/// Replace `path` with `bytes` atomically, with `mode` and optionally `owner`/`group` (names or
/// numeric ids).
pub fn write_atomically(
    path: &Path,
    bytes: &[u8],
    mode: u32,
    owner: Option<&str>,
    group: Option<&str>,
) -> Result<(), FileError> {
    let io = |step| {
        move |source| FileError::Io {
            path: path.to_owned(),
            step,
            source,
        }
    };
    let uid = owner
        .map(|o| resolve(path, o, "user", "passwd"))
        .transpose()?;
    let gid = group
        .map(|g| resolve(path, g, "group", "group"))
        .transpose()?;
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{file_name}.{}.tmp", crate::store::new_id()));

    std::fs::create_dir_all(dir).map_err(io("create directory"))?;
    let result = (|| {
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(io("create temporary file"))?;
        file.write_all(bytes).map_err(io("write"))?;
        std::os::unix::fs::fchown(&file, uid, gid).map_err(io("chown"))?;
        file.set_permissions(std::fs::Permissions::from_mode(mode))
            .map_err(io("chmod"))?;
        file.sync_all().map_err(io("fsync"))?;
        std::fs::rename(&tmp, path).map_err(io("rename"))?;
        File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(io("fsync directory"))
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

fn resolve(
    path: &Path,
    name: &str,
    kind: &'static str,
    file: &'static str,
) -> Result<u32, FileError> {
    if let Ok(id) = name.parse::<u32>() {
        return Ok(id);
    }
    let table = std::fs::read_to_string(format!("/etc/{file}")).unwrap_or_default();
    table
        .lines()
        .map(|line| line.split(':').collect::<Vec<_>>())
        .find(|fields| fields.first() == Some(&name))
        .and_then(|fields| fields.get(2)?.parse().ok())
        .ok_or_else(|| FileError::UnknownId {
            path: path.to_owned(),
            kind,
            kind_file: file,
            name: name.to_owned(),
        })
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::MetadataExt;

    use super::*;

    #[test]
    fn replaces_a_file_with_the_mode_and_leaves_no_temporary_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("key.pem");
        std::fs::write(&path, "old").expect("seed");
        write_atomically(&path, b"new", 0o640, Some("0"), Some("root")).expect("written");
        assert_eq!(std::fs::read_to_string(&path).expect("read"), "new");
        let meta = std::fs::metadata(&path).expect("stat");
        assert_eq!(meta.mode() & 0o777, 0o640);
        assert_eq!(std::fs::read_dir(dir.path()).expect("ls").count(), 1);
    }

    #[test]
    fn an_unknown_owner_is_named_and_the_old_file_stays() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("cert.pem");
        std::fs::write(&path, "old").expect("seed");
        let error = write_atomically(&path, b"new", 0o644, Some("no-such-user-xyz"), None)
            .expect_err("unknown user");
        assert!(error.to_string().contains("no-such-user-xyz"), "{error}");
        assert_eq!(std::fs::read_to_string(&path).expect("read"), "old");
    }

    #[test]
    fn a_chain_splits_after_the_leaf() {
        let pem = "-----BEGIN CERTIFICATE-----\nA\n-----END CERTIFICATE-----\n\
                   -----BEGIN CERTIFICATE-----\nB\n-----END CERTIFICATE-----\n";
        let split = Pem::split(pem);
        assert_eq!(
            split.leaf,
            "-----BEGIN CERTIFICATE-----\nA\n-----END CERTIFICATE-----\n"
        );
        assert!(split.chain.starts_with("-----BEGIN CERTIFICATE-----\nB"));
    }
}
