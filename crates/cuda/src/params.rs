//! The parameters of an engine model as one flat f32 buffer: each tensor's name and shape
//! (the dotted paths and burn layouts of `crates/models`, so checkpoints are interchangeable),
//! its offset in the buffer, and the optimizer group it is updated with. Tensors of one group
//! are contiguous, so the optimizer runs one launch per group; the gradients, the optimizer's
//! moments and the compute (bf16) copy use the same offsets in buffers of their own.

/// How a tensor is optimized: which learning rate and weight decay apply. The engine does not
/// decide these; the caller maps its optimizer config onto the groups.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Group {
    /// The hidden matrices (`blocks.*.attn.*.weight`, `blocks.*.mlp.*.weight`): Muon's, or
    /// AdamW at the main learning rate.
    Matrix,
    /// Other tensors of rank ≥ 2 (embeddings, heads, memory slots): AdamW with decay.
    Decayed,
    /// Rank-1 tensors (biases, norm gains and shifts): AdamW without decay.
    Undecayed,
}

/// A tensor to lay out: its dotted name, burn shape and optimizer group.
pub type ParamSpec = (String, Vec<usize>, Group);

/// One tensor of the flat buffer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Param {
    /// Dotted path, as `spectral_models::names` documents it.
    pub name: String,
    /// burn's layout (a Linear weight is `[d_in, d_out]`).
    pub shape: Vec<usize>,
    /// First element in the flat buffer.
    pub offset: usize,
    pub group: Group,
}

impl Param {
    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Every parameter of a model in the flat buffer.
#[derive(Clone, Debug, Default)]
pub struct ParamTable {
    params: Vec<Param>,
    len: usize,
}

/// Tensors start at multiples of this many elements (64 bytes in f32, 32 in bf16): aligned
/// for vector loads in both copies. Tensors that must be adjacent (a stack of same-shape
/// matrices used as one strided batch) are pushed with [`ParamTable::push_stack`].
const ALIGN_ELEMS: usize = 16;

impl ParamTable {
    /// Lays out `params` (name, shape, group) grouped by [`Group`] (stable within a group),
    /// `stacks` naming tensors that must follow each other with no gap (each stack's members
    /// must share shape and group and be listed in order in `params`).
    pub fn new(params: Vec<ParamSpec>, stacks: &[Vec<String>]) -> Self {
        let mut order: Vec<usize> = (0..params.len()).collect();
        order.sort_by_key(|&i| params[i].2);
        let mut table = Self::default();
        let mut placed = vec![false; params.len()];
        for &i in &order {
            if placed[i] {
                continue;
            }
            let (name, _, _) = &params[i];
            let members: Vec<usize> = match stacks.iter().find(|s| s.first() == Some(name)) {
                Some(stack) => stack
                    .iter()
                    .map(|n| {
                        params
                            .iter()
                            .position(|p| &p.0 == n)
                            .expect("a stack member is a parameter")
                    })
                    .collect(),
                None => vec![i],
            };
            let start = table.len.next_multiple_of(ALIGN_ELEMS);
            let mut offset = start;
            for &m in &members {
                let (name, shape, group) = params[m].clone();
                assert_eq!(
                    (&shape, group),
                    (&params[i].1, params[i].2),
                    "stack {name}: one shape, one group"
                );
                let len: usize = shape.iter().product();
                table.params.push(Param {
                    name,
                    shape,
                    offset,
                    group,
                });
                offset += len;
                placed[m] = true;
            }
            table.len = offset;
        }
        table.len = table.len.next_multiple_of(ALIGN_ELEMS);
        table
    }

    /// Elements of the flat buffer (padding included).
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Elements that are parameters (padding excluded).
    pub fn count(&self) -> usize {
        self.params.iter().map(Param::len).sum()
    }

    pub fn params(&self) -> &[Param] {
        &self.params
    }

    /// The parameter named `name`.
    ///
    /// # Panics
    /// When there is none: the engine's models ask only for their own names.
    pub fn get(&self, name: &str) -> &Param {
        self.params
            .iter()
            .find(|p| p.name == name)
            .unwrap_or_else(|| panic!("no parameter {name}"))
    }

    /// The contiguous range `[start, end)` of the flat buffer that `group` occupies (empty
    /// when the group has no tensors).
    pub fn group_range(&self, group: Group) -> std::ops::Range<usize> {
        let mut members = self.params.iter().filter(|p| p.group == group);
        match members.next() {
            None => 0..0,
            Some(first) => {
                let end = members.fold(first.offset + first.len(), |_, p| p.offset + p.len());
                first.offset..end
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(name: &str, shape: &[usize], group: Group) -> (String, Vec<usize>, Group) {
        (name.into(), shape.to_vec(), group)
    }

    #[test]
    fn groups_are_contiguous_aligned_and_disjoint() {
        let table = ParamTable::new(
            vec![
                p("a.bias", &[3], Group::Undecayed),
                p("q", &[5, 5], Group::Matrix),
                p("emb", &[7, 2], Group::Decayed),
                p("k", &[5, 5], Group::Matrix),
                p("b.bias", &[9], Group::Undecayed),
            ],
            &[],
        );
        let names: Vec<&str> = table.params().iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["q", "k", "emb", "a.bias", "b.bias"]);
        let mut end = 0;
        for param in table.params() {
            assert_eq!(param.offset % ALIGN_ELEMS, 0, "{}", param.name);
            assert!(param.offset >= end, "{} overlaps", param.name);
            end = param.offset + param.len();
        }
        assert_eq!(table.count(), 25 + 25 + 14 + 3 + 9);
        assert!(table.len() >= end && table.len().is_multiple_of(ALIGN_ELEMS));
        let matrices = table.group_range(Group::Matrix);
        assert_eq!(matrices.start, table.get("q").offset);
        assert_eq!(matrices.end, table.get("k").offset + 25);
        let undecayed = table.group_range(Group::Undecayed);
        assert!(undecayed.start >= table.group_range(Group::Decayed).end);
    }

    #[test]
    fn a_stack_is_laid_out_without_gaps() {
        let table = ParamTable::new(
            vec![
                p("q", &[3, 3], Group::Matrix),
                p("k", &[3, 3], Group::Matrix),
                p("v", &[3, 3], Group::Matrix),
            ],
            &[vec!["q".into(), "k".into(), "v".into()]],
        );
        let q = table.get("q").offset;
        assert_eq!(table.get("k").offset, q + 9);
        assert_eq!(table.get("v").offset, q + 18);
    }
}
