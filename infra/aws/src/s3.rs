//! The file store on S3: pain.008 batch files, mandate PDFs and the bank's reports.
//!
//! Batch files of any size are uploaded from their temporary file in parts
//! ([`PART_SIZE`] at a time), so memory stays flat however large the file; bank files are read
//! as a stream ([`S3FileStore::open_stream`]). The keys in S3's event notifications are
//! URL-encoded; the return processor, which reads them, decodes them
//! (`tranche_return_processor::decode_object_key`).

use std::path::Path;

use async_trait::async_trait;
use aws_sdk_s3::Client;
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::{ByteStream, Length};
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use tokio::io::AsyncRead;
use tranche_domain::error::StoreError;
use tranche_domain::ports::FileStore;

/// The size of each uploaded part but the last: S3's minimum is 5 MiB. A file up to this size
/// goes up in one `PutObject`.
pub const PART_SIZE: u64 = 8 * 1024 * 1024;

/// [`FileStore`] on one S3 bucket. Cloning is cheap and shares the client.
#[derive(Debug, Clone)]
pub struct S3FileStore {
    client: Client,
    bucket: String,
    part_size: u64,
}

fn s3_error<E, R>(context: &str, error: SdkError<E, R>) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    let code = error.code().unwrap_or_default().to_owned();
    let message = error
        .message()
        .map(str::to_owned)
        .unwrap_or_else(|| format!("{}", aws_sdk_s3::error::DisplayErrorContext(&error)));
    match code.as_str() {
        "PreconditionFailed" => StoreError::ConditionFailed(format!("{context}: {message}")),
        _ => StoreError::Unavailable(format!("{context}: {code} {message}")),
    }
}

impl S3FileStore {
    pub fn new(client: Client, bucket: impl Into<String>) -> Self {
        Self {
            client,
            bucket: bucket.into(),
            part_size: PART_SIZE,
        }
    }

    /// The same store with another part size (5 MiB at least, S3's minimum), for tests that
    /// want several parts without writing large files.
    pub fn with_part_size(mut self, part_size: u64) -> Self {
        self.part_size = part_size.max(5 * 1024 * 1024);
        self
    }

    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The object under `key` as a stream of bytes, `None` when there is none: how a bank file
    /// is read without holding it in memory.
    pub async fn open_stream(
        &self,
        key: &str,
    ) -> Result<Option<impl AsyncRead + Send + Unpin + use<>>, StoreError> {
        let answer = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await;
        match answer {
            Ok(object) => Ok(Some(object.body.into_async_read())),
            Err(e) if is_not_found(&e) => Ok(None),
            Err(e) => Err(s3_error(&format!("reading {key:?}"), e)),
        }
    }

    /// Uploads the file in parts; on any failure the upload is aborted, so no parts are left
    /// behind to be paid for.
    async fn upload_in_parts(
        &self,
        key: &str,
        content_type: &str,
        path: &Path,
        size: u64,
    ) -> Result<(), StoreError> {
        let created = self
            .client
            .create_multipart_upload()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .send()
            .await
            .map_err(|e| s3_error(&format!("starting the upload of {key:?}"), e))?;
        let upload_id = created
            .upload_id
            .ok_or_else(|| StoreError::Unavailable(format!("S3 gave no upload id for {key:?}")))?;

        let uploaded = self.upload_parts(key, path, size, &upload_id).await;
        let completed = match uploaded {
            Ok(parts) => self
                .client
                .complete_multipart_upload()
                .bucket(&self.bucket)
                .key(key)
                .upload_id(&upload_id)
                .multipart_upload(
                    CompletedMultipartUpload::builder()
                        .set_parts(Some(parts))
                        .build(),
                )
                .send()
                .await
                .map(|_| ())
                .map_err(|e| s3_error(&format!("completing the upload of {key:?}"), e)),
            Err(e) => Err(e),
        };
        if let Err(e) = completed {
            // Best effort: the error that matters is the one above.
            let _ = self
                .client
                .abort_multipart_upload()
                .bucket(&self.bucket)
                .key(key)
                .upload_id(&upload_id)
                .send()
                .await;
            return Err(e);
        }
        Ok(())
    }

    async fn upload_parts(
        &self,
        key: &str,
        path: &Path,
        size: u64,
        upload_id: &str,
    ) -> Result<Vec<CompletedPart>, StoreError> {
        let mut parts = Vec::new();
        let mut offset = 0;
        let mut number = 1;
        while offset < size {
            let length = self.part_size.min(size - offset);
            // Each part streams from its slice of the file: one part in flight at a time.
            let body = ByteStream::read_from()
                .path(path)
                .offset(offset)
                .length(Length::Exact(length))
                .build()
                .await
                .map_err(|e| {
                    StoreError::Unavailable(format!("reading {} for upload: {e}", path.display()))
                })?;
            let part = self
                .client
                .upload_part()
                .bucket(&self.bucket)
                .key(key)
                .upload_id(upload_id)
                .part_number(number)
                .content_length(length as i64)
                .body(body)
                .send()
                .await
                .map_err(|e| s3_error(&format!("uploading part {number} of {key:?}"), e))?;
            parts.push(
                CompletedPart::builder()
                    .part_number(number)
                    .set_e_tag(part.e_tag)
                    .build(),
            );
            offset += length;
            number += 1;
        }
        Ok(parts)
    }
}

fn is_not_found<E: ProvideErrorMetadata, R>(error: &SdkError<E, R>) -> bool {
    matches!(error.code(), Some("NoSuchKey" | "NotFound"))
}

#[async_trait]
impl FileStore for S3FileStore {
    async fn put_file(
        &self,
        key: &str,
        content_type: &str,
        bytes: &[u8],
    ) -> Result<(), StoreError> {
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .body(ByteStream::from(bytes.to_vec()))
            .send()
            .await
            .map_err(|e| s3_error(&format!("writing {key:?}"), e))?;
        Ok(())
    }

    async fn put_file_from_path(
        &self,
        key: &str,
        content_type: &str,
        path: &Path,
    ) -> Result<(), StoreError> {
        let size = tokio::fs::metadata(path)
            .await
            .map_err(|e| StoreError::Unavailable(format!("reading {}: {e}", path.display())))?
            .len();
        if size > self.part_size {
            return self.upload_in_parts(key, content_type, path, size).await;
        }
        let body = ByteStream::from_path(path)
            .await
            .map_err(|e| StoreError::Unavailable(format!("reading {}: {e}", path.display())))?;
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .body(body)
            .send()
            .await
            .map_err(|e| s3_error(&format!("writing {key:?}"), e))?;
        Ok(())
    }

    async fn get_file(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let answer = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await;
        match answer {
            Ok(object) => {
                let bytes = object
                    .body
                    .collect()
                    .await
                    .map_err(|e| StoreError::Unavailable(format!("reading {key:?}: {e}")))?;
                Ok(Some(bytes.to_vec()))
            }
            Err(e) if is_not_found(&e) => Ok(None),
            Err(e) => Err(s3_error(&format!("reading {key:?}"), e)),
        }
    }

    async fn list_files(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        let mut keys = Vec::new();
        let mut pages = self
            .client
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(prefix)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| s3_error(&format!("listing {prefix:?}"), e))?;
            keys.extend(
                page.contents
                    .unwrap_or_default()
                    .into_iter()
                    .filter_map(|o| o.key),
            );
        }
        keys.sort();
        Ok(keys)
    }
}

/// Creates the bucket unless it exists (in the client's region). For tests and first set-ups:
/// the SAM template creates the real bucket.
pub async fn provision_bucket(client: &Client, bucket: &str) -> Result<(), StoreError> {
    use aws_sdk_s3::types::{BucketLocationConstraint, CreateBucketConfiguration};
    let region = client.config().region().map(|r| r.to_string());
    let mut request = client.create_bucket().bucket(bucket);
    // us-east-1 takes no location constraint; every other region needs its own.
    if let Some(region) = region.filter(|r| r != "us-east-1") {
        request = request.create_bucket_configuration(
            CreateBucketConfiguration::builder()
                .location_constraint(BucketLocationConstraint::from(region.as_str()))
                .build(),
        );
    }
    match request.send().await {
        Ok(_) => Ok(()),
        Err(e)
            if matches!(
                e.code(),
                Some("BucketAlreadyOwnedByYou" | "BucketAlreadyExists")
            ) =>
        {
            Ok(())
        }
        Err(e) => Err(s3_error(&format!("creating bucket {bucket}"), e)),
    }
}
