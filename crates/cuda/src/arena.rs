//! The layout of one device allocation: every parameter, activation, gradient and optimizer
//! state of a training step at a fixed offset, planned on the host before anything is
//! allocated, so that nothing is allocated inside a step (and a captured CUDA graph can replay
//! the same addresses forever).

/// Element types the engine stores.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DType {
    F32,
    BF16,
    I32,
    F64,
}

impl DType {
    /// Bytes per element.
    pub fn size(self) -> usize {
        match self {
            DType::F32 | DType::I32 => 4,
            DType::BF16 => 2,
            DType::F64 => 8,
        }
    }
}

/// Where a tensor lives in the arena: a byte offset from its base, an element count, a type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Slot {
    /// Byte offset from the arena's base; a multiple of [`ALIGN`].
    pub offset: usize,
    /// Elements.
    pub len: usize,
    pub dtype: DType,
}

impl Slot {
    /// Bytes the slot spans (not rounded to the alignment).
    pub fn bytes(&self) -> usize {
        self.len * self.dtype.size()
    }

    /// The slot's elements `[start, start + len)` as a slot of their own (same type).
    ///
    /// # Panics
    /// When the range runs past the slot's end.
    pub fn sub(&self, start: usize, len: usize) -> Slot {
        assert!(
            start + len <= self.len,
            "sub-slot [{start}, {}) of a slot of {}",
            start + len,
            self.len
        );
        Slot {
            offset: self.offset + start * self.dtype.size(),
            len,
            dtype: self.dtype,
        }
    }
}

/// Alignment of every slot in bytes: cuBLAS and vectorized kernels want 16; 256 matches the
/// driver's own allocation granularity for textures and keeps rows of a slot on separate
/// cache-line groups.
pub const ALIGN: usize = 256;

/// A bump planner: slots are placed one after another, each aligned to [`ALIGN`].
#[derive(Debug, Default)]
pub struct Layout {
    end: usize,
    names: Vec<(String, Slot)>,
}

impl Layout {
    pub fn new() -> Self {
        Self::default()
    }

    /// Plans a slot of `len` elements of `dtype`, named `name` (for [`Layout::find`] and
    /// for error messages).
    pub fn push(&mut self, name: impl Into<String>, len: usize, dtype: DType) -> Slot {
        let offset = self.end.next_multiple_of(ALIGN);
        let slot = Slot { offset, len, dtype };
        self.end = offset + slot.bytes();
        self.names.push((name.into(), slot));
        slot
    }

    /// Bytes the whole arena needs.
    pub fn bytes(&self) -> usize {
        self.end.next_multiple_of(ALIGN)
    }

    /// The slot planned under `name`, if any.
    pub fn find(&self, name: &str) -> Option<Slot> {
        self.names.iter().find(|(n, _)| n == name).map(|(_, s)| *s)
    }

    /// Every planned slot with its name, in placement order.
    pub fn slots(&self) -> &[(String, Slot)] {
        &self.names
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_aligned_disjoint_and_in_order() {
        let mut layout = Layout::new();
        let a = layout.push("a", 3, DType::BF16);
        let b = layout.push("b", 1000, DType::F32);
        let c = layout.push("c", 1, DType::I32);
        for s in [a, b, c] {
            assert_eq!(s.offset % ALIGN, 0);
        }
        assert!(a.offset + a.bytes() <= b.offset);
        assert!(b.offset + b.bytes() <= c.offset);
        assert_eq!(layout.bytes(), (c.offset + 4).next_multiple_of(ALIGN));
        assert_eq!(layout.find("b"), Some(b));
        assert_eq!(layout.find("d"), None);
    }

    #[test]
    fn a_sub_slot_keeps_type_and_offsets_by_elements() {
        let mut layout = Layout::new();
        let _ = layout.push("pad", 1, DType::F32);
        let s = layout.push("s", 100, DType::BF16);
        let sub = s.sub(10, 20);
        assert_eq!(sub.offset, s.offset + 20);
        assert_eq!((sub.len, sub.dtype), (20, DType::BF16));
    }

    #[test]
    #[should_panic(expected = "sub-slot")]
    fn a_sub_slot_past_the_end_panics() {
        let mut layout = Layout::new();
        layout.push("s", 10, DType::F32).sub(5, 6);
    }
}
