//! What a scrape answers: the metric families declared as data ([`families`]), the
//! exporter's own health ([`self_metrics`], with the standard `process_*` metrics of
//! [`process_metrics`]), which format and encoding the scraper wants
//! ([`negotiate`]), the bytes ([`render`], from each pod's label text written once by
//! the pod index), and the shared, cached readings they are
//! rendered from ([`scraper`]).

pub mod deflate;
pub mod families;
pub mod gzip;
pub mod negotiate;
pub mod process_metrics;
pub mod render;
pub mod scraper;
pub mod self_metrics;
