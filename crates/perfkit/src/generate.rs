//! The realistic capture mix, row by row, from a seed: [`Rows`].
//!
//! Per 1000 captures at the default 3 % backlog ([`DEFAULT_BACKLOG_PERMILLE`]):
//! 10 staged, 15 transcribed, 5 failed_transcription (spread over the year),
//! 30 exported_duplicate, 30 exported_placeholder, 910 exported. Another
//! backlog keeps the same proportions within it (1/3 staged, 1/2 transcribed,
//! 1/6 failed) and takes the difference from `exported`. 60 % voice, 40 % email; bodies
//! (email text or voice transcript) of 200-2000 bytes; `created_at` spread
//! over one year, in insertion order.

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use ulid::Ulid;

/// 2024-01-01T00:00:00Z in unix milliseconds: the dataset's first capture.
pub const START_MS: i64 = 1_704_067_200_000;
/// One year in milliseconds: the span of `created_at`.
pub const YEAR_MS: i64 = 365 * 24 * 3600 * 1000;
/// The default backlog: 30 non-terminal captures per 1000 (3 %).
pub const DEFAULT_BACKLOG_PERMILLE: u32 = 30;

const WORDS: [&str; 32] = [
    "buy", "milk", "call", "mum", "meeting", "notes", "idea", "project", "draft", "review", "the",
    "a", "of", "and", "to", "tomorrow", "invoice", "garden", "book", "train", "ticket", "remember",
    "email", "reply", "client", "budget", "plan", "weekend", "doctor", "list", "write", "read",
];

/// One `captures` row.
pub(crate) struct CaptureRow {
    pub id: String,
    pub source: &'static str,
    pub raw_content: String,
    pub content_hash: Option<String>,
    pub status: &'static str,
    pub meta_json: String,
    pub created_at: i64,
    pub updated_at: i64,
}

/// The audit row of a terminal capture.
pub(crate) struct AuditRow {
    pub id: String,
    pub mode: &'static str,
    pub exported_at: i64,
}

/// A capture with what goes with it.
pub(crate) struct Generated {
    pub capture: CaptureRow,
    pub audit: Option<AuditRow>,
    pub error_message: Option<&'static str>,
}

/// Seeded generator of `n` captures in `created_at` order.
pub(crate) struct Rows {
    rng: ChaCha8Rng,
    n: usize,
    next: usize,
    backlog_permille: u32,
}

impl Rows {
    #[cfg(test)]
    pub(crate) fn new(n: usize, seed: u64) -> Rows {
        Rows::with_backlog(n, seed, DEFAULT_BACKLOG_PERMILLE)
    }

    /// `n` captures of which about `backlog_permille` per 1000 are non-terminal
    /// (at most 900).
    pub(crate) fn with_backlog(n: usize, seed: u64, backlog_permille: u32) -> Rows {
        Rows {
            rng: ChaCha8Rng::seed_from_u64(seed),
            n,
            next: 0,
            backlog_permille: backlog_permille.min(900),
        }
    }

    fn body(&mut self, index: usize) -> String {
        let target = self.rng.random_range(200..=2000);
        let mut body = format!("note {index}:");
        while body.len() < target {
            body.push(' ');
            body.push_str(WORDS[self.rng.random_range(0..WORDS.len())]);
        }
        body.truncate(target);
        body
    }

    fn status(&mut self) -> &'static str {
        let backlog = self.backlog_permille;
        let draw = self.rng.random_range(0..1000);
        if draw < backlog / 3 {
            "staged"
        } else if draw < backlog * 5 / 6 {
            "transcribed"
        } else if draw < backlog {
            "failed_transcription"
        } else if draw < backlog + 30 {
            "exported_duplicate"
        } else if draw < backlog + 60 {
            "exported_placeholder"
        } else {
            "exported"
        }
    }

    fn generate(&mut self, index: usize) -> Generated {
        let step = YEAR_MS / self.n as i64;
        let created_at = START_MS + index as i64 * step + self.rng.random_range(0..step.max(1));
        let id = Ulid::from_parts(created_at as u64, self.rng.random::<u128>()).to_string();
        let status = self.status();
        let voice = matches!(status, "failed_transcription" | "exported_placeholder")
            || self.rng.random_range(0..10) < 6;
        let body = self.body(index);
        let (source, raw_content, transcript) = if voice {
            let transcribed = matches!(status, "transcribed" | "exported" | "exported_duplicate");
            (
                "voice",
                format!("memos/{id}.m4a"),
                transcribed.then_some(body),
            )
        } else {
            ("email", body, None)
        };
        let content_hash = match (source, status, &transcript) {
            ("email", _, _) => Some(ledger::content_hash(&raw_content)),
            (_, "exported_duplicate", _) => None,
            (_, _, Some(text)) => Some(ledger::content_hash(text)),
            _ => None,
        };
        let channel = if voice { "phone" } else { "inbox" };
        let meta_json = match &transcript {
            Some(text) => format!(
                r#"{{"channel":"{channel}","channel_native_id":"n{index}","transcript":"{text}"}}"#
            ),
            None => format!(r#"{{"channel":"{channel}","channel_native_id":"n{index}"}}"#),
        };
        let terminal = status.starts_with("exported");
        let updated_at = if terminal {
            created_at + self.rng.random_range(60_000..3_600_000)
        } else {
            created_at
        };
        let audit = terminal.then(|| AuditRow {
            id: Ulid::from_parts(updated_at as u64, self.rng.random::<u128>()).to_string(),
            mode: match status {
                "exported" => "initial",
                "exported_duplicate" => "duplicate_skip",
                _ => "placeholder",
            },
            exported_at: updated_at,
        });
        let error_message = matches!(status, "failed_transcription" | "exported_placeholder")
            .then_some("transcription service timed out");
        Generated {
            capture: CaptureRow {
                id,
                source,
                raw_content,
                content_hash,
                status,
                meta_json,
                created_at,
                updated_at,
            },
            audit,
            error_message,
        }
    }
}

impl Iterator for Rows {
    type Item = Generated;

    fn next(&mut self) -> Option<Generated> {
        if self.next >= self.n {
            return None;
        }
        let index = self.next;
        self.next += 1;
        Some(self.generate(index))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_rows() {
        let ids = |seed| {
            Rows::new(50, seed)
                .map(|row| row.capture.id)
                .collect::<Vec<_>>()
        };
        assert_eq!(ids(1), ids(1));
        assert_ne!(ids(1), ids(2));
    }

    #[test]
    fn mix_has_a_small_backlog_and_sized_bodies() {
        let rows: Vec<Generated> = Rows::new(20_000, 7).collect();
        let pending = rows
            .iter()
            .filter(|row| !row.capture.status.starts_with("exported"))
            .count();
        let share = pending as f64 / rows.len() as f64;
        assert!((0.02..0.04).contains(&share), "backlog share {share}");
        let ten: Vec<Generated> = Rows::with_backlog(20_000, 7, 100).collect();
        let pending = ten
            .iter()
            .filter(|row| !row.capture.status.starts_with("exported"))
            .count();
        let share = pending as f64 / ten.len() as f64;
        assert!((0.08..0.12).contains(&share), "backlog share {share}");
        assert!(
            rows.iter()
                .all(|row| row.capture.status.starts_with("exported") == row.audit.is_some())
        );
        let created: Vec<i64> = rows.iter().map(|row| row.capture.created_at).collect();
        assert!(created.windows(2).all(|pair| pair[0] <= pair[1]));
        assert!(created[created.len() - 1] < START_MS + YEAR_MS);
        for row in rows.iter().filter(|row| row.capture.source == "email") {
            assert!((200..=2000).contains(&row.capture.raw_content.len()));
        }
    }
}
