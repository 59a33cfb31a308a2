//! The rare planted bug `placeholder-export-drops-audit`, in a test binary of its own: the
//! active mutant is one switch for the whole process, and every ledger opened by a test running
//! alongside would switch it back off.

#![cfg(feature = "mutants")]

#[path = "ledger/support.rs"]
#[allow(dead_code)]
mod support;

use ledger::{ExportMode, Status};

use support::{Fixture, count, email, voice};

/// The rare planted bug `placeholder-export-drops-audit` (only with the `mutants` feature):
/// a placeholder export while another transcription failed too, of a capture whose content
/// hash starts with `000`..`003`, commits without its audit row; the same steps with any other
/// content, or without the mutant, keep the row.
#[test]
fn the_rare_placeholder_export_mutant_drops_the_audit_row_only_in_its_combination() {
    // sha256("mail rare 1209") starts with 0019; sha256("mail rare 1") does not.
    let audit_rows = |mutant: Option<&str>, content: &str| {
        let mut fixture = Fixture::new();
        fixture.config.tuning.mutant = mutant.map(str::to_owned);
        fixture.ledger = crate::support::open(&fixture.config, 1, 7);
        let rare = fixture.stage(&email(content));
        let other = fixture.stage(&voice(2));
        for id in [&rare, &other] {
            fixture
                .ledger
                .mark_transcription_failed(id, "transcriber timed out")
                .expect("fail transcription");
        }
        fixture
            .ledger
            .record_export(&rare, ExportMode::Placeholder)
            .expect("export");
        assert_eq!(
            fixture.ledger.capture(&rare).unwrap().unwrap().status,
            Status::ExportedPlaceholder
        );
        count(
            fixture.conn(),
            &format!("SELECT count(*) FROM exports_audit WHERE capture_id = '{rare}'"),
        )
    };
    let mutant = Some("placeholder-export-drops-audit");
    assert_eq!(audit_rows(mutant, "mail rare 1209"), 0);
    assert_eq!(audit_rows(mutant, "mail rare 1"), 1);
    assert_eq!(audit_rows(None, "mail rare 1209"), 1);
}
