//! End-to-end tests: real pebble, real PowerDNS, real DNS clients, the real `certkeeper` binary.
//!
//! `scripts/peers.sh start` brings the peers up on loopback; `.ci/run` does that first.

mod bad_input;
mod dns01;
mod dns_server;
mod issuance;
mod plugin_platform;
mod powerdns_plugin;
mod support;
