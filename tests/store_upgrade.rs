//! A store written before challenge records were keyed under their order's id: the daemon
//! re-keys them at start, and an order's records are found again.

use certkeeper::store::{ChallengeRecord, Store};

use crate::support::*;

#[test]
fn challenge_records_with_old_random_ids_are_found_after_a_restart() {
    let _turn = pebble_turn();
    require_pebble();
    let mut daemon = Daemon::start(|dir| base_config(dir, ""));
    daemon.wait_for_account("main");
    let args = [
        "order",
        "create",
        "--account",
        "main",
        "-d",
        "old-keys.example.test",
        "--challenge",
        "dns-01",
        "--dns",
        "manual",
    ];
    let id = daemon.json(&args)["id"].as_str().expect("id").to_owned();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while daemon.json(&["order", "show", &id])["challenges"][0].is_null() {
        assert!(std::time::Instant::now() < deadline, "no challenge record");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    daemon.stop();

    // Give the record the random id older builds gave it.
    let store = Store::open(&daemon.dir.path().join("certkeeper.redb")).expect("store opens");
    let mut record = store.list::<ChallengeRecord>().expect("list").remove(0);
    let old_id = std::mem::replace(&mut record.id, "0123456789abcdef".into());
    store.rekey(&old_id, &record).expect("rekeyed");
    drop(store);

    daemon.restart();
    let shown = daemon.json(&["order", "show", &id]);
    assert_eq!(
        shown["challenges"][0]["value"],
        record.value.as_str(),
        "{shown}"
    );
    let new_id = shown["challenges"][0]["id"].as_str().unwrap_or_default();
    assert!(
        new_id.starts_with(&format!("{id}.")),
        "not re-keyed: {new_id}"
    );
}
