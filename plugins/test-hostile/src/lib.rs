//! A test plugin that misbehaves on request, so the host's sandbox can be shown to contain it.
//!
//! The provider instance's `mode` setting picks what every operation does:
//!
//! | mode | behaviour |
//! |---|---|
//! | `ok` (default) | succeeds; `find_zone` answers the part of the name from the generation |
//! |  | marker on (`x.gen-aaaa.gen-bbbb.test.` → `gen-aaaa.gen-bbbb.test.`) |
//! | `loop` | spins forever |
//! | `alloc` | allocates memory until it gets no more |
//! | `trap` | panics, which aborts the instance with a trap |
//! | `forbidden-host` | sends a request to the `url` setting, which should be outside `allowed_hosts` |
//! | `garbage` | answers nonsense: a zone that does not hold the name, an oversized error message |
//! | `sleep` | sleeps an hour in a WASI clock wait, where the epoch cannot interrupt it |
//! | `slow` | sleeps `delay_ms` (default 100) milliseconds, then behaves as `ok` |
//!
//! Its version carries a generation marker (`gen-aaaa`) that the hot-reload tests rewrite in the
//! built file, to tell two builds apart without building twice.
//!
//! It lives in `plugins/` so the build script builds it, but the script copies it to
//! `target/test-plugins/`, never to the shipped `target/plugins/`.

use std::time::Duration;

use certkeeper_plugin_sdk::http::Client;
use certkeeper_plugin_sdk::{DnsProvider, ProviderError, config, export_dns_provider};

/// The marker the hot-reload tests rewrite; both uses below must stay literal copies of it.
macro_rules! generation {
    () => {
        "gen-aaaa"
    };
}

struct Hostile;

export_dns_provider!(Hostile);

impl DnsProvider for Hostile {
    const NAME: &'static str = "test-hostile";
    const VERSION: &'static str = concat!("0.1.0+", generation!());

    fn present(_fqdn: &str, _value: &str, _ttl: u32) -> Result<(), ProviderError> {
        misbehave().map(drop)
    }

    fn cleanup(_fqdn: &str, _value: &str) -> Result<(), ProviderError> {
        misbehave().map(drop)
    }

    fn find_zone(fqdn: &str) -> Result<String, ProviderError> {
        match misbehave()? {
            // N.B. black_box: with a constant needle the optimiser precomputes the search from
            // the marker's bytes, and a rewritten marker would then never be found.
            Answer::Normal => match fqdn.find(std::hint::black_box(generation!())) {
                Some(at) => Ok(fqdn[at..].to_owned()),
                None => Err(ProviderError::zone_not_found(concat!("no ", generation!()))),
            },
            Answer::Garbage => Ok(format!("\u{0}not a zone of {fqdn}")),
        }
    }

    fn test_connection() -> Result<(), ProviderError> {
        match misbehave()? {
            Answer::Normal => Ok(()),
            Answer::Garbage => Err(ProviderError::other("x".repeat(1 << 20))),
        }
    }
}

/// What a mode that returns at all wants the operation to answer.
enum Answer {
    Normal,
    Garbage,
}

/// Does what the `mode` setting says; returns only for the modes that return.
fn misbehave() -> Result<Answer, ProviderError> {
    match config::get_or("mode", "ok").as_str() {
        "ok" => Ok(Answer::Normal),
        "loop" => spin_forever(),
        "alloc" => allocate_forever(),
        "trap" => panic!("test-hostile: trapping on purpose"),
        "forbidden-host" => {
            let url = config::require("url")?;
            Client::new(&url).get("/").map(|_| Answer::Normal)
        }
        "garbage" => Ok(Answer::Garbage),
        "sleep" => {
            std::thread::sleep(Duration::from_secs(3600));
            Ok(Answer::Normal)
        }
        "slow" => {
            let delay: u64 = config::get_or("delay_ms", "100").parse().unwrap_or(100);
            std::thread::sleep(Duration::from_millis(delay));
            Ok(Answer::Normal)
        }
        other => Err(ProviderError::bad_config(format!("unknown mode {other:?}"))),
    }
}

fn spin_forever() -> ! {
    let mut turns = 0u64;
    loop {
        turns = std::hint::black_box(turns.wrapping_add(1));
    }
}

fn allocate_forever() -> ! {
    let mut hoard: Vec<Vec<u8>> = Vec::new();
    loop {
        hoard.push(vec![1; 1 << 20]);
        std::hint::black_box(&hoard);
    }
}
