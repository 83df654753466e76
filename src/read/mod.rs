//! Reading JSON-lines logs back, for the `logwarden` command (feature `cli`): one line's meaning
//! ([`line`]), the files of a directory in time order with `.gz` ([`files`]), following the
//! active file across rotation ([`follow`]), and the incidents and figures a set of lines adds up
//! to ([`history`]).

pub(crate) mod files;
pub(crate) mod follow;
pub(crate) mod history;
pub(crate) mod line;
