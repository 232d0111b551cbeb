//! Source positions of policy nodes, kept from the YAML loader so that every
//! diagnostic can point at the exact line and column.

/// A position in the policy source: 1-based line and column, byte offset and length.
///
/// Held in 32 bits each (16 bytes in all: every node of a loaded policy's tree has
/// one); an offset or length past 4 GiB, far beyond any policy size limit, saturates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Loc {
    line: u32,
    column: u32,
    offset: u32,
    len: u32,
}

impl Loc {
    pub(crate) fn new(line: u32, column: u32, offset: usize, len: usize) -> Loc {
        Loc {
            line,
            column,
            offset: u32::try_from(offset).unwrap_or(u32::MAX),
            len: u32::try_from(len).unwrap_or(u32::MAX),
        }
    }

    /// 1-based line (0 when unknown).
    pub fn line(&self) -> u32 {
        self.line
    }

    /// 1-based column (0 when unknown).
    pub fn column(&self) -> u32 {
        self.column
    }

    /// Byte offset into the source.
    pub fn offset(&self) -> usize {
        self.offset as usize
    }

    /// Length in bytes of the node's text (at least 1, so a label always shows).
    pub fn span_len(&self) -> usize {
        (self.len as usize).max(1)
    }
}
