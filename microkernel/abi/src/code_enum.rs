//! `code_enum!`: an enum whose variants have stable numeric codes, with a checked decoder.
//!
//! Call numbers, invocation labels and the irq-server's request and error codes all cross
//! a trust boundary as plain numbers; each such enum needs the same three things: the
//! discriminants, a decoder that returns `None` for a number that names nothing, and the
//! variant's name for logs. One macro writes them, so the decoders cannot drift apart.

/// Declares `pub enum $name` with `repr($repr)` variants and, on it:
/// `pub const ALL: &[Self]`, `pub const fn $decode(code: $repr) -> Option<Self>` and
/// `pub const fn name(self) -> &'static str`.
///
/// ```
/// kernel_abi::code_enum! {
///     /// What a message asks.
///     pub enum Request: u32 decode from_code {
///         /// Say hello.
///         Hello = 1,
///     }
/// }
/// assert_eq!(Request::from_code(1), Some(Request::Hello));
/// assert_eq!(Request::from_code(2), None);
/// assert_eq!(Request::Hello.name(), "Hello");
/// ```
#[macro_export]
macro_rules! code_enum {
    (
        $(#[$outer:meta])*
        pub enum $enum:ident : $repr:ident decode $decode:ident {
            $( $(#[$attr:meta])* $name:ident = $code:literal, )+
        }
    ) => {
        $(#[$outer])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[repr($repr)]
        pub enum $enum {
            $( $(#[$attr])* $name = $code, )+
        }

        impl $enum {
            /// Every variant, in declaration order.
            pub const ALL: &'static [$enum] = &[$($enum::$name,)+];

            /// Decodes a number; `None` for one that names no variant.
            #[must_use]
            pub const fn $decode(code: $repr) -> Option<Self> {
                match code {
                    $($code => Some(Self::$name),)+
                    _ => None,
                }
            }

            /// The variant's name, for logs.
            #[must_use]
            pub const fn name(self) -> &'static str {
                match self {
                    $(Self::$name => stringify!($name),)+
                }
            }
        }
    };
}
