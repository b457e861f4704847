//! `tranche demo` as a person runs it: the real binary on a fresh folder, from start to end.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn demo(data: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tranche"))
        .arg("demo")
        .arg("--data")
        .arg(data)
        .env_remove("TRANCHE_DATA")
        .env_remove("TRANCHE_LOG")
        .output()
        .expect("tranche runs")
}

/// Every file under `folder`, at any depth.
fn files_under(folder: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(folder) else {
        return Vec::new();
    };
    entries
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .flat_map(|path| {
            if path.is_dir() {
                files_under(&path)
            } else {
                vec![path]
            }
        })
        .collect()
}

#[test]
fn the_demo_tells_the_whole_story_and_leaves_its_files_behind() {
    let folder = tempfile::tempdir().expect("a temporary folder");
    let data = folder.path().join("demo");

    let output = demo(&data);

    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "the demo failed ({}):\n{stdout}\n{stderr}",
        output.status
    );
    for fact in [
        "3 plans signed",
        "pain.008.001.08 file",
        "AM04",
        "MS02",
        "rejected with AM04, was re-presented",
        "Call the customer",
        "reschedule?dry_run=true",
        "the plan is active again",
        "closed: new plan agreed",
        "tranche serve --data",
    ] {
        assert!(
            stdout.contains(fact),
            "the story does not say {fact:?}:\n{stdout}"
        );
    }
    let batch_files: Vec<PathBuf> = files_under(&data.join("files").join("batches"))
        .into_iter()
        .filter(|path| {
            std::fs::read_to_string(path)
                .is_ok_and(|xml| xml.contains("urn:iso:std:iso:20022:tech:xsd:pain.008"))
        })
        .collect();
    assert!(
        batch_files.len() >= 2,
        "expected the first files and the re-presentation's: {batch_files:?}"
    );
    let mails = files_under(&data.join("outbox"))
        .into_iter()
        .filter(|path| path.extension().is_some_and(|e| e == "eml"))
        .count();
    assert!(mails >= 6, "only {mails} e-mails in the outbox");
    assert!(
        files_under(&data.join("bank"))
            .iter()
            .any(|path| path.to_string_lossy().contains("pain.002")),
        "the bank's report is not in the data folder"
    );
}

#[test]
fn the_demo_refuses_a_folder_that_already_holds_data() {
    let folder = tempfile::tempdir().expect("a temporary folder");
    std::fs::write(folder.path().join("tranche.sqlite3"), b"real data").expect("a file");

    let output = demo(folder.path());

    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("empty data folder"),
        "unexpected error: {stderr}"
    );
    assert_eq!(
        std::fs::read(folder.path().join("tranche.sqlite3")).expect("the file is still there"),
        b"real data"
    );
}
