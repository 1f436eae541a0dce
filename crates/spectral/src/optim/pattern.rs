//! Glob patterns over dotted parameter paths, as burn's module visitor spells them
//! (`blocks.3.attn.q.weight`): a pattern is split at dots, `*` matches exactly one segment,
//! `**` matches any number of segments (zero included), anything else matches literally.

/// Whether `path` (dotted) matches `pattern` (dotted, with `*` and `**` segments).
pub fn matches(pattern: &str, path: &str) -> bool {
    let pattern: Vec<&str> = pattern.split('.').collect();
    let path: Vec<&str> = path.split('.').collect();
    matches_segments(&pattern, &path)
}

fn matches_segments(pattern: &[&str], path: &[&str]) -> bool {
    match pattern.split_first() {
        None => path.is_empty(),
        Some((&"**", rest)) => (0..=path.len()).any(|skip| matches_segments(rest, &path[skip..])),
        Some((&segment, rest)) => match path.split_first() {
            Some((&head, tail)) => {
                (segment == "*" || segment == head) && matches_segments(rest, tail)
            }
            None => false,
        },
    }
}

/// The first segment of `path` that is a number: the layer index of `blocks.3.attn.q.weight`.
pub fn layer_index(path: &str) -> Option<usize> {
    path.split('.').find_map(|segment| segment.parse().ok())
}

/// `path` with its layer index replaced by `*`: the "type" of a matrix, shared by the same
/// matrix of every layer (`blocks.*.attn.q.weight`).
pub fn layer_type(path: &str) -> String {
    let mut replaced = false;
    path.split('.')
        .map(|segment| {
            if !replaced && segment.parse::<usize>().is_ok() {
                replaced = true;
                "*"
            } else {
                segment
            }
        })
        .collect::<Vec<_>>()
        .join(".")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_star_matches_one_segment() {
        assert!(matches("blocks.*.attn.q.weight", "blocks.11.attn.q.weight"));
        assert!(!matches("blocks.*.attn.q.weight", "blocks.attn.q.weight"));
        assert!(!matches(
            "blocks.*.attn.q.weight",
            "blocks.1.2.attn.q.weight"
        ));
        assert!(!matches("blocks.*.attn.q.weight", "blocks.1.attn.q.bias"));
    }

    #[test]
    fn double_star_matches_any_depth() {
        assert!(matches("**.bias", "bias"));
        assert!(matches("**.bias", "blocks.0.mlp.fc.bias"));
        assert!(matches("memory.**", "memory.slots"));
        assert!(matches("memory.**", "memory.film.weight"));
        assert!(!matches("memory.**", "blocks.0.memory"));
        assert!(matches("**.ln*.gamma", "blocks.0.ln*.gamma"));
        assert!(!matches("**.gamma", "blocks.0.ln1.beta"));
    }

    #[test]
    fn layer_index_and_type() {
        assert_eq!(layer_index("blocks.7.attn.k.weight"), Some(7));
        assert_eq!(layer_index("lm_head.weight"), None);
        assert_eq!(
            layer_type("blocks.7.attn.k.weight"),
            "blocks.*.attn.k.weight"
        );
        assert_eq!(layer_type("lm_head.weight"), "lm_head.weight");
    }
}
