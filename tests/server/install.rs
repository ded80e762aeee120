//! A new install's first administrator (`courtlink create-first-admin`, app/install.rs): the
//! command line is a boundary like any other, so each bad input is refused with the field named
//! and nothing is written; the password comes on standard input; a second run is refused.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests fail loudly by panicking"
)]

use std::io::Write;
use std::process::{Command, Stdio};

use courtlink::domain::{CourtLevel, Role};
use courtlink::store::Store;

const STRONG: &str = "青山7绿水-Xiao-Lu-2026";

/// Runs the command against `url` with `password` on standard input: (exit code, output).
fn create_first_admin(url: &str, args: &[&str], password: &str) -> (i32, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_courtlink"))
        .arg("create-first-admin")
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("COURTLINK__DATABASE__URL", url)
        .env("COURTLINK__LOG__FILTER", "error")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    writeln!(child.stdin.take().unwrap(), "{password}").unwrap();
    let out = child.wait_with_output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

const GOOD: [&str; 6] = [
    "--court-name",
    "测试省高级人民法院",
    "--court-level",
    "high",
    "--username",
    "Root.Admin",
];

fn with(flag: &str, value: &'static str) -> Vec<&'static str> {
    let mut args = GOOD.to_vec();
    let at = args.iter().position(|a| *a == flag).unwrap();
    args[at + 1] = value;
    args
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_administrator_of_a_new_install() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite:{}", dir.path().join("fresh.db").display());

    // Each bad input names what is wrong, and leaves the install empty.
    let refusals: [(Vec<&str>, &str, &str); 5] = [
        (with("--court-level", "province"), STRONG, "court_level"),
        (with("--username", "a b"), STRONG, "username"),
        (
            with("--court-name", "测试\u{202E}法院"),
            STRONG,
            "court_name",
        ),
        (GOOD.to_vec(), "password1", "password"),
        (GOOD.to_vec(), "", "password"),
    ];
    for (args, password, named) in refusals {
        let (code, out) = create_first_admin(&url, &args, password);
        assert_ne!(code, 0, "{args:?} must be refused: {out}");
        assert!(
            out.contains(named),
            "{args:?}: the refusal names {named}: {out}"
        );
        assert!(
            !out.contains(password) || password.is_empty(),
            "the password is never echoed"
        );
    }
    let store = Store::connect(&url, 1).await.unwrap();
    assert_eq!(store.user_count().await.unwrap(), 0, "nothing was written");

    let (code, out) = create_first_admin(&url, &GOOD, STRONG);
    assert_eq!(code, 0, "{out}");
    assert!(!out.contains(STRONG), "the password is never echoed: {out}");
    let admin = store
        .user_by_username("root.admin")
        .await
        .unwrap()
        .expect("the administrator, stored lower-case");
    assert_eq!(admin.role, Role::Admin);
    assert!(
        admin.must_change_password,
        "they choose their own password at the first sign-in"
    );
    assert_eq!(admin.court_name, "测试省高级人民法院");
    assert_eq!(admin.court_level, CourtLevel::High);

    // Once there is an account, the administrators make the next ones.
    let (code, out) = create_first_admin(&url, &with("--username", "second"), STRONG);
    assert_ne!(code, 0);
    assert!(out.contains("already has 1 account"), "{out}");
    assert_eq!(store.user_count().await.unwrap(), 1);
}
