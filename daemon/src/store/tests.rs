use super::*;
use std::path::Path;

fn order(id: &str) -> OrderRecord {
    OrderRecord {
        id: id.into(),
        account_id: "acc".into(),
        url: "https://ca.test/order/1".into(),
        names: vec!["a.example.test".into()],
        status: OrderStatus::Pending,
        challenge: "http-01".into(),
        dns: None,
        csr_id: "csr".into(),
        certificate_name: None,
        profile: None,
        auto_finalize: false,
        certificate_id: None,
        error: None,
        hidden: false,
        created_at: now(),
        updated_at: now(),
    }
}

#[test]
fn records_survive_reopening_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.redb");
    Store::open(&path).unwrap().put(&order("o1")).unwrap();
    let store = Store::open(&path).unwrap();
    assert_eq!(
        store.require::<OrderRecord>("o1").unwrap().names,
        vec!["a.example.test"]
    );
}

#[test]
fn store_file_is_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.redb");
    Store::open(&path).unwrap();
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
}

#[test]
fn update_changes_one_record_and_missing_ids_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("s.redb")).unwrap();
    store.put(&order("o1")).unwrap();
    store
        .update::<OrderRecord>("o1", |o| o.status = OrderStatus::Ready)
        .unwrap();
    assert_eq!(
        store.require::<OrderRecord>("o1").unwrap().status,
        OrderStatus::Ready
    );
    let err = store.update::<OrderRecord>("nope", |_| {}).unwrap_err();
    assert_eq!(err.to_string(), "no order with id nope");
}

#[test]
fn refuses_a_store_from_a_newer_schema() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.redb");
    drop(Store::open(&path).unwrap());
    {
        let db = Database::create(&path).unwrap();
        let txn = db.begin_write().unwrap();
        txn.open_table(META)
            .unwrap()
            .insert("schema_version", SCHEMA_VERSION + 1)
            .unwrap();
        txn.commit().unwrap();
    }
    let err = Store::open(&path).unwrap_err().to_string();
    assert!(err.contains("newer than this build"), "{err}");
}

#[test]
fn a_file_that_is_not_a_store_is_refused_and_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.redb");
    std::fs::write(&path, b"not a database").unwrap();
    assert!(Store::open(&path).is_err());
    assert_eq!(std::fs::read(&path).unwrap(), b"not a database");
}

const FAKE_KEY_PEM: &str =
    "-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49\n-----END PRIVATE KEY-----\n";

fn csr(id: &str) -> CsrRecord {
    CsrRecord {
        id: id.into(),
        names: vec!["a.example.test".into()],
        key_type: "ecdsa-p256".into(),
        pem: "-----BEGIN CERTIFICATE REQUEST-----\n-----END CERTIFICATE REQUEST-----\n".into(),
        private_key_pem: Some(FAKE_KEY_PEM.into()),
        created_at: now(),
    }
}

fn store_key(dir: &Path, name: &str) -> StoreKey {
    let path = dir.join(name);
    StoreKey::generate(&path).unwrap();
    StoreKey::load(&path).unwrap()
}

fn holds(path: &Path, needle: &[u8]) -> bool {
    let bytes = std::fs::read(path).unwrap();
    bytes.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn with_a_key_no_private_key_reaches_the_file_in_plaintext() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.redb");
    let key = store_key(dir.path(), "k");
    let store = Store::open_with_key(&path, Some(key.clone())).unwrap();
    store.put(&csr("c1")).unwrap();
    store
        .update::<CsrRecord>("c1", |c| c.key_type = "x".into())
        .unwrap();
    store.put(&order("o1")).unwrap();
    drop(store);

    assert!(!holds(&path, b"PRIVATE KEY"));
    assert!(holds(&path, b"a.example.test"), "orders stay plaintext");
    let store = Store::open_with_key(&path, Some(key)).unwrap();
    let back = store.require::<CsrRecord>("c1").unwrap();
    assert_eq!(back.private_key_pem.as_deref(), Some(FAKE_KEY_PEM));
    assert_eq!(store.list::<CsrRecord>().unwrap().len(), 1);
}

#[test]
fn a_plaintext_store_is_sealed_when_first_opened_with_a_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.redb");
    let plain = Store::open(&path).unwrap();
    for n in 0..300 {
        plain.put(&csr(&format!("c{n}"))).unwrap();
    }
    drop(plain);
    assert!(holds(&path, b"PRIVATE KEY"));

    let key = store_key(dir.path(), "k");
    let mut store = Store::open_with_key(&path, Some(key)).unwrap();
    assert_eq!(store.seal_plaintext().unwrap(), 0, "all sealed on open");
    assert_eq!(store.list::<CsrRecord>().unwrap().len(), 300);
    drop(store);
    assert!(!holds(&path, b"PRIVATE KEY"));
}

#[test]
fn a_sealed_store_opened_without_its_key_is_refused_and_left_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.redb");
    let key = store_key(dir.path(), "k");
    let store = Store::open_with_key(&path, Some(key)).unwrap();
    store.put(&csr("c1")).unwrap();
    drop(store);
    let before = std::fs::read(&path).unwrap();

    let err = Store::open(&path).unwrap_err().to_string();
    assert!(
        err.contains("csr c1") && err.contains("store_key_file"),
        "{err}"
    );
    assert!(err.contains(&path.display().to_string()), "{err}");
    assert_eq!(std::fs::read(&path).unwrap(), before);
}

#[test]
fn a_sealed_store_opened_with_another_key_is_refused_and_left_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.redb");
    let store = Store::open_with_key(&path, Some(store_key(dir.path(), "k1"))).unwrap();
    store.put(&csr("c1")).unwrap();
    drop(store);
    let before = std::fs::read(&path).unwrap();

    let other = store_key(dir.path(), "k2");
    let err = Store::open_with_key(&path, Some(other))
        .unwrap_err()
        .to_string();
    assert!(err.contains("csr c1") && err.contains("k2"), "{err}");
    assert_eq!(std::fs::read(&path).unwrap(), before);
}

#[test]
fn a_prefix_listing_returns_only_the_ids_under_the_prefix() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("s.redb")).unwrap();
    for id in ["a.1", "a.2", "a", "ab.1", "b.1", "0.1"] {
        store.put(&order(id)).unwrap();
    }
    let ids: Vec<String> = store
        .list_prefix::<OrderRecord>("a.")
        .unwrap()
        .into_iter()
        .map(|o| o.id)
        .collect();
    assert_eq!(ids, ["a.1", "a.2"]);
    assert!(store.list_prefix::<OrderRecord>("c.").unwrap().is_empty());
}

#[test]
fn rekeying_moves_a_record_and_leaves_nothing_under_the_old_id() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("s.redb")).unwrap();
    store.put(&order("old")).unwrap();
    store.rekey("old", &order("o.new")).unwrap();
    assert!(store.get::<OrderRecord>("old").unwrap().is_none());
    assert_eq!(store.require::<OrderRecord>("o.new").unwrap().id, "o.new");
}

#[test]
fn put_all_stores_every_record_and_replaces_existing_ones() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("s.redb")).unwrap();
    store.put(&order("o1")).unwrap();
    let mut replaced = order("o1");
    replaced.names = vec!["b.example.test".into()];
    store.put_all(&[replaced, order("o2")]).unwrap();
    let ids: Vec<String> = store
        .list::<OrderRecord>()
        .unwrap()
        .into_iter()
        .map(|o| o.id)
        .collect();
    assert_eq!(ids, ["o1", "o2"]);
    assert_eq!(
        store.require::<OrderRecord>("o1").unwrap().names,
        vec!["b.example.test"]
    );
}
