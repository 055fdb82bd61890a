//! End-to-end tests: real pebble, real PowerDNS, real DNS clients, the real `certkeeper` binary.
//!
//! `scripts/peers.sh start` brings the peers up on loopback; `.ci/run` does that first.

mod accounts;
mod bad_input;
mod dns01;
mod dns_server;
mod issuance;
mod key_types;
mod powerdns_plugin;
mod profiles;
mod revocation;
mod support;
mod vendors;
