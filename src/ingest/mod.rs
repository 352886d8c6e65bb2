//! Ingestion: turning input records into stored entities (API.md §7). [`batch`] is the one
//! write path every ingestion route ends in.

pub mod batch;
pub mod csv_file;
pub mod json_array;
pub mod ndjson;
pub mod pdf_file;
pub mod record;
pub mod webhook;
pub mod xml_file;
