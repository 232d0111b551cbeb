//! Source positions of policy nodes, kept from the YAML loader so that every
//! diagnostic can point at the exact line and column.

/// A position in the policy source: 1-based line and column, byte offset and length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Loc {
    line: u32,
    column: u32,
    offset: usize,
    len: usize,
}

impl Loc {
    pub(crate) fn new(line: u32, column: u32, offset: usize, len: usize) -> Loc {
        Loc {
            line,
            column,
            offset,
            len,
        }
    }

    pub(crate) fn from_saphyr(l: &serde_saphyr::Location) -> Loc {
        let span = l.span();
        let offset = span.byte_offset().unwrap_or(span.offset());
        let len = span.byte_len().unwrap_or(span.len());
        Loc::new(
            u32::try_from(l.line()).unwrap_or(u32::MAX),
            u32::try_from(l.column()).unwrap_or(u32::MAX),
            usize::try_from(offset).unwrap_or(0),
            usize::try_from(len).unwrap_or(0),
        )
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
        self.offset
    }

    /// Length in bytes of the node's text (at least 1, so a label always shows).
    pub fn span_len(&self) -> usize {
        self.len.max(1)
    }
}
