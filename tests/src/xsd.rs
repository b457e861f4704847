//! Schema validation of pain.008 files, for tests that produce them.
//!
//! The official XSDs (ISO pain.008.001.08 and .02, and the German banks' GBIC_5 subset of .08)
//! ship inside the `sepa` crate's package, a dev-dependency of `tranche-domain`, in its
//! `tests/xsd/` folder: nothing is vendored here. Validation runs Debian's `xmllint`
//! (`apt-get install -y libxml2-utils`); when it is missing, validation panics so that a test
//! run fails instead of passing unchecked.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use tranche_domain::pain008::Pain008Version;

/// The version of the `sepa` package whose XSDs are used.
const SEPA_PACKAGE: &str = "sepa-0.9.0";

/// The folder of the XSDs: `<sepa 0.9.0 package>/tests/xsd`.
///
/// Found through `cargo metadata` (the `manifest_path` of package `sepa` 0.9.0), or else by
/// walking `$CARGO_HOME/registry/src/*/sepa-0.9.0`. Panics when neither finds it, naming the fix.
pub fn xsd_folder() -> PathBuf {
    static FOLDER: OnceLock<PathBuf> = OnceLock::new();
    FOLDER
        .get_or_init(|| {
            from_cargo_metadata().or_else(from_registry).unwrap_or_else(|| {
                panic!(
                    "the XSDs of the {SEPA_PACKAGE} package were not found; run `cargo fetch` in \
                     the workspace (sepa is a dev-dependency of tranche-domain)"
                )
            })
        })
        .clone()
}

fn from_cargo_metadata() -> Option<PathBuf> {
    // Resolving for the host alone needs nothing downloaded (the full resolve wants the
    // sources of other platforms' crates too); if that fails, cargo is asked plainly.
    let host = host_triple();
    let mut attempts: Vec<Vec<String>> = Vec::new();
    if let Some(host) = host {
        attempts.push(vec!["--offline".into(), "--filter-platform".into(), host]);
    }
    attempts.push(Vec::new());
    attempts
        .into_iter()
        .find_map(|extra| sepa_folder_from_metadata(&extra))
}

/// `<sepa package>/tests/xsd` from one `cargo metadata` run with `extra` arguments.
fn sepa_folder_from_metadata(extra: &[String]) -> Option<PathBuf> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("../Cargo.toml");
    let output = Command::new(cargo)
        .args(["metadata", "--format-version", "1"])
        .args(extra)
        .arg("--manifest-path")
        .arg(manifest)
        .output()
        .ok()?;
    if !output.status.success() {
        return None;
    }
    let metadata: serde_json::Value = serde_json::from_slice(&output.stdout).ok()?;
    let package = metadata["packages"]
        .as_array()?
        .iter()
        .find(|package| package["name"] == "sepa" && package["version"] == "0.9.0")?;
    let manifest_path = PathBuf::from(package["manifest_path"].as_str()?);
    let folder = manifest_path.parent()?.join("tests/xsd");
    folder.is_dir().then_some(folder)
}

/// The host's target triple, from `rustc -vV`.
fn host_triple() -> Option<String> {
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let output = Command::new(rustc).arg("-vV").output().ok()?;
    String::from_utf8(output.stdout)
        .ok()?
        .lines()
        .find_map(|line| line.strip_prefix("host: ").map(str::to_owned))
}

fn from_registry() -> Option<PathBuf> {
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| Path::new(&home).join(".cargo")))?;
    std::fs::read_dir(cargo_home.join("registry/src"))
        .ok()?
        .flatten()
        .map(|index| index.path().join(SEPA_PACKAGE).join("tests/xsd"))
        .find(|folder| folder.is_dir())
}

/// The XSD a version is validated against.
pub fn xsd_path(version: Pain008Version) -> PathBuf {
    xsd_folder().join(match version {
        Pain008Version::V08 => "pain.008.001.08.xsd",
        Pain008Version::V02 => "pain.008.001.02.xsd",
        Pain008Version::Gbic5 => "pain.008.001.08_GBIC_5.xsd",
    })
}

/// Validates a pain.008 file against the XSD of `version` with
/// `xmllint --noout --schema`; `Err` carries xmllint's verdict.
///
/// Panics when xmllint is not installed: a missing validator must fail the test run, never
/// pass it.
pub fn validate_pain008(xml: &[u8], version: Pain008Version) -> Result<(), String> {
    let folder = tempfile::tempdir().map_err(|e| format!("no temporary folder: {e}"))?;
    let file = folder.path().join("pain.008.xml");
    std::fs::write(&file, xml).map_err(|e| format!("the file could not be written: {e}"))?;
    validate_pain008_file(&file, version)
}

/// Validates a pain.008 file on disk, as [`validate_pain008`] does.
pub fn validate_pain008_file(file: &Path, version: Pain008Version) -> Result<(), String> {
    let output = match Command::new("xmllint")
        .arg("--noout")
        .arg("--schema")
        .arg(xsd_path(version))
        .arg(file)
        .output()
    {
        Ok(output) => output,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => panic!(
            "xmllint is not installed, so pain.008 files cannot be checked against the XSDs; \
             install it with `apt-get install -y libxml2-utils`"
        ),
        Err(error) => panic!("xmllint could not be run: {error}"),
    };
    if output.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&output.stderr).into_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_version_has_its_xsd_in_the_sepa_package() {
        for version in [
            Pain008Version::V08,
            Pain008Version::V02,
            Pain008Version::Gbic5,
        ] {
            assert!(xsd_path(version).is_file(), "{version:?}");
        }
    }

    #[test]
    fn a_document_that_is_not_a_pain008_is_refused() {
        let verdict = validate_pain008(
            b"<?xml version=\"1.0\" encoding=\"UTF-8\"?><Document xmlns=\"urn:iso:std:iso:20022:tech:xsd:pain.008.001.08\"><Nothing/></Document>",
            Pain008Version::V08,
        )
        .unwrap_err();
        assert!(verdict.contains("Nothing"), "{verdict}");
    }
}
