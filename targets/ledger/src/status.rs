//! The capture state machine: [`Status`], plus the [`Source`] and [`ExportMode`] enums.
//!
//! Legal transitions, and only these:
//! `staged → transcribed → exported`, `staged → failed_transcription →
//! exported_placeholder`, `staged | transcribed → exported_duplicate`.

use serde::{Deserialize, Serialize};

/// Where a capture is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Stored, not yet transcribed.
    Staged,
    /// Transcript recorded, awaiting export.
    Transcribed,
    /// Transcription failed, awaiting a placeholder export.
    FailedTranscription,
    /// Exported to the vault (terminal).
    Exported,
    /// Exported as a placeholder note (terminal).
    ExportedPlaceholder,
    /// Recognised as a duplicate; no vault file (terminal).
    ExportedDuplicate,
}

impl Status {
    /// Every status.
    pub const ALL: [Status; 6] = [
        Status::Staged,
        Status::Transcribed,
        Status::FailedTranscription,
        Status::Exported,
        Status::ExportedPlaceholder,
        Status::ExportedDuplicate,
    ];

    /// The statuses a crash-resume must pick up again.
    pub const NON_TERMINAL: [Status; 3] = [
        Status::Staged,
        Status::Transcribed,
        Status::FailedTranscription,
    ];

    /// The text stored in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Staged => "staged",
            Status::Transcribed => "transcribed",
            Status::FailedTranscription => "failed_transcription",
            Status::Exported => "exported",
            Status::ExportedPlaceholder => "exported_placeholder",
            Status::ExportedDuplicate => "exported_duplicate",
        }
    }

    /// The status stored as `s`, if any.
    pub fn parse(s: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|status| status.as_str() == s)
    }

    /// Whether the capture is done (its status starts with `exported`).
    pub fn is_terminal(self) -> bool {
        self.as_str().starts_with("exported")
    }

    /// Whether `self → next` is one of the legal transitions.
    pub fn can_transition_to(self, next: Status) -> bool {
        matches!(
            (self, next),
            (Status::Staged, Status::Transcribed)
                | (Status::Transcribed, Status::Exported)
                | (Status::Staged, Status::FailedTranscription)
                | (Status::FailedTranscription, Status::ExportedPlaceholder)
                | (Status::Staged, Status::ExportedDuplicate)
                | (Status::Transcribed, Status::ExportedDuplicate)
        )
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a capture came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// A voice memo; `raw_content` is the audio file reference.
    Voice,
    /// An email; `raw_content` is its text.
    Email,
}

impl Source {
    /// The text stored in the database (`"voice"`, `"email"`).
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Voice => "voice",
            Source::Email => "email",
        }
    }

    /// The source stored as `s`, if any.
    pub fn parse(s: &str) -> Option<Source> {
        [Source::Voice, Source::Email]
            .into_iter()
            .find(|source| source.as_str() == s)
    }
}

/// How a capture is exported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExportMode {
    /// `transcribed → exported`; writes the vault file.
    Initial,
    /// `staged | transcribed → exported_duplicate`; writes no file.
    DuplicateSkip,
    /// `failed_transcription → exported_placeholder`; writes a placeholder vault file.
    Placeholder,
}

impl ExportMode {
    /// Every mode.
    pub const ALL: [ExportMode; 3] = [
        ExportMode::Initial,
        ExportMode::DuplicateSkip,
        ExportMode::Placeholder,
    ];

    /// The text stored in `exports_audit.mode`.
    pub fn as_str(self) -> &'static str {
        match self {
            ExportMode::Initial => "initial",
            ExportMode::DuplicateSkip => "duplicate_skip",
            ExportMode::Placeholder => "placeholder",
        }
    }

    /// The terminal status this mode leads to.
    pub fn target_status(self) -> Status {
        match self {
            ExportMode::Initial => Status::Exported,
            ExportMode::DuplicateSkip => Status::ExportedDuplicate,
            ExportMode::Placeholder => Status::ExportedPlaceholder,
        }
    }

    /// Whether this mode writes a vault file.
    pub fn writes_file(self) -> bool {
        !matches!(self, ExportMode::DuplicateSkip)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_round_trip_through_text() {
        for status in Status::ALL {
            assert_eq!(Status::parse(status.as_str()), Some(status));
        }
        assert_eq!(Status::parse("exported_elsewhere"), None);
    }

    #[test]
    fn terminal_means_exported() {
        for status in Status::ALL {
            assert_eq!(
                status.is_terminal(),
                !Status::NON_TERMINAL.contains(&status)
            );
        }
    }

    #[test]
    fn exactly_six_legal_transitions() {
        let legal = Status::ALL
            .iter()
            .flat_map(|a| Status::ALL.iter().map(move |b| (*a, *b)))
            .filter(|(a, b)| a.can_transition_to(*b))
            .count();
        assert_eq!(legal, 6);
        for status in Status::ALL.into_iter().filter(|s| s.is_terminal()) {
            assert!(
                Status::ALL
                    .iter()
                    .all(|next| !status.can_transition_to(*next))
            );
        }
    }

    #[test]
    fn serde_uses_the_stored_text() {
        for status in Status::ALL {
            let json = serde_json::to_string(&status).expect("serialises");
            assert_eq!(json, format!("\"{}\"", status.as_str()));
        }
        assert_eq!(
            serde_json::to_string(&ExportMode::DuplicateSkip).expect("serialises"),
            "\"duplicate_skip\""
        );
    }
}
