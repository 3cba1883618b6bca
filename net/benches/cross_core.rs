//! Cross-core round-trip bench (filled in by the next commit).
fn main() {}
