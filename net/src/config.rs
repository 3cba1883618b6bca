//! Command-line configuration (owned by the lead).
