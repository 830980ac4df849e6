//! Identifiers.

use serde::{Deserialize, Serialize};

/// Why an identifier was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IdError {
    /// The identifier was empty.
    #[error("participant id is empty")]
    Empty,
    /// The identifier had a character other than ASCII letters and digits (BIDS labels).
    #[error("participant id `{0}` may contain only ASCII letters and digits (as BIDS labels do)")]
    BadChar(String),
    /// The identifier has no trailing number, so it has no place in the counterbalancing.
    #[error(
        "participant id `{0}` must end in a number (e.g. `7` or `P07`): the number gives the participant's counterbalancing rotation"
    )]
    NoNumber(String),
}

/// A participant label: ASCII letters and digits ending in a number. The number is the
/// participant's place in the counterbalancing (`P07` and `7` are both participant 7).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ParticipantId {
    label: String,
    number: u64,
}

impl ParticipantId {
    pub fn parse(s: &str) -> Result<Self, IdError> {
        if s.is_empty() {
            return Err(IdError::Empty);
        }
        if !s.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(IdError::BadChar(s.to_string()));
        }
        let digits_start = s.rfind(|c: char| !c.is_ascii_digit()).map_or(0, |i| i + 1);
        let digits = &s[digits_start..];
        let number = digits
            .parse::<u64>()
            .map_err(|_| IdError::NoNumber(s.to_string()))?;
        Ok(ParticipantId {
            label: s.to_string(),
            number,
        })
    }

    /// The label as the user wrote it.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// The participant's counterbalancing number.
    pub fn number(&self) -> u64 {
        self.number
    }
}

impl std::fmt::Display for ParticipantId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.label)
    }
}

impl TryFrom<String> for ParticipantId {
    type Error = IdError;
    fn try_from(s: String) -> Result<Self, IdError> {
        ParticipantId::parse(&s)
    }
}

impl From<ParticipantId> for String {
    fn from(p: ParticipantId) -> String {
        p.label
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &str, expect: Result<u64, IdError>) {
        assert_eq!(ParticipantId::parse(input).map(|p| p.number()), expect);
    }

    #[test]
    fn parses_labels() {
        check("7", Ok(7));
        check("P07", Ok(7));
        check("sub12", Ok(12));
        check("", Err(IdError::Empty));
        check("P-1", Err(IdError::BadChar("P-1".into())));
        check("abc", Err(IdError::NoNumber("abc".into())));
    }
}
