//! End-to-end tests: real pebble, real PowerDNS, real DNS clients, the real `certkeeper` binary.
//!
//! `scripts/peers.sh start` brings the peers up on loopback; `.ci/run` does that first.

mod access;
mod accounts;
mod bad_input;
mod crash;
mod crash_steps;
mod dns01;
mod dns_flood;
mod dns_server;
mod fuzz;
mod hostile_ca;
mod hostile_orders;
mod issuance;
mod key_types;
mod limits;
mod load;
mod pebble_faults;
mod plugin_platform;
mod powerdns_plugin;
mod profiles;
mod providers;
mod renewal;
mod revocation;
mod sdk_readme;
mod service_files;
mod store_key;
mod store_upgrade;
mod support;
mod vendors;
