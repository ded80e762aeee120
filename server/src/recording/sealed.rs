//! Recordings sealed at rest: a streaming AEAD (ChaCha20-Poly1305) in fixed-size chunks, the
//! STREAM construction with one twist that libwebm needs (docs/recording.md, "Sealing").
//!
//! A file is a 32-byte header — magic `CLREC\0v1`, the chunk size, a random 16-byte salt, four
//! zero bytes — then chunks. Chunk `i` holds plaintext bytes `[i*C, (i+1)*C)`; on disk it is a
//! 4-byte generation, then the ciphertext with its 16-byte tag, at the fixed offset
//! `32 + i*(C+20)`. The key is the file's own, derived from the data key and the salt; the nonce
//! is `i ‖ generation ‖ 0 0 0 ‖ last`, and the header is the associated data of every chunk. So:
//! a chunk moved elsewhere (reordered) does not open at its new index; a file cut at a chunk
//! boundary ends in a chunk that was not sealed as the last one; a changed byte anywhere fails
//! its tag (or the header's, in every chunk).
//!
//! The twist: libwebm's muxer, on a seekable writer, goes back to write what it knows only
//! later (each cluster's size when the cluster closes; the segment's size, the duration, the
//! seek head and the cues position at the end). The writer keeps only the chunk being filled in
//! memory; a write into a chunk already on disk opens that chunk, patches it and seals it again
//! under the next generation (a nonce is never used twice with the same key). Each closed
//! cluster costs one such rewrite, the end a handful: a few per second of video, at most.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::FileExt;

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};

pub const MAGIC: &[u8; 8] = b"CLREC\0v1";
pub const HEADER_BYTES: u64 = 32;
/// Plaintext bytes per chunk: a fraction of a second of 720p video, so that a crash loses
/// little and a seek decrypts little.
pub const CHUNK_BYTES: u32 = 64 * 1024;
const TAG_BYTES: u64 = 16;
const GEN_BYTES: u64 = 4;
const OVERHEAD: u64 = TAG_BYTES + GEN_BYTES;

#[derive(Debug, thiserror::Error)]
pub enum SealError {
    #[error("not a sealed recording (no CLREC header)")]
    NotSealed,
    #[error(
        "the sealed file does not open: it was changed, truncated or reordered, or the key is wrong"
    )]
    Tampered,
    #[error(transparent)]
    Io(#[from] io::Error),
}

/// The file key: the data key's own derivation for recordings, with the file's salt.
fn file_key(master: &[u8], salt: &[u8]) -> ChaCha20Poly1305 {
    let key = crate::crypto::derive(
        master,
        &format!("courtlink:recording:v1:{}", hex::encode(salt)),
    );
    ChaCha20Poly1305::new(Key::from_slice(&key))
}

fn nonce(index: u64, generation: u32, last: bool) -> Result<[u8; 12], SealError> {
    let index = u32::try_from(index).map_err(|_| SealError::Tampered)?;
    let mut n = [0u8; 12];
    n[..4].copy_from_slice(&index.to_be_bytes());
    n[4..8].copy_from_slice(&generation.to_be_bytes());
    n[11] = u8::from(last);
    Ok(n)
}

fn chunk_offset(index: u64, chunk: u64) -> u64 {
    HEADER_BYTES + index * (chunk + OVERHEAD)
}

fn seal_chunk(
    aead: &ChaCha20Poly1305,
    header: &[u8],
    index: u64,
    generation: u32,
    last: bool,
    plain: &[u8],
) -> Result<Vec<u8>, SealError> {
    let n = nonce(index, generation, last)?;
    let sealed = aead
        .encrypt(
            Nonce::from_slice(&n),
            Payload {
                msg: plain,
                aad: header,
            },
        )
        .map_err(|_| SealError::Tampered)?;
    let mut out = Vec::with_capacity(sealed.len() + 4);
    out.extend_from_slice(&generation.to_be_bytes());
    out.extend_from_slice(&sealed);
    Ok(out)
}

fn open_chunk(
    aead: &ChaCha20Poly1305,
    header: &[u8],
    index: u64,
    last: bool,
    on_disk: &[u8],
) -> Result<(u32, Vec<u8>), SealError> {
    if on_disk.len() < OVERHEAD as usize {
        return Err(SealError::Tampered);
    }
    let (g, sealed) = on_disk.split_at(GEN_BYTES as usize);
    let generation = u32::from_be_bytes([g[0], g[1], g[2], g[3]]);
    let n = nonce(index, generation, last)?;
    let plain = aead
        .decrypt(
            Nonce::from_slice(&n),
            Payload {
                msg: sealed,
                aad: header,
            },
        )
        .map_err(|_| SealError::Tampered)?;
    Ok((generation, plain))
}

/// Writes a sealed file as libwebm writes a WebM: mostly appending, sometimes going back.
pub struct SealedWriter {
    file: File,
    aead: ChaCha20Poly1305,
    header: [u8; HEADER_BYTES as usize],
    chunk: u64,
    /// The plaintext cursor and length.
    pos: u64,
    len: u64,
    /// Chunks already sealed on disk; the one being filled is `tail`.
    sealed: u64,
    tail: Vec<u8>,
}

impl SealedWriter {
    pub fn create(file: File, master: &[u8]) -> Result<SealedWriter, SealError> {
        Self::with_chunk(file, master, CHUNK_BYTES)
    }

    pub fn with_chunk(
        mut file: File,
        master: &[u8],
        chunk: u32,
    ) -> Result<SealedWriter, SealError> {
        let salt: [u8; 16] = rand::random();
        let mut header = [0u8; HEADER_BYTES as usize];
        header[..8].copy_from_slice(MAGIC);
        header[8..12].copy_from_slice(&chunk.to_be_bytes());
        header[12..28].copy_from_slice(&salt);
        file.write_all(&header)?;
        Ok(SealedWriter {
            file,
            aead: file_key(master, &salt),
            header,
            chunk: u64::from(chunk),
            pos: 0,
            len: 0,
            sealed: 0,
            tail: Vec::with_capacity(chunk as usize),
        })
    }

    /// Plaintext bytes written so far.
    pub fn plain_len(&self) -> u64 {
        self.len
    }

    fn seal_full_tail(&mut self) -> io::Result<()> {
        while self.tail.len() as u64 >= self.chunk {
            let rest = self.tail.split_off(self.chunk as usize);
            let sealed = seal_chunk(&self.aead, &self.header, self.sealed, 0, false, &self.tail)
                .map_err(io::Error::other)?;
            self.file
                .write_all_at(&sealed, chunk_offset(self.sealed, self.chunk))?;
            self.sealed += 1;
            self.tail = rest;
            self.tail.reserve(self.chunk as usize);
        }
        Ok(())
    }

    /// Opens sealed chunk `index`, applies `patch` at `offset` in it, seals it again under the
    /// next generation.
    fn rewrite(&mut self, index: u64, offset: usize, patch: &[u8]) -> io::Result<()> {
        let at = chunk_offset(index, self.chunk);
        let mut on_disk = vec![0u8; (self.chunk + OVERHEAD) as usize];
        self.file.read_exact_at(&mut on_disk, at)?;
        let (generation, mut plain) = open_chunk(&self.aead, &self.header, index, false, &on_disk)
            .map_err(io::Error::other)?;
        let end = offset + patch.len();
        if end > plain.len() {
            return Err(io::Error::other("a patch past the end of a sealed chunk"));
        }
        plain[offset..end].copy_from_slice(patch);
        let next = generation
            .checked_add(1)
            .ok_or_else(|| io::Error::other("a chunk was rewritten too often"))?;
        let sealed = seal_chunk(&self.aead, &self.header, index, next, false, &plain)
            .map_err(io::Error::other)?;
        self.file.write_all_at(&sealed, at)
    }

    /// Seals what remains as the last chunk and makes the file durable. Returns the sealed
    /// file's length.
    pub fn finish(mut self) -> Result<u64, SealError> {
        self.seal_full_tail()?;
        let sealed = seal_chunk(&self.aead, &self.header, self.sealed, 0, true, &self.tail)?;
        let at = chunk_offset(self.sealed, self.chunk);
        self.file.write_all_at(&sealed, at)?;
        let total = at + sealed.len() as u64;
        self.file.set_len(total)?;
        self.file.sync_all()?;
        Ok(total)
    }
}

impl Write for SealedWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let mut done = 0;
        while done < buf.len() {
            let index = self.pos / self.chunk;
            let offset = (self.pos % self.chunk) as usize;
            let room = self.chunk as usize - offset;
            let n = room.min(buf.len() - done);
            let piece = &buf[done..done + n];
            if index == self.sealed {
                if offset > self.tail.len() {
                    return Err(io::Error::other("a write past the end"));
                }
                let end = offset + n;
                if end > self.tail.len() {
                    self.tail.resize(end, 0);
                }
                self.tail[offset..end].copy_from_slice(piece);
            } else if index < self.sealed {
                self.rewrite(index, offset, piece)?;
            } else {
                return Err(io::Error::other("a write past the end"));
            }
            self.pos += n as u64;
            self.len = self.len.max(self.pos);
            done += n;
            self.seal_full_tail()?;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Seek for SealedWriter {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        let target = match to {
            SeekFrom::Start(p) => Some(p),
            SeekFrom::End(d) => self.len.checked_add_signed(d),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
        };
        match target {
            Some(p) if p <= self.len => {
                self.pos = p;
                Ok(p)
            }
            _ => Err(io::Error::other("a seek outside the written file")),
        }
    }
}

/// Where the chunks of a sealed file are, once its header and last chunk were checked.
#[derive(Debug, Clone)]
pub struct Layout {
    header: [u8; HEADER_BYTES as usize],
    chunk: u64,
    chunks: u64,
    /// Plaintext length of the whole file.
    pub plain_len: u64,
    sealed_len: u64,
}

impl Layout {
    /// Reads the layout from the header and the file's sealed length. The last chunk's size
    /// follows; [`Opener::check_last`] proves it is the real end.
    pub fn parse(header: &[u8], sealed_len: u64) -> Result<Layout, SealError> {
        if header.len() < HEADER_BYTES as usize || &header[..8] != MAGIC {
            return Err(SealError::NotSealed);
        }
        let chunk = u64::from(u32::from_be_bytes([
            header[8], header[9], header[10], header[11],
        ]));
        if chunk == 0 || sealed_len < HEADER_BYTES + OVERHEAD {
            return Err(SealError::Tampered);
        }
        let body = sealed_len - HEADER_BYTES;
        let full = chunk + OVERHEAD;
        let chunks = body.div_ceil(full);
        let last_len = body - (chunks - 1) * full;
        if last_len < OVERHEAD {
            return Err(SealError::Tampered);
        }
        let mut h = [0u8; HEADER_BYTES as usize];
        h.copy_from_slice(&header[..HEADER_BYTES as usize]);
        Ok(Layout {
            header: h,
            chunk,
            chunks,
            plain_len: (chunks - 1) * chunk + (last_len - OVERHEAD),
            sealed_len,
        })
    }

    pub fn chunk_bytes(&self) -> u64 {
        self.chunk
    }

    pub fn chunks(&self) -> u64 {
        self.chunks
    }

    /// The sealed byte range of chunk `index`.
    pub fn sealed_range(&self, index: u64) -> std::ops::Range<u64> {
        let start = chunk_offset(index, self.chunk);
        start..(start + self.chunk + OVERHEAD).min(self.sealed_len)
    }
}

/// Opens the chunks of one sealed file.
pub struct Opener {
    aead: ChaCha20Poly1305,
    layout: Layout,
}

impl Opener {
    pub fn new(master: &[u8], layout: Layout) -> Opener {
        Opener {
            aead: file_key(master, &layout.header[12..28]),
            layout,
        }
    }

    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// The plaintext of chunk `index`, given its sealed bytes.
    pub fn open(&self, index: u64, on_disk: &[u8]) -> Result<Vec<u8>, SealError> {
        if index >= self.layout.chunks {
            return Err(SealError::Tampered);
        }
        let last = index + 1 == self.layout.chunks;
        open_chunk(&self.aead, &self.layout.header, index, last, on_disk).map(|(_, p)| p)
    }
}

/// Opens a whole sealed file from a reader (tests, `audit verify` uses the hash instead).
pub fn open_all(master: &[u8], mut sealed: impl Read) -> Result<Vec<u8>, SealError> {
    let mut bytes = Vec::new();
    sealed.read_to_end(&mut bytes)?;
    let layout = Layout::parse(&bytes, bytes.len() as u64)?;
    let opener = Opener::new(master, layout);
    let mut out = Vec::with_capacity(opener.layout.plain_len as usize);
    for i in 0..opener.layout.chunks {
        let r = opener.layout.sealed_range(i);
        out.extend(opener.open(i, &bytes[r.start as usize..r.end as usize])?);
    }
    Ok(out)
}

/// Reads what a sealed file that was never finished still holds: a hard crash leaves every
/// full chunk on disk (the writer seals a chunk only once it is full, and writes it whole) and
/// loses the one being filled. Yields the plaintext of each chunk in order, up to the first that
/// is missing, cut short or does not open; a file that was finished after all reads whole. Never
/// more than one chunk in memory.
pub struct Salvage<R> {
    source: R,
    aead: ChaCha20Poly1305,
    header: [u8; HEADER_BYTES as usize],
    chunk: u64,
    index: u64,
    plain: Vec<u8>,
    at: usize,
    /// No chunk follows (the end of what opens, or the real last chunk).
    ended: bool,
    /// The file was finished: its last chunk opened as the last.
    pub whole: bool,
}

impl<R: Read> Salvage<R> {
    pub fn new(mut source: R, master: &[u8]) -> Result<Salvage<R>, SealError> {
        let mut header = [0u8; HEADER_BYTES as usize];
        source
            .read_exact(&mut header)
            .map_err(|_| SealError::NotSealed)?;
        if &header[..8] != MAGIC {
            return Err(SealError::NotSealed);
        }
        let chunk = u64::from(u32::from_be_bytes([
            header[8], header[9], header[10], header[11],
        ]));
        if chunk == 0 || chunk > 64 * 1024 * 1024 {
            return Err(SealError::Tampered);
        }
        Ok(Salvage {
            source,
            aead: file_key(master, &header[12..28]),
            header,
            chunk,
            index: 0,
            plain: Vec::new(),
            at: 0,
            ended: false,
            whole: false,
        })
    }

    /// The next chunk's plaintext, or false at the end of what can be kept.
    fn next_chunk(&mut self) -> io::Result<bool> {
        if self.ended {
            return Ok(false);
        }
        let mut on_disk = vec![0u8; (self.chunk + OVERHEAD) as usize];
        let mut got = 0;
        while got < on_disk.len() {
            match self.source.read(&mut on_disk[got..])? {
                0 => break,
                n => got += n,
            }
        }
        on_disk.truncate(got);
        let full = got as u64 == self.chunk + OVERHEAD;
        let opened = if full {
            open_chunk(&self.aead, &self.header, self.index, false, &on_disk).ok()
        } else {
            None
        };
        let (plain, last) = match opened {
            Some((_, plain)) => (plain, false),
            // A finished file ends in a chunk sealed as the last (often shorter).
            None => match open_chunk(&self.aead, &self.header, self.index, true, &on_disk) {
                Ok((_, plain)) => (plain, true),
                Err(_) => {
                    self.ended = true;
                    return Ok(false);
                }
            },
        };
        self.index += 1;
        self.plain = plain;
        self.at = 0;
        if last {
            self.ended = true;
            self.whole = true;
        }
        Ok(true)
    }
}

impl<R: Read> Read for Salvage<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.at >= self.plain.len() {
            if !self.next_chunk()? {
                return Ok(0);
            }
        }
        let n = buf.len().min(self.plain.len() - self.at);
        buf[..n].copy_from_slice(&self.plain[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const KEY: &[u8] = b"0123456789abcdef0123456789abcdef";

    fn write(chunk: u32, steps: &[(Option<u64>, &[u8])]) -> (Vec<u8>, Vec<u8>) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(true)
            .read(true)
            .write(true)
            .open(&path)
            .unwrap();
        let mut w = SealedWriter::with_chunk(file, KEY, chunk).unwrap();
        let mut plain: Vec<u8> = Vec::new();
        for (at, bytes) in steps {
            let at = at.unwrap_or(plain.len() as u64);
            w.seek(SeekFrom::Start(at)).unwrap();
            w.write_all(bytes).unwrap();
            let end = at as usize + bytes.len();
            if end > plain.len() {
                plain.resize(end, 0);
            }
            plain[at as usize..end].copy_from_slice(bytes);
        }
        w.seek(SeekFrom::End(0)).unwrap();
        w.finish().unwrap();
        (std::fs::read(&path).unwrap(), plain)
    }

    #[test]
    fn round_trips_with_patches_into_sealed_chunks() {
        let body: Vec<u8> = (0..1000u32).map(|i| (i % 251) as u8).collect();
        let (sealed, plain) = write(
            64,
            &[
                (None, b"\x1a\x45\xdf\xa3 header"),
                (None, &body),
                (Some(3), b"PATCH"),
                (Some(130), b"across a chunk boundary: 0123456789"),
                (None, b"tail"),
            ],
        );
        assert!(!sealed.windows(4).any(|w| w == b"\x1a\x45\xdf\xa3"));
        assert_eq!(open_all(KEY, &sealed[..]).unwrap(), plain);
        let layout = Layout::parse(&sealed, sealed.len() as u64).unwrap();
        assert_eq!(layout.plain_len, plain.len() as u64);
    }

    #[test]
    fn salvage_keeps_every_full_chunk_of_an_unfinished_file() {
        let body: Vec<u8> = (0..1000u32).map(|i| (i % 251) as u8).collect();
        let (sealed, plain) = write(64, &[(None, &body), (Some(70), b"patched")]);
        let read = |bytes: &[u8]| {
            let mut s = Salvage::new(bytes, KEY).unwrap();
            let mut out = Vec::new();
            s.read_to_end(&mut out).unwrap();
            (out, s.whole)
        };
        // Finished: all of it.
        assert_eq!(read(&sealed), (plain.clone(), true));
        // A crash: the chunk being filled never reached the disk, and the last full chunk
        // was torn by the kill; what precedes is kept, to the byte.
        let full = (64 + OVERHEAD) as usize;
        let cut = HEADER_BYTES as usize + 10 * full;
        assert_eq!(read(&sealed[..cut]), (plain[..640].to_vec(), false));
        let mut torn = sealed[..cut].to_vec();
        torn[cut - 3] ^= 1;
        assert_eq!(read(&torn), (plain[..576].to_vec(), false));
        assert_eq!(read(&sealed[..cut + 30]).0, plain[..640].to_vec());
        // Another key, or not a sealed file: nothing.
        let mut other = Salvage::new(&sealed[..], b"another key, also 32 bytes long!").unwrap();
        assert_eq!(other.read(&mut [0u8; 8]).unwrap(), 0);
        assert!(
            Salvage::new(
                &b"\x1a\x45\xdf\xa3 plain webm, long enough for a header"[..],
                KEY
            )
            .is_err()
        );
    }

    #[test]
    fn an_empty_last_chunk_still_closes_the_file() {
        let (sealed, plain) = write(16, &[(None, &[7u8; 32])]);
        assert_eq!(open_all(KEY, &sealed[..]).unwrap(), plain);
    }

    #[test]
    fn tampering_truncation_reordering_and_another_key_are_detected() {
        let body = vec![5u8; 300];
        let (sealed, _) = write(64, &[(None, &body)]);
        for i in [0usize, 10, 31, 40, sealed.len() / 2, sealed.len() - 1] {
            let mut bad = sealed.clone();
            bad[i] ^= 1;
            assert!(open_all(KEY, &bad[..]).is_err(), "byte {i}");
        }
        // Cut at a chunk boundary, and in the middle of a chunk.
        let full = (64 + OVERHEAD) as usize;
        let cut = HEADER_BYTES as usize + 2 * full;
        assert!(open_all(KEY, &sealed[..cut]).is_err());
        assert!(open_all(KEY, &sealed[..cut + 7]).is_err());
        // Two chunks swapped.
        let mut swapped = sealed.clone();
        let a = HEADER_BYTES as usize;
        let (x, y) = (
            sealed[a..a + full].to_vec(),
            sealed[a + full..a + 2 * full].to_vec(),
        );
        swapped[a..a + full].copy_from_slice(&y);
        swapped[a + full..a + 2 * full].copy_from_slice(&x);
        assert!(open_all(KEY, &swapped[..]).is_err());
        assert!(open_all(b"another key, also 32 bytes long!", &sealed[..]).is_err());
        assert!(matches!(
            open_all(KEY, &b"\x1a\x45\xdf\xa3 plain webm"[..]),
            Err(SealError::NotSealed)
        ));
    }
}
