use super::*;

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
