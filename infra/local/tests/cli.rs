//! The `tranche` binary itself, started as a process the way an operator starts it.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use serde_json::json;

/// A `tranche serve` process on a free port; killed when dropped.
struct Served {
    child: Child,
    base_url: String,
    startup_line: String,
}

impl Served {
    fn start(data: &std::path::Path) -> Served {
        let mut child = Command::new(env!("CARGO_BIN_EXE_tranche"))
            .args([
                "serve",
                "--addr",
                "127.0.0.1:0",
                "--today",
                "2027-01-04",
                "--data",
            ])
            .arg(data)
            .env("TRANCHE_API_KEY", "tk_cli_test")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("tranche starts");
        let stdout = child.stdout.take().expect("stdout is piped");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("a startup line");
        let addr = line
            .split("http://")
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .unwrap_or_else(|| panic!("no address in the startup line {line:?}"))
            .to_owned();
        Served {
            child,
            base_url: format!("http://{addr}"),
            startup_line: line,
        }
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn serve_says_where_it_listens_and_where_its_data_is() {
    let folder = tempfile::tempdir().unwrap();
    let data = folder.path().join("data");

    let served = Served::start(&data);

    assert!(
        served
            .startup_line
            .contains("listening on http://127.0.0.1:"),
        "{}",
        served.startup_line
    );
    assert!(
        served.startup_line.contains(&data.display().to_string()),
        "{}",
        served.startup_line
    );
    assert!(
        served.startup_line.contains("2027-01-04"),
        "{}",
        served.startup_line
    );
    let health = reqwest::get(format!("{}/healthz", served.base_url))
        .await
        .unwrap();
    assert!(health.status().is_success());
    assert!(data.join("tranche.sqlite3").exists());
}

#[tokio::test]
async fn data_written_before_the_process_is_killed_is_there_after_a_restart() {
    let folder = tempfile::tempdir().unwrap();
    let data = folder.path().join("data");
    let client = reqwest::Client::new();
    let creditor: serde_json::Value = serde_json::from_str(include_str!(
        "../../../tests/fixtures/api/creditor-acme.json"
    ))
    .unwrap();

    let first = Served::start(&data);
    let created = client
        .put(format!("{}/v1/creditors/acme", first.base_url))
        .bearer_auth("tk_cli_test")
        .json(&creditor)
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    drop(first);
    let second = Served::start(&data);
    let read: serde_json::Value = client
        .get(format!("{}/v1/creditors/acme", second.base_url))
        .bearer_auth("tk_cli_test")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();

    assert_eq!(read["name"], json!("Acme Energie GmbH"));
}

#[test]
fn a_malformed_today_is_refused_with_the_expected_form() {
    let output = Command::new(env!("CARGO_BIN_EXE_tranche"))
        .args(["serve", "--today", "03.12.2026"])
        .output()
        .expect("tranche runs");

    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("YYYY-MM-DD"), "{stderr}");
}

#[test]
fn a_bank_file_that_cannot_be_read_makes_returns_exit_non_zero_with_the_reason() {
    let folder = tempfile::tempdir().unwrap();
    let file = folder.path().join("statement.xml");
    std::fs::write(&file, "<html><body>Session expired</body></html>").unwrap();

    let output = Command::new(env!("CARGO_BIN_EXE_tranche"))
        .args(["returns", "--data"])
        .arg(folder.path().join("data"))
        .arg(&file)
        .output()
        .expect("tranche runs");

    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("not a bank report"), "{stderr}");
}
