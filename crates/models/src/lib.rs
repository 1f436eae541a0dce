//! Models on burn: the SpacingMDN with its memory bank and the char-level GPT
//! (`DESIGN.md`, crates/models). Empty until the SpacingMDN/training issue lands.
