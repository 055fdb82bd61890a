//! Files the CLI sends to the daemon: refused early, naming the file, when the daemon would not
//! read them.

use std::path::Path;

use crate::admin::MAX_REQUEST_BODY;

/// Why a file cannot be sent to the daemon.
#[derive(Debug, thiserror::Error)]
pub(super) enum UploadError {
    /// The file alone is larger than the admin socket's request limit.
    #[error(
        "{}: {bytes} bytes is over the admin socket's request limit of {limit} bytes (1 MiB); \
         a CSR is a few kilobytes, is this the right file?",
        path.display()
    )]
    TooLarge {
        /// The file.
        path: std::path::PathBuf,
        /// Its size.
        bytes: usize,
        /// [`MAX_REQUEST_BODY`].
        limit: usize,
    },
}

/// Refuses `path`, of `bytes` bytes, when it cannot fit in one admin request.
pub(super) fn check_file_size(path: &Path, bytes: usize) -> Result<(), UploadError> {
    if bytes > MAX_REQUEST_BODY {
        return Err(UploadError::TooLarge {
            path: path.to_owned(),
            bytes,
            limit: MAX_REQUEST_BODY,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_over_the_limit_is_refused_naming_it_its_size_and_the_limit() {
        let err = check_file_size(Path::new("/tmp/huge.csr"), 4_000_000).unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("/tmp/huge.csr")
                && text.contains("4000000 bytes")
                && text.contains("1048576"),
            "{text}"
        );
    }

    #[test]
    fn a_file_at_the_limit_is_accepted() {
        assert!(check_file_size(Path::new("a.csr"), MAX_REQUEST_BODY).is_ok());
    }
}
