//! Markdown export files in the vault: [`render`] and the crash-safe [`write_atomically`].
//!
//! A file is written to a temporary name in the vault directory, fsynced,
//! renamed to `<capture id>.md` and the directory fsynced, so after a crash
//! the vault holds either the old file or the complete new one. A retry
//! rewrites the same path: never a second file.

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::capture::Capture;
use crate::error::{LedgerError, Result};
use crate::failpoint;
use crate::fs_events::{self, FsEvent};
use crate::status::{ExportMode, Status};

/// The vault file name of a capture, relative to the vault directory.
pub fn file_name(id: &str) -> String {
    format!("{id}.md")
}

/// The Markdown for `capture` exported in `mode` (reaching `status`).
pub(crate) fn render(capture: &Capture, mode: ExportMode, status: Status) -> String {
    let front_matter = format!(
        "---\nid: {}\nsource: {}\ncreated_at: {}\nstatus: {}\n---\n\n",
        capture.id,
        capture.source.as_str(),
        capture.created_at,
        status.as_str(),
    );
    let body = match mode {
        ExportMode::Placeholder => format!(
            "> Transcription failed; this is a placeholder.\n>\n> Original: {}\n",
            capture.raw_content
        ),
        ExportMode::Initial | ExportMode::DuplicateSkip => {
            let mut text = capture
                .transcript()
                .unwrap_or_else(|| capture.raw_content.clone());
            if !text.ends_with('\n') {
                text.push('\n');
            }
            text
        }
    };
    front_matter + &body
}

/// Write `contents` to `dir/name` durably: temp file, fsync, rename, fsync `dir`.
pub(crate) fn write_atomically(dir: &Path, name: &str, contents: &str) -> Result<PathBuf> {
    let target = dir.join(name);
    let temp = mutant!(
        VaultTempPerAttempt,
        dir.join(format!(".{name}.{}.tmp", std::process::id())),
        dir.join(format!(".{name}.tmp"))
    );
    let vault_err = |path: &Path| {
        let path = path.to_path_buf();
        move |source| LedgerError::Vault { path, source }
    };
    let mut file = File::create(&temp).map_err(vault_err(&temp))?;
    file.write_all(contents.as_bytes())
        .map_err(vault_err(&temp))?;
    file.sync_all().map_err(vault_err(&temp))?;
    drop(file);
    failpoint::hit(failpoint::VAULT_AFTER_TEMP_SYNC)?;
    fs_events::emit(FsEvent::Replacing { target: &target });
    fs::rename(&temp, &target).map_err(vault_err(&target))?;
    failpoint::hit(failpoint::VAULT_AFTER_RENAME)?;
    sync_dir(dir)?;
    Ok(target)
}

/// fsync a directory so entries created or renamed in it are durable (skipped by the
/// `no-dir-fsync` mutant).
pub(crate) fn sync_dir(dir: &Path) -> Result<()> {
    if_mutant!(NoDirFsync, {
        return Ok(());
    });
    let io_err = |source| LedgerError::Io {
        path: dir.to_path_buf(),
        source,
    };
    File::open(dir).and_then(|d| d.sync_all()).map_err(io_err)?;
    fs_events::emit(FsEvent::DirSynced { dir });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::status::Source;

    fn capture() -> Capture {
        Capture {
            id: "01J0000000000000000000000A".into(),
            source: Source::Voice,
            raw_content: "memos/a.m4a".into(),
            content_hash: None,
            status: Status::Transcribed,
            meta_json: r#"{"transcript":"buy milk"}"#.into(),
            created_at: 42,
            updated_at: 42,
        }
    }

    #[test]
    fn initial_export_has_front_matter_and_transcript() {
        let text = render(&capture(), ExportMode::Initial, Status::Exported);
        assert!(text.starts_with("---\nid: 01J0000000000000000000000A\n"));
        assert!(text.contains("status: exported\n"));
        assert!(text.ends_with("buy milk\n"));
    }

    #[test]
    fn placeholder_names_the_raw_content() {
        let text = render(
            &capture(),
            ExportMode::Placeholder,
            Status::ExportedPlaceholder,
        );
        assert!(text.contains("memos/a.m4a"));
    }

    #[test]
    fn write_replaces_in_place_and_leaves_no_temp_file() {
        let dir = tempfile::tempdir().expect("temp dir");
        write_atomically(dir.path(), "a.md", "one").expect("first write");
        let path = write_atomically(dir.path(), "a.md", "two").expect("second write");
        assert_eq!(fs::read_to_string(path).expect("read"), "two");
        let names: Vec<_> = fs::read_dir(dir.path())
            .expect("list")
            .map(|entry| entry.expect("entry").file_name())
            .collect();
        assert_eq!(names, ["a.md"]);
    }
}
