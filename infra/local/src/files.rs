//! The file store as a folder on disk: what S3 holds in the cloud (pain.008 batches, mandate
//! PDFs, bank reports) as plain files under `--data`, so they can be opened, diffed and handed
//! to a bank by hand.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};

use async_trait::async_trait;
use tranche_domain::error::StoreError;
use tranche_domain::ports::FileStore;

/// [`FileStore`] on a folder. A key is a relative path with `/` between its segments
/// (`batches/2027-03-01/acme.xml`), and becomes the same path under the folder.
///
/// Keys are checked before they touch the disk: no segment may be empty or start with a dot
/// (which rules out `.` and `..`), and no key may start with `/` or hold a backslash or a
/// control character. So a key can never name a file outside the folder, whatever a caller
/// passes on.
///
/// A write goes to a hidden temporary file beside the target, is flushed to disk and then
/// renamed over the target, so a reader or a crash sees either the old file or the whole new one,
/// never part of it. A crash between the two steps can leave a hidden `.*.tmp` file behind; it is
/// never listed or read, and may be deleted at any time.
///
/// Limits, compared with S3: the content type is not kept (`get_file` does not return it), and a
/// key cannot be both a file and the folder of other keys (`a` and `a/b`): the second write fails
/// with [`StoreError::Unavailable`].
#[derive(Debug, Clone)]
pub struct DiskFileStore {
    root: PathBuf,
}

impl DiskFileStore {
    /// Uses the folder `root` for the files, creating it when it does not exist.
    pub fn open(root: &Path) -> Result<Self, StoreError> {
        fs::create_dir_all(root).map_err(|e| {
            StoreError::Unavailable(format!(
                "could not create the file folder {}: {e}",
                root.display()
            ))
        })?;
        Ok(Self {
            root: root.to_owned(),
        })
    }

    /// The folder the files are in.
    pub fn root(&self) -> &Path {
        &self.root
    }
}

/// Refuses a key that is not a plain relative path, so no key can reach outside the folder.
/// Answers [`StoreError::Corrupt`], the variant that says a retry cannot help.
fn check_key(key: &str) -> Result<(), StoreError> {
    let refuse = |why: &str| {
        Err(StoreError::Corrupt(format!(
            "the file key {key:?} is not allowed: {why}; use a relative path of segments \
             separated by '/', like \"batches/2027-03-01/acme.xml\""
        )))
    };
    if key.is_empty() {
        return refuse("it is empty");
    }
    if key.starts_with('/') {
        return refuse("it is an absolute path");
    }
    if key.contains('\\') {
        return refuse("it holds a backslash");
    }
    if key.chars().any(char::is_control) {
        return refuse("it holds a control character");
    }
    for segment in key.split('/') {
        if segment.is_empty() {
            return refuse("it has an empty segment");
        }
        if segment == ".." || segment == "." {
            return refuse("it has a '.' or '..' segment");
        }
        if segment.starts_with('.') {
            return refuse("a segment starts with a dot, which is kept for temporary files");
        }
    }
    Ok(())
}

/// Refuses a list prefix that could walk out of the folder. A prefix is any start of a key
/// (`batches/2027-`), so unlike a key it may be empty or end with `/`.
fn check_prefix(prefix: &str) -> Result<(), StoreError> {
    let escapes = prefix.starts_with('/')
        || prefix.contains('\\')
        || prefix.chars().any(char::is_control)
        || prefix.split('/').any(|segment| segment == "..");
    if escapes {
        return Err(StoreError::Corrupt(format!(
            "the list prefix {prefix:?} is not allowed: it must be the start of a relative key, \
             with no '..' segment, backslash or leading '/'"
        )));
    }
    Ok(())
}

fn io_error(what: &str, key: &str, error: io::Error) -> StoreError {
    StoreError::Unavailable(format!("{what} {key:?} failed: {error}"))
}

/// Runs blocking work (files, the database) on Tokio's blocking pool, so a slow disk never
/// stalls a runtime worker. A panic inside surfaces in the caller, as it would without the
/// thread hop; a cancelled task is an unavailable store, named by `task`.
pub(crate) async fn on_blocking_pool<T: Send + 'static>(
    task: &str,
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, StoreError> {
    match tokio::task::spawn_blocking(work).await {
        Ok(answer) => Ok(answer),
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        Err(e) => Err(StoreError::Unavailable(format!(
            "the {task} task was cancelled: {e}"
        ))),
    }
}

/// Runs blocking file work on the blocking pool ([`on_blocking_pool`]).
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    on_blocking_pool("file", work).await?
}

/// Tells the temporary files of concurrent writes in this process apart.
static TEMPORARY_FILE_COUNTER: AtomicU64 = AtomicU64::new(0);

/// Writes `bytes` to `path` so that the file is either absent or complete: a hidden temporary
/// file beside it, flushed, renamed over it, then the folder flushed so the rename survives a
/// power cut. Missing parent folders are created.
pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> io::Result<()> {
    write_atomically_with(path, |file| file.write_all(bytes))
}

/// As [`write_atomically`], with the content written by `fill` (a copy from another file, so
/// a large file never passes through memory).
pub(crate) fn write_atomically_with(
    path: &Path,
    fill: impl FnOnce(&mut File) -> io::Result<()>,
) -> io::Result<()> {
    let folder = path
        .parent()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "the path has no folder"))?;
    fs::create_dir_all(folder)?;
    write_and_rename(path, fill, None)?;
    sync_folder(folder)
}

/// As [`write_atomically`], for writers that call it many times at once into one folder (the
/// outbox): the folder is flushed through `syncs`, once for every rename that finished before
/// the flush began, instead of once per file. Each call still returns only once its own rename
/// is on disk.
pub(crate) fn write_atomically_sharing_sync(
    path: &Path,
    bytes: &[u8],
    syncs: &FolderSyncs,
) -> io::Result<()> {
    let folder = path
        .parent()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "the path has no folder"))?;
    let entries = Some(&syncs.entries);
    match write_and_rename(path, |file| file.write_all(bytes), entries) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            fs::create_dir_all(folder)?;
            write_and_rename(path, |file| file.write_all(bytes), entries)?;
        }
        written => written?,
    }
    syncs.sync_after_rename(folder)
}

/// Writes several new files into `folder` as [`write_atomically_sharing_sync`] writes one, with
/// one flush of the file system for all of them instead of one per file: every file is written
/// under a hidden temporary name, the file system is flushed once (`syncfs` on Linux; elsewhere
/// each file is flushed), every file is renamed to its name in `files`, and the folder is
/// flushed through `syncs`. A crash leaves each file whole or absent. On an error the
/// temporary files are removed; files renamed before it stay.
pub(crate) fn write_all_atomically(
    folder: &Path,
    files: &[(String, Vec<u8>)],
    syncs: &FolderSyncs,
) -> io::Result<()> {
    fs::create_dir_all(folder)?;
    let mut temporaries: Vec<PathBuf> = Vec::with_capacity(files.len());
    let written = (|| {
        for (name, bytes) in files {
            let temporary = temporary_beside(&folder.join(name))?;
            let mut file = File::create_new(&temporary)?;
            temporaries.push(temporary);
            file.write_all(bytes)?;
            #[cfg(not(target_os = "linux"))]
            file.sync_all()?;
        }
        #[cfg(target_os = "linux")]
        rustix::fs::syncfs(File::open(folder)?)?;
        for ((name, _), temporary) in files.iter().zip(&temporaries) {
            fs::rename(temporary, folder.join(name))?;
        }
        Ok(())
    })();
    if let Err(e) = written {
        for temporary in &temporaries {
            // Best effort, as for one file; a renamed one is no longer there.
            let _ = fs::remove_file(temporary);
        }
        return Err(e);
    }
    syncs.sync_after_rename(folder)
}

/// Folder flushes shared by the writers of one folder, the way a database shares one log sync
/// among the commits that wait for it: a writer whose rename is finished waits for a flush that
/// began after it, and whichever writer runs the flush runs it for every rename finished so far.
#[derive(Debug, Default)]
pub(crate) struct FolderSyncs {
    /// Renames finished, and renames known to be on disk.
    counts: Mutex<(u64, u64)>,
    /// Held while a flush runs, so one runs at a time and the others wait for its outcome.
    flushing: Mutex<()>,
    /// Held while a file is created or renamed in the folder: many threads doing that at once
    /// spin in the kernel on the folder's lock, which costs more than waiting here asleep.
    entries: Mutex<()>,
}

impl FolderSyncs {
    /// Returns once the rename the caller has just finished is on disk.
    fn sync_after_rename(&self, folder: &Path) -> io::Result<()> {
        let counts = || self.counts.lock().unwrap_or_else(PoisonError::into_inner);
        let mine = {
            let mut counts = counts();
            counts.0 += 1;
            counts.0
        };
        let _flushing = self.flushing.lock().unwrap_or_else(PoisonError::into_inner);
        let (finished, on_disk) = *counts();
        if on_disk >= mine {
            return Ok(());
        }
        // Every rename counted in `finished` is complete, so this flush covers it.
        sync_folder(folder)?;
        let mut counts = counts();
        counts.1 = counts.1.max(finished);
        Ok(())
    }
}

/// Writes a hidden temporary file beside `path`, flushes it and renames it over `path`; the
/// folder itself is not flushed.
fn write_and_rename(
    path: &Path,
    fill: impl FnOnce(&mut File) -> io::Result<()>,
    entries: Option<&Mutex<()>>,
) -> io::Result<()> {
    let temporary = temporary_beside(path)?;
    let entry = || entries.map(|m| m.lock().unwrap_or_else(PoisonError::into_inner));
    let written = (|| {
        let mut file = {
            let _entry = entry();
            File::create_new(&temporary)?
        };
        fill(&mut file)?;
        file.sync_all()?;
        let _entry = entry();
        fs::rename(&temporary, path)
    })();
    if let Err(e) = written {
        // Best effort: the temporary file is invisible to readers either way.
        let _ = fs::remove_file(&temporary);
        return Err(e);
    }
    Ok(())
}

/// A hidden name beside `path`, unique in this process and among processes.
fn temporary_beside(path: &Path) -> io::Result<PathBuf> {
    let folder = path
        .parent()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "the path has no folder"))?;
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "the path has no file name"))?;
    let counter = TEMPORARY_FILE_COUNTER.fetch_add(1, Ordering::Relaxed);
    Ok(folder.join(format!(
        ".{}.{}-{counter}.tmp",
        name.to_string_lossy(),
        std::process::id()
    )))
}

#[cfg(unix)]
fn sync_folder(folder: &Path) -> io::Result<()> {
    File::open(folder)?.sync_all()
}

#[cfg(not(unix))]
fn sync_folder(_folder: &Path) -> io::Result<()> {
    Ok(())
}

/// Collects the keys of every visible file under `folder` (whose key is `folder_key`, empty for
/// the root) into `keys`. Hidden entries (temporary files) and names that are not UTF-8 (which no
/// key can produce) are skipped.
fn collect_keys(folder: &Path, folder_key: &str, keys: &mut Vec<String>) -> io::Result<()> {
    let entries = match fs::read_dir(folder) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    for entry in entries {
        let entry = entry?;
        let Ok(name) = entry.file_name().into_string() else {
            continue;
        };
        if name.starts_with('.') {
            continue;
        }
        let key = if folder_key.is_empty() {
            name
        } else {
            format!("{folder_key}/{name}")
        };
        let file_type = entry.file_type()?;
        if file_type.is_dir() {
            collect_keys(&entry.path(), &key, keys)?;
        } else if file_type.is_file() {
            keys.push(key);
        }
    }
    Ok(())
}

#[async_trait]
impl FileStore for DiskFileStore {
    /// `content_type` is not kept: a folder has nowhere natural to put it, and the file
    /// extension in the key says the same to anyone opening the file.
    async fn put_file(
        &self,
        key: &str,
        _content_type: &str,
        bytes: &[u8],
    ) -> Result<(), StoreError> {
        check_key(key)?;
        let path = self.root.join(key);
        let key = key.to_owned();
        let bytes = bytes.to_vec();
        blocking(move || {
            write_atomically(&path, &bytes).map_err(|e| io_error("writing file", &key, e))
        })
        .await
    }

    async fn put_file_from_path(
        &self,
        key: &str,
        _content_type: &str,
        source: &Path,
    ) -> Result<(), StoreError> {
        check_key(key)?;
        let path = self.root.join(key);
        let key = key.to_owned();
        let source = source.to_owned();
        blocking(move || {
            write_atomically_with(&path, |file| {
                io::copy(&mut File::open(&source)?, file).map(|_| ())
            })
            .map_err(|e| io_error("writing file", &key, e))
        })
        .await
    }

    async fn get_file(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        check_key(key)?;
        let path = self.root.join(key);
        let key = key.to_owned();
        blocking(move || match fs::read(&path) {
            Ok(bytes) => Ok(Some(bytes)),
            // A folder is the common prefix of other keys, not a file: absent, as in S3.
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::NotFound
                        | io::ErrorKind::IsADirectory
                        | io::ErrorKind::NotADirectory
                ) =>
            {
                Ok(None)
            }
            Err(e) => Err(io_error("reading file", &key, e)),
        })
        .await
    }

    /// Keys that start with `prefix` as text (`batches/2027-` finds `batches/2027-03-01/a.xml`),
    /// as S3 lists them, in byte order.
    async fn list_files(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        check_prefix(prefix)?;
        // Only the folder the prefix's complete segments name can hold matching keys.
        let folder_key = prefix
            .rsplit_once('/')
            .map_or("", |(folder, _)| folder)
            .to_owned();
        let folder = if folder_key.is_empty() {
            self.root.clone()
        } else {
            self.root.join(&folder_key)
        };
        let prefix = prefix.to_owned();
        blocking(move || {
            let mut keys = Vec::new();
            collect_keys(&folder, &folder_key, &mut keys)
                .map_err(|e| io_error("listing files under", &prefix, e))?;
            keys.retain(|key| key.starts_with(&prefix));
            keys.sort_unstable();
            Ok(keys)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> (tempfile::TempDir, DiskFileStore) {
        let folder = tempfile::tempdir().unwrap();
        let store = DiskFileStore::open(&folder.path().join("files")).unwrap();
        (folder, store)
    }

    #[test]
    fn files_written_at_once_sharing_folder_flushes_are_each_complete_and_leave_no_temporary() {
        let folder = tempfile::tempdir().unwrap();
        let outbox = folder.path().join("outbox");
        let syncs = FolderSyncs::default();

        std::thread::scope(|scope| {
            for writer in 0..8 {
                let (outbox, syncs) = (&outbox, &syncs);
                scope.spawn(move || {
                    for n in 0..25 {
                        let path = outbox.join(format!("{writer}-{n}.eml"));
                        let text = format!("e-mail {n} of writer {writer}");
                        write_atomically_sharing_sync(&path, text.as_bytes(), syncs).unwrap();
                    }
                });
            }
        });

        let mut names: Vec<String> = fs::read_dir(&outbox)
            .unwrap()
            .map(|entry| entry.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        assert_eq!(names.len(), 200, "{names:?}");
        assert!(names.iter().all(|name| !name.starts_with('.')), "{names:?}");
        let text = fs::read_to_string(outbox.join("7-24.eml")).unwrap();
        assert_eq!(text, "e-mail 24 of writer 7");
        let counts = *syncs.counts.lock().unwrap();
        assert_eq!(counts.0, 200, "every rename counted");
        assert_eq!(counts.1, 200, "every rename flushed");
    }

    #[tokio::test]
    async fn a_file_reads_back_as_written_and_a_second_write_replaces_it() {
        let (_folder, store) = store();

        store
            .put_file(
                "batches/2027-03-01/acme.xml",
                "application/xml",
                b"<first/>",
            )
            .await
            .unwrap();
        store
            .put_file(
                "batches/2027-03-01/acme.xml",
                "application/xml",
                b"<second/>",
            )
            .await
            .unwrap();

        let bytes = store.get_file("batches/2027-03-01/acme.xml").await.unwrap();
        assert_eq!(bytes.as_deref(), Some(&b"<second/>"[..]));
        assert!(
            store
                .root()
                .join("batches")
                .join("2027-03-01")
                .join("acme.xml")
                .is_file()
        );
    }

    #[tokio::test]
    async fn an_unknown_key_or_a_folder_reads_as_absent() {
        let (_folder, store) = store();
        store
            .put_file("a/b.pdf", "application/pdf", b"%PDF")
            .await
            .unwrap();

        assert_eq!(store.get_file("missing.pdf").await.unwrap(), None);
        assert_eq!(store.get_file("a").await.unwrap(), None);
        assert_eq!(store.get_file("a/b.pdf/c").await.unwrap(), None);
    }

    #[tokio::test]
    async fn keys_that_could_leave_the_folder_are_refused_before_touching_the_disk() {
        let (folder, store) = store();
        let bad_keys = [
            "",
            "/etc/passwd",
            "../outside.txt",
            "a/../../outside.txt",
            "a/./b",
            "a\\b",
            "a//b",
            "a/",
            ".hidden",
            "a/.b.tmp",
            "line\nbreak",
        ];

        for key in bad_keys {
            let put = store.put_file(key, "text/plain", b"x").await;
            let get = store.get_file(key).await;
            assert!(
                matches!(put, Err(StoreError::Corrupt(_))),
                "put {key:?}: {put:?}"
            );
            assert!(
                matches!(get, Err(StoreError::Corrupt(_))),
                "get {key:?}: {get:?}"
            );
        }
        for prefix in ["../", "/", "a/../..", "a\\"] {
            let listed = store.list_files(prefix).await;
            assert!(
                matches!(listed, Err(StoreError::Corrupt(_))),
                "list {prefix:?}"
            );
        }
        assert!(!folder.path().join("outside.txt").exists());
    }

    #[tokio::test]
    async fn listing_finds_keys_by_text_prefix_sorted_and_skips_temporary_files() {
        let (_folder, store) = store();
        for key in [
            "returns/camt054-2.xml",
            "batches/2027-03-02/b.xml",
            "batches/2027-03-01/b.xml",
            "batches/2027-03-01/a.xml",
            "mandates/mnd_1.pdf",
        ] {
            store
                .put_file(key, "application/octet-stream", b"x")
                .await
                .unwrap();
        }
        fs::write(store.root().join("batches").join(".left-over.tmp"), b"half").unwrap();

        let all = store.list_files("").await.unwrap();
        let batches = store.list_files("batches/").await.unwrap();
        let march_first = store.list_files("batches/2027-03-01").await.unwrap();
        let partial_segment = store.list_files("ret").await.unwrap();
        let nothing = store.list_files("nothing/here/").await.unwrap();

        assert_eq!(
            all,
            [
                "batches/2027-03-01/a.xml",
                "batches/2027-03-01/b.xml",
                "batches/2027-03-02/b.xml",
                "mandates/mnd_1.pdf",
                "returns/camt054-2.xml",
            ]
        );
        assert_eq!(batches, all[..3]);
        assert_eq!(march_first, all[..2]);
        assert_eq!(partial_segment, ["returns/camt054-2.xml"]);
        assert!(nothing.is_empty());
    }

    #[tokio::test]
    async fn a_write_leaves_no_temporary_file_behind() {
        let (_folder, store) = store();

        store
            .put_file("reports/a.xml", "application/xml", b"<a/>")
            .await
            .unwrap();

        let names: Vec<String> = fs::read_dir(store.root().join("reports"))
            .unwrap()
            .map(|entry| entry.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(names, ["a.xml"]);
    }

    #[tokio::test]
    async fn concurrent_writes_of_one_key_leave_one_whole_file() {
        let (_folder, store) = store();
        let contents: Vec<Vec<u8>> = (0..8u8).map(|n| vec![n; 64 * 1024]).collect();

        let writes = contents.iter().map(|bytes| {
            let store = store.clone();
            let bytes = bytes.clone();
            tokio::spawn(async move { store.put_file("same.bin", "", &bytes).await })
        });
        for write in writes.collect::<Vec<_>>() {
            write.await.unwrap().unwrap();
        }

        let stored = store.get_file("same.bin").await.unwrap().unwrap();
        assert!(contents.contains(&stored));
    }
}
