//! Following the active file like `tail -F`: across rename-and-create rotation and truncation,
//! without losing or re-reading a line.
