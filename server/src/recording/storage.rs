//! Where sealed files live: the spool (this instance's disk, while a part records and until its
//! upload succeeded) and the store (every instance's, through the `object_store` crate: a local
//! folder, or an S3-compatible bucket). Both are `ObjectStore`s, so that reading a file is the
//! same wherever it is.

use std::path::{Path as FsPath, PathBuf};
use std::sync::Arc;

use std::time::Duration;

use anyhow::Context as _;
use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::{
    BackoffConfig, ClientOptions, ObjectStore, ObjectStoreExt, PutPayload, RetryConfig,
    WriteMultipart,
};
use secrecy::ExposeSecret;
use sha2::{Digest, Sha256};
use tokio::io::AsyncReadExt;

use super::sealed::{HEADER_BYTES, Layout, Opener, SealError};
use super::settings::{RecordingSettings, S3Settings, StoreKind};

#[derive(Clone)]
pub struct Storage {
    pub spool_dir: PathBuf,
    spool: Arc<dyn ObjectStore>,
    store: Arc<dyn ObjectStore>,
}

/// Where a file is to be read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place {
    Spool,
    Store,
}

fn local(dir: &FsPath) -> anyhow::Result<Arc<dyn ObjectStore>> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    Ok(Arc::new(
        LocalFileSystem::new_with_prefix(dir)
            .with_context(|| format!("opening {} as a store", dir.display()))?,
    ))
}

/// The bucket of `[recording.s3]`. Requests are path-style (`<endpoint>/<bucket>/<key>`), which
/// every S3-compatible service takes. A request that fails is retried by `object_store` for a
/// few seconds only: the recorder's keeper retries a failed upload every 30 s anyway, and a part
/// that closes while the store is down must not hold its close (or a shutdown) for minutes.
fn s3(s: &S3Settings) -> anyhow::Result<Arc<dyn ObjectStore>> {
    // reqwest is built without a crypto provider of its own (no second TLS crypto stack beside
    // the `ring` that rustls already uses here): it takes the process's default, which must be
    // installed before the client is built, or it panics. Installed once; a later call (another
    // store, or something else that installed ring first) is refused harmlessly.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let retry = RetryConfig {
        backoff: BackoffConfig {
            init_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(4),
            base: 2.0,
        },
        max_retries: 3,
        retry_timeout: Duration::from_secs(15),
    };
    let store = AmazonS3Builder::new()
        .with_endpoint(&s.endpoint)
        .with_bucket_name(&s.bucket)
        .with_region(&s.region)
        .with_access_key_id(&s.access_key_id)
        .with_secret_access_key(s.secret_access_key.expose_secret())
        .with_allow_http(s.allow_http)
        .with_virtual_hosted_style_request(false)
        .with_retry(retry)
        .with_client_options(
            ClientOptions::new()
                .with_allow_http(s.allow_http)
                .with_connect_timeout(Duration::from_secs(5))
                .with_timeout(Duration::from_secs(60)),
        )
        .build()
        .with_context(|| format!("opening the bucket {} at {}", s.bucket, s.endpoint))?;
    Ok(Arc::new(store))
}

fn store(settings: &RecordingSettings) -> anyhow::Result<Arc<dyn ObjectStore>> {
    match settings.store {
        StoreKind::Local => local(&settings.store_dir),
        StoreKind::S3 => s3(&settings.s3),
    }
}

/// Writes a small object to the store of `settings`, reads it back and deletes it
/// (`check-config --probe`): the store answers, and these credentials may do what the recorder
/// does.
pub async fn probe(settings: &RecordingSettings) -> anyhow::Result<()> {
    let store = store(settings)?;
    let key = Path::from(format!(
        "courtlink-probe/{}",
        hex::encode(rand::random::<[u8; 8]>())
    ));
    let body = b"courtlink store probe";
    store
        .put(&key, PutPayload::from_static(body))
        .await
        .context("writing a probe object")?;
    let read = async {
        let got = store.get(&key).await?.bytes().await?;
        anyhow::ensure!(got.as_ref() == body, "the probe object read back differs");
        Ok(())
    }
    .await
    .context("reading the probe object back");
    let deleted = store
        .delete(&key)
        .await
        .context("deleting the probe object");
    read.and(deleted)
}

impl Storage {
    /// The spool and the store of `settings`. Nothing is asked of an S3 store here (a bucket
    /// that is down at start-up only delays uploads); `check-config --probe` asks it.
    pub fn open(settings: &RecordingSettings) -> anyhow::Result<Storage> {
        Ok(Storage {
            spool_dir: settings.spool_dir.clone(),
            spool: local(&settings.spool_dir)?,
            store: store(settings)?,
        })
    }

    /// The spool file of a part (its folders made).
    pub fn spool_file(&self, key: &str) -> anyhow::Result<PathBuf> {
        let path = self.spool_dir.join(key);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        Ok(path)
    }

    fn objects(&self, place: Place) -> &Arc<dyn ObjectStore> {
        match place {
            Place::Spool => &self.spool,
            Place::Store => &self.store,
        }
    }

    /// Copies the spool file to the store, then deletes the spool copy. An upload that fails
    /// leaves the spool copy as it was, for the next try.
    pub async fn upload(&self, key: &str) -> anyhow::Result<()> {
        let local = self.spool_dir.join(key);
        let mut file = tokio::fs::File::open(&local)
            .await
            .with_context(|| format!("opening {}", local.display()))?;
        let upload = self.store.put_multipart(&Path::from(key)).await?;
        let mut writer = WriteMultipart::new_with_chunk_size(upload, 8 * 1024 * 1024);
        let mut buf = vec![0u8; 1024 * 1024];
        let result: anyhow::Result<()> = async {
            loop {
                let n = file.read(&mut buf).await?;
                if n == 0 {
                    break;
                }
                writer.wait_for_capacity(2).await?;
                writer.write(&buf[..n]);
            }
            Ok(())
        }
        .await;
        match result {
            Ok(()) => {
                writer.finish().await?;
            }
            Err(e) => {
                let _ = writer.abort().await;
                return Err(e);
            }
        }
        // The store has it whole (same length) before the spool copy goes.
        let stored = self.store.head(&Path::from(key)).await?.size;
        let spooled = tokio::fs::metadata(&local).await?.len();
        anyhow::ensure!(
            stored == spooled,
            "the stored copy is {stored} bytes, not {spooled}"
        );
        tokio::fs::remove_file(&local).await?;
        Ok(())
    }

    pub async fn exists(&self, place: Place, key: &str) -> bool {
        self.objects(place).head(&Path::from(key)).await.is_ok()
    }

    pub async fn delete(&self, place: Place, key: &str) -> anyhow::Result<()> {
        match self.objects(place).delete(&Path::from(key)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// SHA-256 of a sealed file, read in pieces.
    pub async fn sha256(&self, place: Place, key: &str) -> anyhow::Result<(String, u64)> {
        let objects = self.objects(place);
        let path = Path::from(key);
        let size = objects.head(&path).await?.size;
        let mut h = Sha256::new();
        let mut at = 0;
        while at < size {
            let end = (at + 4 * 1024 * 1024).min(size);
            h.update(objects.get_range(&path, at..end).await?);
            at = end;
        }
        Ok((hex::encode(h.finalize()), size))
    }

    /// Opens a sealed file for reading: checks its header and its last chunk (a truncated file
    /// fails here).
    pub async fn open_reader(
        &self,
        place: Place,
        key: &str,
        master: &[u8],
    ) -> anyhow::Result<Reader> {
        let objects = self.objects(place).clone();
        let path = Path::from(key);
        let size = objects.head(&path).await?.size;
        let header = objects.get_range(&path, 0..HEADER_BYTES.min(size)).await?;
        let layout = Layout::parse(&header, size)?;
        let opener = Opener::new(master, layout);
        let reader = Reader {
            objects,
            path,
            opener: Arc::new(opener),
        };
        let last = reader.opener.layout().chunks() - 1;
        reader.chunk(last).await?;
        Ok(reader)
    }
}

/// Reads plaintext ranges of one sealed file, a chunk at a time.
#[derive(Clone)]
pub struct Reader {
    objects: Arc<dyn ObjectStore>,
    path: Path,
    opener: Arc<Opener>,
}

impl Reader {
    pub fn plain_len(&self) -> u64 {
        self.opener.layout().plain_len
    }

    pub async fn chunk(&self, index: u64) -> anyhow::Result<Vec<u8>> {
        let range = self.opener.layout().sealed_range(index);
        let sealed = self.objects.get_range(&self.path, range).await?;
        Ok(self.opener.open(index, &sealed)?)
    }

    /// The plaintext bytes `[start, end)` as a stream of pieces, one chunk each.
    pub fn stream(
        self,
        start: u64,
        end: u64,
    ) -> impl futures_util::Stream<Item = Result<bytes::Bytes, std::io::Error>> + 'static {
        let chunk = self.opener.layout().chunk_bytes();
        futures_util::stream::unfold(start, move |at| {
            let reader = self.clone();
            async move {
                if at >= end {
                    return None;
                }
                let index = at / chunk;
                let piece = match reader.chunk(index).await {
                    Ok(plain) => {
                        let from = (at - index * chunk) as usize;
                        let to = ((end - index * chunk) as usize).min(plain.len());
                        if from >= to {
                            return Some((Err(std::io::Error::other(SealError::Tampered)), end));
                        }
                        Ok(bytes::Bytes::copy_from_slice(&plain[from..to]))
                    }
                    Err(e) => Err(std::io::Error::other(e)),
                };
                let next = match &piece {
                    Ok(b) => at + b.len() as u64,
                    Err(_) => end,
                };
                Some((piece, next))
            }
        })
    }
}
