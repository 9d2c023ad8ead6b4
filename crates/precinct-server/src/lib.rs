//! Precinct's faces: the JSON API, the HTML pages, the listener that
//! terminates TLS and decides each request's channel, and the department
//! PKI. Handlers are thin: they parse, call one use-case in `service`, and
//! render.

pub mod api;
pub mod app;
pub mod auth;
pub mod config;
pub mod context;
pub mod listener;
pub mod metrics;
pub mod pki;
pub mod problem;
pub mod service;
pub mod state;
pub mod ui;

pub use listener::{serve, serve_on, ServeError};
