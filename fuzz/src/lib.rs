//! Fuzz targets for Switchboard's parsers and translators (see `targets`).
pub mod targets;
