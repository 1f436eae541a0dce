//! Process-wide run-time switches (`--matmul-gemm`, `--attention`, `--gelu`, `--layer-norm`):
//! an enum whose variants are named on the command line ([`switch_enum!`]), and a [`Switch`]
//! cell the CLI sets once at start-up and the models read on every call.

use std::sync::atomic::{AtomicU8, Ordering};

/// An enum made by [`switch_enum!`]: its variants in order, the first the default.
pub trait SwitchEnum: Copy + 'static {
    /// Every variant, in declaration order.
    const ALL: &'static [Self];
    /// This variant's position in [`Self::ALL`].
    fn index(self) -> u8;
}

/// A process-wide choice of one variant of a [`SwitchEnum`]; starts on the first (default).
pub(crate) struct Switch(AtomicU8);

impl Switch {
    pub const fn new() -> Self {
        Self(AtomicU8::new(0))
    }

    pub fn set<T: SwitchEnum>(&self, value: T) {
        self.0.store(value.index(), Ordering::Relaxed);
    }

    pub fn get<T: SwitchEnum>(&self) -> T {
        T::ALL[usize::from(self.0.load(Ordering::Relaxed))]
    }
}

/// Declares a switch enum: its variants with their command-line names (the first is the
/// default), `FromStr` (an unknown name lists the known ones) and `Display` (the name).
macro_rules! switch_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident ($what:literal) {
            $(#[$first_meta:meta])* $first:ident = $first_text:literal,
            $( $(#[$variant_meta:meta])* $variant:ident = $text:literal, )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
        pub enum $name {
            $(#[$first_meta])*
            #[default]
            $first,
            $( $(#[$variant_meta])* $variant, )*
        }

        impl $crate::linalg::switch::SwitchEnum for $name {
            const ALL: &'static [Self] = &[Self::$first, $(Self::$variant),*];
            fn index(self) -> u8 {
                self as u8
            }
        }

        impl std::str::FromStr for $name {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                match s {
                    $first_text => Ok(Self::$first),
                    $( $text => Ok(Self::$variant), )*
                    other => Err(format!(
                        "unknown {} {other:?}: expected one of {}",
                        $what,
                        [$first_text, $($text),*].join(", ")
                    )),
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(match self {
                    Self::$first => $first_text,
                    $( Self::$variant => $text, )*
                })
            }
        }
    };
}

pub(crate) use switch_enum;

#[cfg(test)]
mod tests {
    use super::*;

    switch_enum! {
        /// A test switch.
        pub enum Colour ("colour") {
            /// The default.
            Red = "red",
            Green = "green",
            Blue = "blue",
        }
    }

    #[test]
    fn names_round_trip_and_the_cell_starts_on_the_default() {
        for colour in Colour::ALL {
            assert_eq!(colour.to_string().parse::<Colour>(), Ok(*colour));
        }
        assert_eq!(
            "grey".parse::<Colour>(),
            Err("unknown colour \"grey\": expected one of red, green, blue".into())
        );
        let cell = Switch::new();
        assert_eq!(cell.get::<Colour>(), Colour::Red);
        assert_eq!(Colour::default(), Colour::Red);
        cell.set(Colour::Blue);
        assert_eq!(cell.get::<Colour>(), Colour::Blue);
    }
}
