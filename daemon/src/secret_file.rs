//! Reading small secret files (store key, EAB HMAC key, vendor API key) with a bound: only a
//! regular file is read, and never more than one byte past the longest value it may hold, so a
//! path such as `/dev/zero` or a multi-gigabyte file is refused instead of filling memory.

use std::io::Read;
use std::path::{Path, PathBuf};

/// Why a secret file was not read. Never holds the file's contents.
#[derive(Debug, thiserror::Error)]
pub enum SecretFileError {
    /// Opening or reading failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The system's reason.
        source: std::io::Error,
    },
    /// A device, FIFO, directory or socket rather than a regular file.
    #[error("{}: not a regular file", path.display())]
    NotRegular {
        /// The file.
        path: PathBuf,
    },
    /// More bytes than the value may hold.
    #[error("{}: larger than {max} bytes", path.display())]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// The most accepted.
        max: usize,
    },
}

/// The bytes of the regular file at `path`, refusing one longer than `max` bytes; at most
/// `max + 1` bytes are read.
pub fn read_bounded(path: &Path, max: usize) -> Result<Vec<u8>, SecretFileError> {
    let io = |source| SecretFileError::Io {
        path: path.to_owned(),
        source,
    };
    let not_regular = || SecretFileError::NotRegular {
        path: path.to_owned(),
    };
    // Checked before opening, as opening a FIFO blocks, and again on the opened file, so a path
    // swapped in between cannot smuggle a device in.
    if !std::fs::metadata(path).map_err(io)?.is_file() {
        return Err(not_regular());
    }
    let file = std::fs::File::open(path).map_err(io)?;
    if !file.metadata().map_err(io)?.is_file() {
        return Err(not_regular());
    }
    let mut bytes = Vec::with_capacity(max.min(4096) + 1);
    let limit = u64::try_from(max).unwrap_or(u64::MAX).saturating_add(1);
    file.take(limit).read_to_end(&mut bytes).map_err(io)?;
    if bytes.len() > max {
        let path = path.to_owned();
        return Err(SecretFileError::TooLarge { path, max });
    }
    Ok(bytes)
}

/// The text key in `path` with its ends trimmed: at most `max` bytes of UTF-8, not empty, and
/// holding no whitespace or control character inside (a second line would be sent as part of
/// the key).
pub fn read_text_key(path: &Path, max: usize) -> Result<String, String> {
    let bytes = read_bounded(path, max).map_err(|e| reason_of(&e))?;
    let text = String::from_utf8(bytes).map_err(|_| "not UTF-8 text".to_owned())?;
    let key = text.trim();
    if key.is_empty() {
        return Err("the file is empty".into());
    }
    if key.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("the key has whitespace or control characters inside (two lines?)".into());
    }
    Ok(key.to_owned())
}

/// The error's reason without the path, for callers whose own error names the file.
fn reason_of(error: &SecretFileError) -> String {
    match error {
        SecretFileError::Io { source, .. } => source.to_string(),
        SecretFileError::NotRegular { .. } => "not a regular file".into(),
        SecretFileError::TooLarge { max, .. } => format!("larger than {max} bytes"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_character_device_is_refused_without_reading_it() {
        let err = read_bounded(Path::new("/dev/zero"), 32).unwrap_err();
        assert!(matches!(err, SecretFileError::NotRegular { .. }), "{err}");
        assert_eq!(err.to_string(), "/dev/zero: not a regular file");
    }

    #[test]
    fn a_file_one_byte_past_the_bound_is_refused_and_one_at_it_is_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k");
        std::fs::write(&path, [7u8; 33]).unwrap();
        let err = read_bounded(&path, 32).unwrap_err().to_string();
        assert!(err.ends_with("k: larger than 32 bytes"), "{err}");
        std::fs::write(&path, [7u8; 32]).unwrap();
        assert_eq!(read_bounded(&path, 32).unwrap(), [7u8; 32]);
    }

    #[test]
    fn a_text_key_is_trimmed_and_one_with_an_inner_newline_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("api");
        std::fs::write(&path, "  abc123\n").unwrap();
        assert_eq!(read_text_key(&path, 4096).unwrap(), "abc123");
        std::fs::write(&path, "abc\n123\n").unwrap();
        let err = read_text_key(&path, 4096).unwrap_err();
        assert!(err.contains("inside") && !err.contains("abc"), "{err}");
        std::fs::write(&path, "x".repeat(4097)).unwrap();
        assert!(
            read_text_key(&path, 4096)
                .unwrap_err()
                .contains("larger than 4096")
        );
    }
}
