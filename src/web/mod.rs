//! The exporter's HTTP surface: the routes ([`routes`]), and how they are served
//! ([`server`]): TLS ([`tls`]), basic auth ([`basic_auth`]) and a rate limit
//! ([`rate_limit`]), all configured by the exporter-toolkit web config file
//! ([`web_config`]).

pub mod basic_auth;
pub mod rate_limit;
pub mod routes;
pub mod server;
pub mod tls;
pub mod web_config;
