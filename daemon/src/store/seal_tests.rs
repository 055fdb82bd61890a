use std::os::unix::fs::PermissionsExt;

use super::*;

fn key_in(dir: &Path, name: &str) -> StoreKey {
    let path = dir.join(name);
    StoreKey::generate(&path).unwrap();
    StoreKey::load(&path).unwrap()
}

#[test]
fn a_sealed_value_opens_with_its_key_kind_and_id() {
    let dir = tempfile::tempdir().unwrap();
    let key = key_in(dir.path(), "k");
    let sealed = key.seal("csr", "c1", b"{\"secret\":1}");
    assert!(is_sealed(&sealed));
    assert!(!sealed.windows(6).any(|w| w == b"secret"));
    let plain = unseal(Some(&key), "csr", "c1", &sealed).unwrap();
    assert_eq!(plain, b"{\"secret\":1}");
}

#[test]
fn each_write_uses_a_fresh_nonce() {
    let dir = tempfile::tempdir().unwrap();
    let key = key_in(dir.path(), "k");
    assert_ne!(key.seal("csr", "c1", b"{}"), key.seal("csr", "c1", b"{}"));
}

#[test]
fn another_key_does_not_open_it_and_the_error_names_record_and_key_file() {
    let dir = tempfile::tempdir().unwrap();
    let sealed = key_in(dir.path(), "k1").seal("certificate", "c1", b"{}");
    let other = key_in(dir.path(), "k2");
    let err = unseal(Some(&other), "certificate", "c1", &sealed).unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, SealError::WrongKey { .. }), "{text}");
    assert!(text.contains("certificate c1"), "{text}");
    assert!(
        text.contains(&dir.path().join("k2").display().to_string()),
        "{text}"
    );
}

#[test]
fn a_value_moved_to_another_id_or_kind_does_not_open() {
    let dir = tempfile::tempdir().unwrap();
    let key = key_in(dir.path(), "k");
    let sealed = key.seal("csr", "c1", b"{}");
    assert!(unseal(Some(&key), "csr", "c2", &sealed).is_err());
    assert!(unseal(Some(&key), "certificate", "c1", &sealed).is_err());
}

#[test]
fn any_tampered_byte_is_detected() {
    let dir = tempfile::tempdir().unwrap();
    let key = key_in(dir.path(), "k");
    let sealed = key.seal("account", "a1", b"{\"k\":\"v\"}");
    for at in MAGIC.len() + 1..sealed.len() {
        let mut bad = sealed.clone();
        bad[at] ^= 0x01;
        assert!(
            unseal(Some(&key), "account", "a1", &bad).is_err(),
            "byte {at}"
        );
    }
    let cut = &sealed[..sealed.len() - 1];
    assert!(unseal(Some(&key), "account", "a1", cut).is_err());
}

#[test]
fn plaintext_records_from_before_read_with_or_without_a_key() {
    let dir = tempfile::tempdir().unwrap();
    let key = key_in(dir.path(), "k");
    let legacy = b"{\"id\":\"c1\"}";
    assert_eq!(unseal(Some(&key), "csr", "c1", legacy).unwrap(), legacy);
    assert_eq!(unseal(None, "csr", "c1", legacy).unwrap(), legacy);
}

#[test]
fn a_sealed_value_without_a_key_is_refused_naming_the_record() {
    let dir = tempfile::tempdir().unwrap();
    let sealed = key_in(dir.path(), "k").seal("account", "a1", b"{}");
    let err = unseal(None, "account", "a1", &sealed)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("account a1") && err.contains("store_key_file"),
        "{err}"
    );
}

#[test]
fn a_newer_sealed_format_is_refused_not_misread() {
    let dir = tempfile::tempdir().unwrap();
    let key = key_in(dir.path(), "k");
    let mut sealed = key.seal("csr", "c1", b"{}");
    sealed[MAGIC.len()] = VERSION + 1;
    let err = unseal(Some(&key), "csr", "c1", &sealed).unwrap_err();
    assert!(matches!(err, SealError::UnknownVersion { version: 2, .. }));
}

#[test]
fn keygen_writes_an_owner_only_key_and_never_overwrites() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.key");
    StoreKey::generate(&path).unwrap();
    let meta = std::fs::metadata(&path).unwrap();
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    assert_eq!(meta.len(), KEY_LEN as u64);
    let before = std::fs::read(&path).unwrap();

    let err = StoreKey::generate(&path).unwrap_err();
    assert!(matches!(err, KeyFileError::Exists { .. }), "{err}");
    assert!(err.to_string().contains(&path.display().to_string()));
    assert_eq!(std::fs::read(&path).unwrap(), before);
}

#[test]
fn a_key_file_others_can_read_is_refused_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.key");
    StoreKey::generate(&path).unwrap();
    for mode in [0o640, 0o604, 0o620] {
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        let err = StoreKey::load(&path).unwrap_err();
        assert!(
            matches!(err, KeyFileError::TooOpen { .. }),
            "{mode:o}: {err}"
        );
        assert!(err.to_string().contains(&path.display().to_string()));
    }
}

#[test]
fn a_key_file_of_the_wrong_length_or_missing_is_refused_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.key");
    for len in [0, 16, 31, 33, 64] {
        std::fs::write(&path, vec![7u8; len]).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        let err = StoreKey::load(&path).unwrap_err();
        let fits = match err {
            KeyFileError::WrongLength { .. } => len < KEY_LEN,
            KeyFileError::Unfit(_) => err.to_string().contains("larger than 32 bytes"),
            _ => false,
        };
        assert!(fits, "{len}: {err}");
        assert!(err.to_string().contains(&path.display().to_string()));
    }
    let missing = dir.path().join("absent.key");
    let err = StoreKey::load(&missing).unwrap_err().to_string();
    assert!(err.contains(&missing.display().to_string()), "{err}");
}

#[test]
fn the_debug_form_of_a_key_shows_only_its_path() {
    let dir = tempfile::tempdir().unwrap();
    let key = key_in(dir.path(), "k");
    let shown = format!("{key:?}");
    assert!(shown.contains("path") && !shown.contains("key:"), "{shown}");
}

#[test]
fn an_owner_only_fifo_is_refused_without_blocking_on_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.key");
    let made = std::process::Command::new("mkfifo")
        .args(["-m", "600"])
        .arg(&path)
        .status()
        .unwrap();
    assert!(made.success());
    let err = StoreKey::load(&path).unwrap_err().to_string();
    assert!(err.contains("store.key: not a regular file"), "{err}");
}
