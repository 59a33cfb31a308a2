//! The capture record and operation outcomes: [`Capture`], [`RecoveryEntry`], [`NewCapture`],
//! [`content_hash`].

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::status::{Source, Status};

/// A capture id: ULID text (26 characters).
pub type CaptureId = String;

/// One row of `captures`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Capture {
    /// ULID text; also the vault file stem.
    pub id: CaptureId,
    /// Voice or email.
    pub source: Source,
    /// Email text, or the audio file reference of a voice memo.
    pub raw_content: String,
    /// sha256 of the content: set at stage for email, at transcription for voice.
    pub content_hash: Option<String>,
    /// Where the capture is in its life.
    pub status: Status,
    /// JSON with `channel`, `channel_native_id` and, once transcribed, `transcript`.
    pub meta_json: String,
    /// Unix millis at stage.
    pub created_at: i64,
    /// Unix millis of the last status change.
    pub updated_at: i64,
}

impl Capture {
    /// The transcript recorded in `meta_json`, if any.
    pub fn transcript(&self) -> Option<String> {
        let meta: serde_json::Value = serde_json::from_str(&self.meta_json).ok()?;
        meta.get("transcript")?.as_str().map(str::to_owned)
    }
}

/// One entry of the crash-resume queue ([`crate::Ledger::recovery_queue`]):
/// which non-terminal capture, and where it stopped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecoveryEntry {
    /// ULID text.
    pub id: CaptureId,
    /// Its (non-terminal) status: what the resume does next.
    pub status: Status,
    /// Unix millis at stage (the queue's order, then the id).
    pub created_at: i64,
}

/// What [`crate::Ledger::stage`] stores.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewCapture {
    /// Voice or email.
    pub source: Source,
    /// Email text, or the audio file reference of a voice memo.
    pub raw_content: String,
    /// Channel the capture came from (e.g. a mailbox); part of the dedup key.
    pub channel: Option<String>,
    /// The channel's own id for it (e.g. a Message-ID); part of the dedup key.
    pub channel_native_id: Option<String>,
}

/// What [`crate::Ledger::stage`] did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum StageOutcome {
    /// A new capture was stored with this id.
    Staged(CaptureId),
    /// Nothing stored: this existing capture has the same content or channel id.
    Duplicate(CaptureId),
}

/// What [`crate::Ledger::record_export`] did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ExportOutcome {
    /// The export was recorded now.
    Exported,
    /// The capture was already in this mode's terminal status; nothing done.
    AlreadyExported,
}

/// Lowercase hex sha256 of `text`.
pub fn content_hash(text: &str) -> String {
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_hash_is_lowercase_hex_sha256() {
        assert_eq!(
            content_hash("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn transcript_reads_meta_json() {
        let mut capture = Capture {
            id: "01HZZZZZZZZZZZZZZZZZZZZZZZ".into(),
            source: Source::Voice,
            raw_content: "memo.m4a".into(),
            content_hash: None,
            status: Status::Staged,
            meta_json: r#"{"channel":null,"channel_native_id":null}"#.into(),
            created_at: 1,
            updated_at: 1,
        };
        assert_eq!(capture.transcript(), None);
        capture.meta_json = r#"{"transcript":"hello"}"#.into();
        assert_eq!(capture.transcript().as_deref(), Some("hello"));
    }
}
