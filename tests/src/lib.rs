//! Test harness (owned by the tests helper).
