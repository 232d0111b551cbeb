//! Placeholder for the reference integration.
