//! The kernel command line: whitespace-separated `key=value` words.

/// A parsed command line.
#[derive(Clone, Copy, Debug)]
pub struct CommandLine<'a>(&'a str);

/// A bad option value.
#[derive(Clone, Copy, Debug)]
pub struct BadOption<'a> {
    /// The key.
    pub key: &'a str,
    /// The offending value.
    pub value: &'a str,
    /// What was expected.
    pub expected: &'static str,
}

impl<'a> CommandLine<'a> {
    /// Wraps `text`.
    pub fn new(text: &'a str) -> Self {
        Self(text)
    }

    /// The value of the last `key=value` word for `key`.
    pub fn get(&self, key: &str) -> Option<&'a str> {
        self.0
            .split_ascii_whitespace()
            .filter_map(|word| word.split_once('='))
            .filter(|(k, _)| *k == key)
            .map(|(_, v)| v)
            .next_back()
    }

    /// A positive integer option in `range`, or `default` when absent.
    pub fn number(
        &self,
        key: &'a str,
        default: u64,
        range: core::ops::RangeInclusive<u64>,
    ) -> Result<u64, BadOption<'a>> {
        match self.get(key) {
            None => Ok(default),
            Some(value) => value
                .parse::<u64>()
                .ok()
                .filter(|n| range.contains(n))
                .ok_or(BadOption {
                    key,
                    value,
                    expected: "a number in range",
                }),
        }
    }

    /// The words that are not `key=value` for a known key.
    pub fn unknown<'k>(&self, known: &'k [&'k str]) -> impl Iterator<Item = &'a str> + 'k
    where
        'a: 'k,
    {
        self.0.split_ascii_whitespace().filter(move |word| {
            !known
                .iter()
                .any(|k| word.split_once('=').is_some_and(|(key, _)| key == *k))
        })
    }
}
