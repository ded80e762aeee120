//! A small network of the test's own, for bad-line tests: three network namespaces made by the
//! test — a hub (CourtLink and its TURN relay) and two rooms, `a` and `b` — each room joined to
//! the hub by a veth pair. Addresses are in a private range that exists only inside these
//! namespaces; nothing in the test ever sends to them from outside. `tc netem` on room `a`'s
//! link makes a bad line, and taking that link down takes the path away.
//!
//! ```text
//!   room a (10.231.1.2) ── veth ── (10.231.1.1) hub (10.231.2.1) ── veth ── (10.231.2.2) room b
//! ```
//!
//! Needs root and iproute2 (`ip`, `tc`); the namespaces go when the guard drops, on every exit
//! path, failed assertions included.

use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

use super::REQUIRE_SERVICES;

pub const HUB_A: &str = "10.231.1.1";
pub const ROOM_A: &str = "10.231.1.2";
pub const HUB_B: &str = "10.231.2.1";
pub const ROOM_B: &str = "10.231.2.2";

pub struct TestNetwork {
    pub hub: String,
    pub room_a: String,
    pub room_b: String,
    /// Room a's end of its link (inside `room_a`) and the hub's end (inside `hub`).
    pub link_a: String,
    pub hub_link_a: String,
}

static NEXT: AtomicU32 = AtomicU32::new(0);

fn ip(args: &[&str]) -> Result<(), String> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| format!("ip {}: {e}", args.join(" ")))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

fn can_make_namespaces() -> Result<(), String> {
    // Only root may add namespaces: try it.
    let probe = format!("clprobe{}", std::process::id());
    ip(&["netns", "add", &probe])?;
    ip(&["netns", "del", &probe])?;
    let tc = Command::new("tc").arg("-V").output();
    if tc.map(|o| !o.status.success()).unwrap_or(true) {
        return Err("tc (iproute2) is missing".into());
    }
    Ok(())
}

impl TestNetwork {
    /// Makes the network, or returns None (after saying so loudly) when this machine cannot and
    /// the environment does not require it.
    pub fn create() -> Option<TestNetwork> {
        if let Err(e) = can_make_namespaces() {
            if std::env::var(REQUIRE_SERVICES).is_ok() {
                panic!("network namespaces are required ({REQUIRE_SERVICES} is set) but: {e}");
            }
            eprintln!(
                "\n*** SKIPPED: cannot make network namespaces ({e}); run as root, or set {REQUIRE_SERVICES}=1 to fail instead ***\n"
            );
            return None;
        }
        let tag = format!(
            "{}{}",
            std::process::id() % 100_000,
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let net = TestNetwork {
            hub: format!("clh{tag}"),
            room_a: format!("cla{tag}"),
            room_b: format!("clb{tag}"),
            link_a: format!("a0{tag}"),
            hub_link_a: format!("ha{tag}"),
        };
        // The guard exists from here on, so a failure half-way still removes what was made.
        net.build(&tag)
            .unwrap_or_else(|e| panic!("cannot build the test network: {e}"));
        Some(net)
    }

    fn build(&self, tag: &str) -> Result<(), String> {
        let (hub, a, b) = (&self.hub, &self.room_a, &self.room_b);
        let hub_b = format!("hb{tag}");
        let link_b = format!("b0{tag}");
        for ns in [hub, a, b] {
            ip(&["netns", "add", ns])?;
            ip(&["-n", ns, "link", "set", "lo", "up"])?;
        }
        for (hub_end, room_end, room) in [
            (self.hub_link_a.as_str(), self.link_a.as_str(), a),
            (hub_b.as_str(), link_b.as_str(), b),
        ] {
            // Made inside the hub, so that no end is ever in the machine's own namespace.
            ip(&[
                "-n", hub, "link", "add", hub_end, "type", "veth", "peer", "name", room_end,
                "netns", room,
            ])?;
        }
        ip(&[
            "-n",
            hub,
            "addr",
            "add",
            &format!("{HUB_A}/24"),
            "dev",
            &self.hub_link_a,
        ])?;
        ip(&[
            "-n",
            hub,
            "addr",
            "add",
            &format!("{HUB_B}/24"),
            "dev",
            &hub_b,
        ])?;
        ip(&[
            "-n",
            a,
            "addr",
            "add",
            &format!("{ROOM_A}/24"),
            "dev",
            &self.link_a,
        ])?;
        ip(&[
            "-n",
            b,
            "addr",
            "add",
            &format!("{ROOM_B}/24"),
            "dev",
            &link_b,
        ])?;
        for (ns, dev) in [
            (hub, self.hub_link_a.as_str()),
            (hub, hub_b.as_str()),
            (a, self.link_a.as_str()),
            (b, link_b.as_str()),
        ] {
            ip(&["-n", ns, "link", "set", dev, "up"])?;
        }
        ip(&["-n", a, "route", "add", "default", "via", HUB_A])?;
        ip(&["-n", b, "route", "add", "default", "via", HUB_B])?;
        Ok(())
    }

    /// `program args…` run inside namespace `ns`.
    pub fn command(&self, ns: &str, program: &str) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", ns, program]);
        c
    }
}

impl Drop for TestNetwork {
    fn drop(&mut self) {
        // Deleting a namespace deletes the veth ends inside it, and so their peers.
        for ns in [&self.room_a, &self.room_b, &self.hub] {
            let _ = ip(&["netns", "del", ns]);
        }
    }
}
