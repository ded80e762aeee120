//! A real S3-compatible server for the tests: moto's `moto_server` (Python: [`INSTALL`]),
//! started per test on a free loopback port, speaking the S3 HTTP API with path-style
//! requests — over plain HTTP, or over HTTPS with a certificate made for the
//! test (`start_tls`, by the `cryptography` package that moto itself depends on). Its buckets
//! live in its memory: a restart (`restart`) keeps the port and loses every bucket, which a test
//! makes again. It does not check signatures, so the helpers here talk to it without any, with
//! the same HTTP client as the server's S3 store (reqwest 0.13 on rustls).

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::REQUIRE_SERVICES;

pub const MOTO_SERVER: &str = "moto_server";
/// moto with its S3 backend and the server's web framework (not `moto[server]`, which pulls in
/// every AWS service's dependencies).
pub const INSTALL: &str = "pip install 'moto[s3]==5.2.1' 'flask==3.1.3' 'flask-cors==6.0.5'";
/// Any key does for moto; these are what the test settings carry.
pub const ACCESS_KEY_ID: &str = "courtlink-test";
pub const SECRET_ACCESS_KEY: &str = "courtlink-test-secret";

pub struct Moto {
    child: Option<Child>,
    pub port: u16,
    program: PathBuf,
    log: PathBuf,
    /// With HTTPS: the server's certificate (PEM), self-signed for 127.0.0.1, and its key.
    pub tls: Option<(PathBuf, PathBuf)>,
    _dir: tempfile::TempDir,
    http: reqwest_s3::Client,
}

/// Writes a self-signed certificate for 127.0.0.1 and its key (PEM) with Python's
/// `cryptography`, which moto depends on.
const MAKE_CERTIFICATE: &str = r#"
import datetime, ipaddress, sys
from cryptography import x509
from cryptography.x509.oid import NameOID
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
key = ec.generate_private_key(ec.SECP256R1())
name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
now = datetime.datetime.now(datetime.timezone.utc)
cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
    .public_key(key.public_key()).serial_number(x509.random_serial_number())
    .not_valid_before(now - datetime.timedelta(minutes=5))
    .not_valid_after(now + datetime.timedelta(days=1))
    .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
    .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
    .sign(key, hashes.SHA256()))
open(sys.argv[1], "wb").write(cert.public_bytes(serialization.Encoding.PEM))
open(sys.argv[2], "wb").write(key.private_bytes(serialization.Encoding.PEM,
    serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
"#;

fn client(tls: Option<&Path>) -> reqwest_s3::Client {
    // As the server's store does (recording/storage.rs): rustls with ring.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut builder = reqwest_s3::Client::builder().timeout(Duration::from_secs(20));
    if let Some(cert) = tls {
        let pem = std::fs::read(cert).expect("the test certificate");
        builder = builder.tls_certs_merge(std::iter::once(
            reqwest_s3::Certificate::from_pem(&pem).expect("a PEM certificate"),
        ));
    }
    builder.build().expect("http client")
}

/// `moto_server` on PATH, as a file that can run.
fn find_program() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(MOTO_SERVER))
        .find(|p| p.is_file())
}

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a TCP port");
    listener.local_addr().expect("local address").port()
}

fn missing(why: &str) -> Option<Moto> {
    if std::env::var(REQUIRE_SERVICES).is_ok() {
        panic!(
            "an S3-compatible server is required ({REQUIRE_SERVICES} is set) but {why}; install it with: {INSTALL}"
        );
    }
    eprintln!(
        "\n*** SKIPPED: {why} (install it with: {INSTALL}); set {REQUIRE_SERVICES}=1 to fail instead ***\n"
    );
    None
}

impl Moto {
    /// Starts a server, or returns None (after saying so loudly) when moto is not installed and
    /// the environment does not require it.
    pub async fn start() -> Option<Moto> {
        Moto::start_with(false).await
    }

    /// The same over HTTPS, with a certificate of its own (`tls`) that nothing trusts unless
    /// told to (`SSL_CERT_FILE`).
    pub async fn start_tls() -> Option<Moto> {
        Moto::start_with(true).await
    }

    async fn start_with(tls: bool) -> Option<Moto> {
        let Some(program) = find_program() else {
            return missing(&format!("{MOTO_SERVER} is not on PATH"));
        };
        let dir = tempfile::tempdir().expect("temp dir");
        let tls = if tls {
            let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
            let made = Command::new("python3")
                .args(["-c", MAKE_CERTIFICATE])
                .arg(&cert)
                .arg(&key)
                .output();
            match made {
                Ok(out) if out.status.success() => Some((cert, key)),
                Ok(out) => {
                    return missing(&format!(
                        "python3 with moto's `cryptography` could not make a certificate: {}",
                        String::from_utf8_lossy(&out.stderr)
                    ));
                }
                Err(e) => return missing(&format!("python3 does not run: {e}")),
            }
        } else {
            None
        };
        let mut moto = Moto {
            child: None,
            port: free_port(),
            program,
            log: dir.path().join("moto.log"),
            http: client(tls.as_ref().map(|(cert, _)| cert.as_path())),
            tls,
            _dir: dir,
        };
        match moto.run().await {
            Ok(()) => Some(moto),
            // A pyenv shim is on PATH whether or not moto is installed in the active Python.
            Err(e) if e.contains("No module named") || e.contains("command not found") => {
                missing(&format!("{MOTO_SERVER} does not run: {e}"))
            }
            Err(e) => panic!("{MOTO_SERVER} did not start: {e}"),
        }
    }

    /// Runs the server on `self.port` and waits until it answers.
    async fn run(&mut self) -> Result<(), String> {
        let log = std::fs::File::create(&self.log).expect("moto log");
        let mut command = Command::new(&self.program);
        command.args(["-H", "127.0.0.1", "-p", &self.port.to_string()]);
        if let Some((cert, key)) = &self.tls {
            command.arg("-c").arg(cert).arg("-k").arg(key);
        }
        let child = command
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("moto log"))
            .stderr(log)
            .spawn()
            .map_err(|e| format!("spawning {}: {e}", self.program.display()))?;
        self.child = Some(child);
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(30) {
            if let Ok(res) = self.http.get(self.endpoint()).send().await {
                if res.status().is_success() {
                    return Ok(());
                }
            }
            if let Some(child) = self.child.as_mut() {
                if let Ok(Some(status)) = child.try_wait() {
                    return Err(format!("it exited ({status}): {}", self.log_text()));
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Err(format!(
            "it did not answer on 127.0.0.1:{} within 30 s: {}",
            self.port,
            self.log_text()
        ))
    }

    pub fn endpoint(&self) -> String {
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        format!("{scheme}://127.0.0.1:{}", self.port)
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Stops the server: every request to it fails (connection refused) until `restart`.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same port, empty.
    pub async fn restart(&mut self) {
        self.stop();
        // The port was just released; moto's server sets SO_REUSEADDR, but give it a moment.
        let started = Instant::now();
        loop {
            match self.run().await {
                Ok(()) => return,
                Err(e) if started.elapsed() > Duration::from_secs(20) => {
                    panic!("{MOTO_SERVER} did not restart: {e}")
                }
                Err(_) => {
                    self.stop();
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
            }
        }
    }

    pub async fn create_bucket(&self, bucket: &str) {
        let res = self
            .http
            .put(format!("{}/{bucket}", self.endpoint()))
            .send()
            .await
            .expect("PUT bucket");
        assert!(
            res.status().is_success(),
            "creating bucket {bucket}: {res:?}"
        );
    }

    /// The bucket's objects, key and size, in key order.
    pub async fn objects(&self, bucket: &str) -> Vec<(String, u64)> {
        let body = self
            .http
            .get(format!("{}/{bucket}?list-type=2", self.endpoint()))
            .send()
            .await
            .expect("list objects")
            .text()
            .await
            .expect("list body");
        let between = |s: &str, open: &str, close: &str| -> Option<String> {
            let start = s.find(open)? + open.len();
            let end = start + s[start..].find(close)?;
            Some(s[start..end].to_owned())
        };
        body.split("<Contents>")
            .skip(1)
            .filter_map(|c| {
                Some((
                    between(c, "<Key>", "</Key>")?,
                    between(c, "<Size>", "</Size>")?.parse().ok()?,
                ))
            })
            .collect()
    }

    pub async fn get(&self, bucket: &str, key: &str) -> Vec<u8> {
        let res = self
            .http
            .get(format!("{}/{bucket}/{key}", self.endpoint()))
            .send()
            .await
            .expect("GET object");
        assert!(res.status().is_success(), "GET {key}: {res:?}");
        res.bytes().await.expect("object body").to_vec()
    }

    pub async fn put(&self, bucket: &str, key: &str, body: Vec<u8>) {
        let res = self
            .http
            .put(format!("{}/{bucket}/{key}", self.endpoint()))
            .body(body)
            .send()
            .await
            .expect("PUT object");
        assert!(res.status().is_success(), "PUT {key}: {res:?}");
    }

    /// The `[recording]` settings of a store in `bucket` of this server.
    pub fn settings(&self, bucket: &str) -> courtlink::recording::settings::S3Settings {
        courtlink::recording::settings::S3Settings {
            endpoint: self.endpoint(),
            bucket: bucket.to_owned(),
            region: "us-east-1".into(),
            access_key_id: ACCESS_KEY_ID.into(),
            secret_access_key: SECRET_ACCESS_KEY.into(),
            allow_http: self.tls.is_none(),
        }
    }

    /// The same as `COURTLINK__RECORDING__…` variables, for a child process.
    pub fn env(&self, bucket: &str) -> Vec<(&'static str, String)> {
        vec![
            ("COURTLINK__RECORDING__STORE", "s3".into()),
            ("COURTLINK__RECORDING__S3__ENDPOINT", self.endpoint()),
            ("COURTLINK__RECORDING__S3__BUCKET", bucket.into()),
            (
                "COURTLINK__RECORDING__S3__ACCESS_KEY_ID",
                ACCESS_KEY_ID.into(),
            ),
            (
                "COURTLINK__RECORDING__S3__SECRET_ACCESS_KEY",
                SECRET_ACCESS_KEY.into(),
            ),
            (
                "COURTLINK__RECORDING__S3__ALLOW_HTTP",
                self.tls.is_none().to_string(),
            ),
        ]
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Whether `dir` holds no file at any depth.
pub fn no_files_under(dir: &Path) -> bool {
    fn walk(dir: &Path) -> bool {
        std::fs::read_dir(dir).map_or(true, |entries| {
            entries.flatten().all(|e| {
                let p = e.path();
                if p.is_dir() { walk(&p) } else { false }
            })
        })
    }
    walk(dir)
}
