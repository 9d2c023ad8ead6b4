//! Precinct's one integration-test binary. Every test starts a real server
//! on port 0 and talks HTTP (or TLS with client certificates) to it, or
//! drives the storage layer on both engines through `dbtest!`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

mod audit;
mod auditor;
mod auth;
mod browser;
mod browser_cases;
mod browser_offsite;
mod cases;
mod channel;
mod cli;
mod demo;
mod input;
mod offsite;
mod platform;
mod storage;
