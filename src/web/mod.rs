//! The exporter's HTTP surface: the routes ([`routes`]), and how they are served
//! ([`server`]): TLS ([`tls`]), basic auth ([`basic_auth`]), both configured by the
//! exporter-toolkit web config file ([`web_config`]).

pub mod basic_auth;
pub mod routes;
pub mod server;
pub mod tls;
pub mod web_config;
