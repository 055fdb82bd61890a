//! certkeeper: an ACME certificate manager that runs unattended.
//!
//! The binary is both the daemon (`certkeeper run`) and the CLI that talks to it over the admin
//! socket. Each part of the design has its own module; `daemon` wires them together.

pub mod acme;
pub mod admin;
pub mod challenge;
pub mod cli;
pub mod config;
pub mod crashpoint;
pub mod daemon;
pub mod deploy;
pub mod dns;
pub mod http01;
pub mod metrics;
pub mod plugin;
pub mod schedule;
pub mod secret_file;
pub mod store;
