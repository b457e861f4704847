//! The mandate-signing function: the signing pages (GET/POST /sign/{token}) and the mandate calls of the operator API (read, amend, cancel, PDF).
//!
//! This crate is the place in the workspace where the function's trigger is mapped to its use
//! cases of `tranche_domain`; it has no code yet. The README's Limitations section says which
//! capabilities are still to come.
