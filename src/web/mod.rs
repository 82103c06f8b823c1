//! The exporter's HTTP surface: the routes ([`routes`]) with the usage API
//! ([`usage_api`]) and the page over it ([`page`]), and how they are served
//! ([`server`]): TLS ([`tls`]), basic auth ([`basic_auth`]) and a rate limit
//! ([`rate_limit`]), all configured by the exporter-toolkit web config file
//! ([`web_config`]).

pub mod basic_auth;
pub mod page;
pub mod rate_limit;
pub mod routes;
pub mod server;
pub mod tls;
pub mod usage_api;
pub mod web_config;
