//! Metrics as JSON lines, one snapshot per interval: [`JsonLinesSink`].

use std::io::Write;

use super::snapshot::MetricsSnapshot;

/// Writes a [`MetricsSnapshot`] as one JSON line when at least `interval_ms`
/// passed since the last one written.
#[derive(Debug)]
pub struct JsonLinesSink<W: Write> {
    out: W,
    interval_ms: i64,
    last_ms: Option<i64>,
}

impl<W: Write> JsonLinesSink<W> {
    /// A sink writing to `out` at most once per `interval_ms`.
    pub fn new(out: W, interval_ms: i64) -> JsonLinesSink<W> {
        JsonLinesSink {
            out,
            interval_ms,
            last_ms: None,
        }
    }

    /// Whether a snapshot taken at `now_ms` would be written.
    pub fn is_due(&self, now_ms: i64) -> bool {
        self.last_ms
            .is_none_or(|last| now_ms.saturating_sub(last) >= self.interval_ms)
    }

    /// Write `snapshot` as one line if it is due; returns whether it was written.
    ///
    /// # Errors
    /// The writer's I/O error.
    pub fn offer(&mut self, snapshot: &MetricsSnapshot) -> std::io::Result<bool> {
        if !self.is_due(snapshot.taken_at_ms) {
            return Ok(false);
        }
        serde_json::to_writer(&mut self.out, snapshot)?;
        self.out.write_all(b"\n")?;
        self.out.flush()?;
        self.last_ms = Some(snapshot.taken_at_ms);
        Ok(true)
    }

    /// The underlying writer.
    pub fn into_inner(self) -> W {
        self.out
    }
}
