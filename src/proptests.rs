//! Property tests of the pure layer (owned by the hardening work; see issue 6).
