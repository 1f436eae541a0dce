//! Parameter groups: which optimizer each parameter of a burn module gets, decided by ordered
//! name rules over the parameter's dotted path (`blocks.3.attn.q.weight`, see
//! [`pattern`](super::pattern)). The first rule that matches a path gives its [`Role`].
//!
//! Only [`Role::Matrix`] parameters reach the spectral optimizers (Muon, TEON, Spectra, ...);
//! every other role is trained by AdamW with its own learning rate and weight decay. Two
//! mistakes are errors rather than silent fallbacks: a parameter that no rule matches, and a
//! non-optional rule that matches nothing (a typo in a pattern would otherwise quietly train
//! the matrices with AdamW). A `Matrix` rule that catches a tensor that is not 2-D is an error
//! too: such a tensor never reaches a matrix optimizer.

use super::OptimError;
use super::pattern;
use burn::module::{Module, ModuleVisitor, Param, ParamId};
use burn::tensor::Tensor;
use burn::tensor::backend::Backend;
use serde::{Deserialize, Serialize};

/// What a parameter is, for the optimizer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// A hidden 2-D weight (attention Q/K/V/O, MLP): the spectral optimizer's.
    Matrix,
    /// Token, position and input embeddings (AdamW).
    Embedding,
    /// Output heads: LM head, mixture-density head (AdamW).
    Head,
    /// LayerNorm scales and shifts (AdamW, no weight decay by default).
    Norm,
    /// Biases (AdamW, no weight decay by default).
    Bias,
    /// Memory-bank slots, slot-ID embeddings and readouts (AdamW).
    Memory,
}

impl Role {
    pub const ALL: [Role; 6] = [
        Role::Matrix,
        Role::Embedding,
        Role::Head,
        Role::Norm,
        Role::Bias,
        Role::Memory,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Role::Matrix => "matrix",
            Role::Embedding => "embedding",
            Role::Head => "head",
            Role::Norm => "norm",
            Role::Bias => "bias",
            Role::Memory => "memory",
        }
    }
}

/// One routing rule: parameters whose path matches `pattern` get `role`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GroupRule {
    /// Dotted glob: `*` is one path segment, `**` any number (`blocks.*.attn.q.weight`).
    pub pattern: String,
    pub role: Role,
    /// An optional rule may match nothing (e.g. memory rules for a model without memory).
    #[serde(default)]
    pub optional: bool,
}

impl GroupRule {
    pub fn new(pattern: &str, role: Role) -> Self {
        Self {
            pattern: pattern.to_string(),
            role,
            optional: false,
        }
    }

    pub fn optional(pattern: &str, role: Role) -> Self {
        Self {
            optional: true,
            ..Self::new(pattern, role)
        }
    }
}

/// The rules for this workspace's transformers (`spectral_models::Gpt`, `spectral_models::SpacingMdn`, whose
/// parameter names are pinned by tests in `crates/models`): attention and MLP weights are
/// matrices; biases, norms, embeddings, heads and the memory bank go to AdamW.
pub fn transformer_rules() -> Vec<GroupRule> {
    vec![
        GroupRule::new("blocks.*.attn.*.weight", Role::Matrix),
        GroupRule::new("blocks.*.mlp.*.weight", Role::Matrix),
        GroupRule::optional("memory.**", Role::Memory),
        GroupRule::optional("**.bias", Role::Bias),
        GroupRule::optional("**.gamma", Role::Norm),
        GroupRule::optional("**.beta", Role::Norm),
        GroupRule::optional("tok_emb.**", Role::Embedding),
        GroupRule::optional("pos_emb.**", Role::Embedding),
        GroupRule::optional("input_proj.**", Role::Embedding),
        GroupRule::optional("lm_head.**", Role::Head),
        GroupRule::optional("mdn_head.**", Role::Head),
    ]
}

/// A float parameter of a module: its id, dotted path and shape (burn's layout: a Linear
/// weight is `[d_in, d_out]`).
#[derive(Clone, Debug, PartialEq)]
pub struct NamedParam {
    pub id: ParamId,
    pub path: String,
    pub shape: Vec<usize>,
}

/// A parameter with the role its rules gave it.
#[derive(Clone, Debug, PartialEq)]
pub struct ParamSlot {
    pub id: ParamId,
    pub path: String,
    pub shape: Vec<usize>,
    pub role: Role,
}

/// Every float parameter of `module`, in visiting order, with its dotted path.
pub fn named_params<B: Backend, M: Module<B>>(module: &M) -> Vec<NamedParam> {
    struct Collector {
        path: Vec<String>,
        params: Vec<NamedParam>,
    }
    impl<B: Backend> ModuleVisitor<B> for Collector {
        fn enter_module(&mut self, name: &str, _container_type: &str) {
            self.path.push(name.to_string());
        }
        fn exit_module(&mut self, _name: &str, _container_type: &str) {
            self.path.pop();
        }
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
            self.params.push(NamedParam {
                id: param.id,
                path: self.path.join("."),
                shape: param.val().dims().to_vec(),
            });
        }
    }
    let mut collector = Collector {
        path: Vec::new(),
        params: Vec::new(),
    };
    module.visit(&mut collector);
    collector.params
}

/// Routes every float parameter of `module` by `rules` (first match wins).
pub fn param_groups<B: Backend, M: Module<B>>(
    module: &M,
    rules: &[GroupRule],
) -> Result<Vec<ParamSlot>, OptimError> {
    assign_roles(named_params(module), rules)
}

/// [`param_groups`] on an already collected parameter list.
pub fn assign_roles(
    params: Vec<NamedParam>,
    rules: &[GroupRule],
) -> Result<Vec<ParamSlot>, OptimError> {
    let mut used = vec![false; rules.len()];
    let mut slots = Vec::with_capacity(params.len());
    for param in params {
        let Some(index) = rules
            .iter()
            .position(|rule| pattern::matches(&rule.pattern, &param.path))
        else {
            return Err(OptimError::UnmatchedParam(param.path));
        };
        used[index] = true;
        let role = rules[index].role;
        if role == Role::Matrix && param.shape.len() != 2 {
            return Err(OptimError::NotAMatrix {
                path: param.path,
                shape: param.shape,
                pattern: rules[index].pattern.clone(),
            });
        }
        slots.push(ParamSlot {
            id: param.id,
            path: param.path,
            shape: param.shape,
            role,
        });
    }
    if let Some((rule, _)) = rules
        .iter()
        .zip(&used)
        .find(|(rule, used)| !rule.optional && !**used)
    {
        return Err(OptimError::UnusedRule(rule.pattern.clone()));
    }
    Ok(slots)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn param(path: &str, shape: &[usize]) -> NamedParam {
        NamedParam {
            id: ParamId::new(),
            path: path.to_string(),
            shape: shape.to_vec(),
        }
    }

    fn small_transformer() -> Vec<NamedParam> {
        vec![
            param("tok_emb.weight", &[256, 32]),
            param("blocks.0.ln1.gamma", &[32]),
            param("blocks.0.ln1.beta", &[32]),
            param("blocks.0.attn.q.weight", &[32, 32]),
            param("blocks.0.attn.q.bias", &[32]),
            param("blocks.0.mlp.fc.weight", &[32, 128]),
            param("memory.slots", &[8, 32]),
            param("ln_f.gamma", &[32]),
            param("lm_head.weight", &[32, 256]),
        ]
    }

    #[test]
    fn transformer_rules_route_by_name_and_role() {
        let slots = assign_roles(small_transformer(), &transformer_rules()).unwrap();
        let roles: Vec<(&str, Role)> = slots.iter().map(|s| (s.path.as_str(), s.role)).collect();
        assert_eq!(
            roles,
            vec![
                ("tok_emb.weight", Role::Embedding),
                ("blocks.0.ln1.gamma", Role::Norm),
                ("blocks.0.ln1.beta", Role::Norm),
                ("blocks.0.attn.q.weight", Role::Matrix),
                ("blocks.0.attn.q.bias", Role::Bias),
                ("blocks.0.mlp.fc.weight", Role::Matrix),
                ("memory.slots", Role::Memory),
                ("ln_f.gamma", Role::Norm),
                ("lm_head.weight", Role::Head),
            ]
        );
    }

    #[test]
    fn a_parameter_no_rule_matches_is_an_error() {
        let mut params = small_transformer();
        params.push(param("frame.weight", &[4, 4]));
        let error = assign_roles(params, &transformer_rules()).unwrap_err();
        assert!(error.to_string().contains("frame.weight"), "{error}");
    }

    #[test]
    fn a_required_rule_matching_nothing_is_an_error() {
        let mut rules = transformer_rules();
        rules.insert(
            0,
            GroupRule::new("blocks.*.attention.*.weight", Role::Matrix),
        );
        let error = assign_roles(small_transformer(), &rules).unwrap_err();
        assert!(
            error.to_string().contains("blocks.*.attention.*.weight"),
            "{error}"
        );
    }

    #[test]
    fn a_tensor_that_is_not_2d_never_becomes_a_matrix() {
        let rules = vec![GroupRule::new("**", Role::Matrix)];
        let error = assign_roles(vec![param("blocks.0.ln1.gamma", &[32])], &rules).unwrap_err();
        assert!(matches!(error, OptimError::NotAMatrix { .. }), "{error}");
    }
}
