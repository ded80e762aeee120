//! What the server's peer measures during a test, and the verdict against the thresholds.
//!
//! Everything here is computed from what the server itself saw, so a client cannot make a bad
//! line look good: RTP sequence numbers and arrival times of the media the client sends (loss,
//! interarrival jitter as in RFC 3550, bitrate), and the server's own probes on the data channel
//! that the client echoes (round-trip time, and loss and jitter for a data-only test).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use serde::Serialize;

use super::settings::ConnectivitySettings;
pub use crate::domain::TestFailure;

/// One incoming RTP stream (one SSRC): counts, extended sequence numbers and jitter.
#[derive(Debug, Clone)]
struct RtpStream {
    clock_rate: u32,
    received: u64,
    bytes: u64,
    /// First and highest extended sequence number seen.
    first_seq: u64,
    max_seq: u64,
    /// RFC 3550 interarrival jitter, in timestamp units.
    jitter: f64,
    last_transit: Option<f64>,
}

impl RtpStream {
    fn expected(&self) -> u64 {
        self.max_seq - self.first_seq + 1
    }
}

/// Extends a 16-bit sequence number next to the highest one seen so far.
fn extend_seq(max: u64, seq: u16) -> u64 {
    let cycle = max & !0xFFFF;
    let candidates = [
        cycle.wrapping_sub(0x1_0000) | u64::from(seq),
        cycle | u64::from(seq),
        (cycle + 0x1_0000) | u64::from(seq),
    ];
    candidates
        .into_iter()
        .filter(|c| *c <= u64::MAX / 2)
        .min_by_key(|c| c.abs_diff(max))
        .unwrap_or(u64::from(seq))
}

/// Media counters: one entry per SSRC.
#[derive(Debug, Default)]
pub struct MediaMeter {
    streams: HashMap<u32, RtpStream>,
    /// Bytes received per whole second since the start of measuring.
    per_second: Vec<u64>,
    started: Option<Instant>,
}

impl MediaMeter {
    /// Counting starts (or restarts) now: the figures cover the measuring time only.
    pub fn start(&mut self, now: Instant) {
        self.streams.clear();
        self.per_second.clear();
        self.started = Some(now);
    }

    /// One RTP packet arrived at `now`.
    pub fn on_packet(
        &mut self,
        ssrc: u32,
        seq: u16,
        timestamp: u32,
        clock_rate: u32,
        size: usize,
        now: Instant,
    ) {
        let Some(started) = self.started else {
            return;
        };
        let since = now.saturating_duration_since(started);
        let second = usize::try_from(since.as_secs()).unwrap_or(usize::MAX);
        if second < 3600 {
            if self.per_second.len() <= second {
                self.per_second.resize(second + 1, 0);
            }
            self.per_second[second] += size as u64;
        }
        let clock_rate = clock_rate.max(1);
        let arrival = since.as_secs_f64() * f64::from(clock_rate);
        let transit = arrival - f64::from(timestamp);
        let stream = self.streams.entry(ssrc).or_insert_with(|| RtpStream {
            clock_rate,
            received: 0,
            bytes: 0,
            first_seq: 0x1_0000 + u64::from(seq),
            max_seq: 0x1_0000 + u64::from(seq),
            jitter: 0.0,
            last_transit: None,
        });
        let ext = extend_seq(stream.max_seq, seq);
        stream.max_seq = stream.max_seq.max(ext);
        stream.first_seq = stream.first_seq.min(ext);
        stream.received += 1;
        stream.bytes += size as u64;
        if let Some(last) = stream.last_transit {
            let d = (transit - last).abs();
            stream.jitter += (d - stream.jitter) / 16.0;
        }
        stream.last_transit = Some(transit);
    }

    /// Packets received, and lost (expected but never seen), over every stream.
    pub fn packets(&self) -> (u64, u64) {
        self.streams.values().fold((0, 0), |(r, l), s| {
            (r + s.received, l + s.expected().saturating_sub(s.received))
        })
    }

    /// The worst stream's jitter, in milliseconds.
    pub fn jitter_ms(&self) -> Option<f64> {
        self.streams
            .values()
            .map(|s| s.jitter * 1000.0 / f64::from(s.clock_rate))
            .reduce(f64::max)
    }

    /// Average bitrate over `window`, in kbit/s.
    pub fn bitrate_kbps(&self, window: Duration) -> f64 {
        let bytes: u64 = self.streams.values().map(|s| s.bytes).sum();
        bytes as f64 * 8.0 / window.as_secs_f64().max(0.001) / 1000.0
    }

    /// The lowest bitrate of any whole second of `window` after the first, in kbit/s (how
    /// steady the line was).
    pub fn lowest_second_kbps(&self, window: Duration) -> Option<f64> {
        let seconds = usize::try_from(window.as_secs()).unwrap_or(0);
        (1..seconds)
            .map(|i| self.per_second.get(i).copied().unwrap_or(0) as f64 * 8.0 / 1000.0)
            .reduce(f64::min)
    }
}

/// The server's probes on the data channel and their echoes.
#[derive(Debug, Default)]
pub struct ProbeMeter {
    sent: HashMap<u64, Instant>,
    next: u64,
    rtts: Vec<(u64, Duration)>,
    /// Bytes the client sent on the channel (its own messages and the echoes).
    pub bytes_received: u64,
}

impl ProbeMeter {
    /// Numbers a new probe sent at `now`.
    pub fn send(&mut self, now: Instant) -> u64 {
        let n = self.next;
        self.next += 1;
        self.sent.insert(n, now);
        n
    }

    /// The echo of probe `n` arrived at `now`.
    pub fn echo(&mut self, n: u64, now: Instant) {
        if let Some(at) = self.sent.remove(&n) {
            self.rtts.push((n, now.saturating_duration_since(at)));
        }
    }

    pub fn sent(&self) -> u64 {
        self.next
    }

    pub fn answered(&self) -> u64 {
        self.rtts.len() as u64
    }

    /// The median round-trip time in milliseconds.
    pub fn median_rtt_ms(&self) -> Option<f64> {
        let mut v: Vec<f64> = self
            .rtts
            .iter()
            .map(|(_, d)| d.as_secs_f64() * 1000.0)
            .collect();
        if v.is_empty() {
            return None;
        }
        v.sort_by(f64::total_cmp);
        Some(v[v.len() / 2])
    }

    /// Mean absolute difference of consecutive round-trip times (in probe order), in ms.
    pub fn rtt_jitter_ms(&self) -> Option<f64> {
        let mut v = self.rtts.clone();
        v.sort_by_key(|(n, _)| *n);
        if v.len() < 2 {
            return None;
        }
        let sum: f64 = v
            .windows(2)
            .map(|w| (w[1].1.as_secs_f64() - w[0].1.as_secs_f64()).abs() * 1000.0)
            .sum();
        Some(sum / (v.len() - 1) as f64)
    }

    /// Probes sent before `cutoff` (so with time to come back) that never did, in percent.
    pub fn loss_percent(&self, cutoff: Instant) -> Option<f64> {
        let unanswered = self.sent.values().filter(|at| **at < cutoff).count() as u64;
        let total = unanswered + self.answered();
        (total > 0).then(|| unanswered as f64 * 100.0 / total as f64)
    }
}

/// A test's figures, as recorded and shown.
#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema, PartialEq)]
pub struct Figures {
    /// The ICE candidate types of the pair in use: the server's (`host`, `srflx`, `relay`)...
    pub local_candidate: Option<String>,
    /// ...and the client's (`host`, `srflx`, `prflx`, `relay`).
    pub remote_candidate: Option<String>,
    /// From the offer's arrival to the connection being up, in milliseconds.
    pub connect_ms: Option<i64>,
    /// Median round-trip time of the server's probes, in milliseconds.
    pub rtt_ms: Option<f64>,
    /// Packets lost on the way to the server, in percent.
    pub loss_percent: Option<f64>,
    /// Interarrival jitter, in milliseconds.
    pub jitter_ms: Option<f64>,
    /// What arrived at the server over the measuring time, in kbit/s.
    pub bitrate_kbps: Option<f64>,
}

/// Why a test failed: a stable code for the UI's catalogue and the words for a reader.
#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    pub code: TestFailure,
    pub reason: String,
}

impl Failure {
    pub fn new(code: TestFailure, reason: impl Into<String>) -> Failure {
        Failure {
            code,
            reason: reason.into(),
        }
    }
}

/// Judges connected figures against the thresholds; the first threshold missed is the reason.
pub fn judge(f: &Figures, with_media: bool, s: &ConnectivitySettings) -> Result<(), Failure> {
    let Some(rtt) = f.rtt_ms else {
        return Err(Failure::new(
            TestFailure::NoEcho,
            "no probe came back over the data channel: the round trip could not be measured",
        ));
    };
    if rtt > s.max_rtt_ms {
        return Err(Failure::new(
            TestFailure::RttTooHigh,
            format!(
                "round-trip time {rtt:.0} ms is over the limit of {:.0} ms",
                s.max_rtt_ms
            ),
        ));
    }
    if with_media && f.bitrate_kbps.unwrap_or(0.0) <= 0.0 {
        return Err(Failure::new(
            TestFailure::NoMedia,
            "no audio or video reached the server",
        ));
    }
    let loss = f.loss_percent.unwrap_or(0.0);
    if loss > s.max_loss_percent {
        return Err(Failure::new(
            TestFailure::LossTooHigh,
            format!(
                "packet loss {loss:.1} % is over the limit of {:.1} %",
                s.max_loss_percent
            ),
        ));
    }
    let jitter = f.jitter_ms.unwrap_or(0.0);
    if jitter > s.max_jitter_ms {
        return Err(Failure::new(
            TestFailure::JitterTooHigh,
            format!(
                "jitter {jitter:.0} ms is over the limit of {:.0} ms",
                s.max_jitter_ms
            ),
        ));
    }
    if with_media {
        let bitrate = f.bitrate_kbps.unwrap_or(0.0);
        if bitrate < s.min_bitrate_kbps {
            return Err(Failure::new(
                TestFailure::BitrateTooLow,
                format!(
                    "the bitrate held at {bitrate:.0} kbit/s, under the {:.0} kbit/s needed",
                    s.min_bitrate_kbps
                ),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn settings() -> ConnectivitySettings {
        ConnectivitySettings {
            bind_addresses: vec!["127.0.0.1".into()],
            port_min: 0,
            port_max: 0,
            nat_1to1_ips: vec![],
            max_concurrent: 4,
            device_check_window_minutes: 60,
            device_checks_per_token: 5,
            device_checks_per_booking: 20,
            connect_timeout_seconds: 10,
            measure_seconds: 10,
            abandon_seconds: 60,
            max_rtt_ms: 300.0,
            max_loss_percent: 2.0,
            max_jitter_ms: 30.0,
            min_bitrate_kbps: 100.0,
        }
    }

    #[test]
    fn sequence_numbers_wrap() {
        assert_eq!(extend_seq(0x1_FFFE, 0xFFFF), 0x1_FFFF);
        assert_eq!(extend_seq(0x1_FFFF, 2), 0x2_0002);
        assert_eq!(extend_seq(0x2_0002, 0xFFFE), 0x1_FFFE);
    }

    #[test]
    fn loss_and_jitter_from_rtp() {
        let t0 = Instant::now();
        let mut m = MediaMeter::default();
        m.start(t0);
        // 100 packets at 50 per second over a sequence wrap, every 10th missing, steady timing.
        for i in 0u32..100 {
            if i % 10 == 5 {
                continue;
            }
            let seq = (65500 + i) as u16;
            let at = t0 + Duration::from_millis(u64::from(i) * 20);
            m.on_packet(7, seq, i * 1800, 90000, 1000, at);
        }
        let (received, lost) = m.packets();
        assert_eq!((received, lost), (90, 10));
        assert!(m.jitter_ms().unwrap() < 0.5, "{:?}", m.jitter_ms());
        let kbps = m.bitrate_kbps(Duration::from_secs(2));
        assert!((kbps - 360.0).abs() < 1.0, "{kbps}");
    }

    #[test]
    fn probes_give_rtt_loss_and_jitter() {
        let t0 = Instant::now();
        let mut p = ProbeMeter::default();
        for i in 0..10u64 {
            let n = p.send(t0 + Duration::from_millis(i * 100));
            if i != 3 {
                let rtt = if i % 2 == 0 { 20 } else { 30 };
                p.echo(n, t0 + Duration::from_millis(i * 100 + rtt));
            }
        }
        assert_eq!(p.median_rtt_ms().map(f64::round), Some(20.0));
        assert_eq!(p.loss_percent(t0 + Duration::from_secs(5)), Some(10.0));
        assert!((p.rtt_jitter_ms().unwrap() - 8.75).abs() < 0.01);
    }

    #[test]
    fn verdicts_name_the_threshold_missed() {
        let s = settings();
        let good = Figures {
            rtt_ms: Some(20.0),
            loss_percent: Some(0.0),
            jitter_ms: Some(3.0),
            bitrate_kbps: Some(500.0),
            ..Figures::default()
        };
        assert_eq!(judge(&good, true, &s), Ok(()));
        let slow = Figures {
            rtt_ms: Some(450.0),
            ..good.clone()
        };
        assert_eq!(
            judge(&slow, true, &s).unwrap_err().code,
            TestFailure::RttTooHigh
        );
        let lossy = Figures {
            loss_percent: Some(5.0),
            ..good.clone()
        };
        assert_eq!(
            judge(&lossy, true, &s).unwrap_err().code,
            TestFailure::LossTooHigh
        );
        let thin = Figures {
            bitrate_kbps: Some(50.0),
            ..good.clone()
        };
        let failure = judge(&thin, true, &s).unwrap_err();
        assert_eq!(failure.code, TestFailure::BitrateTooLow);
        assert!(failure.reason.contains("50 kbit/s"), "{}", failure.reason);
        // A data-only test is not judged on bitrate.
        assert_eq!(judge(&thin, false, &s), Ok(()));
        let silent = Figures {
            rtt_ms: None,
            ..good
        };
        assert_eq!(
            judge(&silent, false, &s).unwrap_err().code,
            TestFailure::NoEcho
        );
    }
}
