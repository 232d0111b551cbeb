//! STUB (being implemented by the server work): the PDP HTTP service.
#![warn(missing_docs)]

pub mod cli;
