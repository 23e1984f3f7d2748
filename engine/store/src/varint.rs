//! LEB128 varints and zigzag, for the compact block encoding.

/// Appends an unsigned LEB128 varint.
pub(crate) fn put_u64(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Appends a zigzag-encoded signed varint (the same bytes as [`put_i128`] of the value).
pub(crate) fn put_i64(out: &mut Vec<u8>, v: i64) {
    put_u64(out, ((v << 1) ^ (v >> 63)) as u64);
}

/// Appends a zigzag-encoded signed varint.
pub(crate) fn put_i128(out: &mut Vec<u8>, v: i128) {
    if let Ok(small) = i64::try_from(v) {
        return put_i64(out, small);
    }
    let mut z = ((v << 1) ^ (v >> 127)) as u128;
    while z >= 0x80 {
        out.push((z as u8) | 0x80);
        z >>= 7;
    }
    out.push(z as u8);
}

/// Appends a length-prefixed string.
pub(crate) fn put_str(out: &mut Vec<u8>, s: &str) {
    put_u64(out, s.len() as u64);
    out.extend_from_slice(s.as_bytes());
}

/// A cursor over encoded bytes; every read fails cleanly at the end of the input.
pub(crate) struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Cursor<'a> {
        Cursor { bytes, pos: 0 }
    }

    pub(crate) fn remaining(&self) -> usize {
        self.bytes.len().saturating_sub(self.pos)
    }

    pub(crate) fn position(&self) -> usize {
        self.pos
    }

    pub(crate) fn at_end(&self) -> bool {
        self.pos >= self.bytes.len()
    }

    pub(crate) fn u8(&mut self) -> Option<u8> {
        let b = *self.bytes.get(self.pos)?;
        self.pos += 1;
        Some(b)
    }

    pub(crate) fn u64(&mut self) -> Option<u64> {
        let mut v = 0u64;
        let mut shift = 0u32;
        loop {
            let b = self.u8()?;
            if shift >= 64 {
                return None;
            }
            v |= u64::from(b & 0x7F) << shift;
            if b & 0x80 == 0 {
                return Some(v);
            }
            shift += 7;
        }
    }

    /// Skips a length-prefixed string without checking it.
    pub(crate) fn skip_str(&mut self) -> Option<()> {
        let len = usize::try_from(self.u64()?).ok()?;
        self.take(len).map(|_| ())
    }

    pub(crate) fn i128(&mut self) -> Option<i128> {
        let mut z = 0u128;
        let mut shift = 0u32;
        loop {
            let b = self.u8()?;
            if shift >= 128 {
                return None;
            }
            z |= u128::from(b & 0x7F) << shift;
            if b & 0x80 == 0 {
                break;
            }
            shift += 7;
        }
        Some(((z >> 1) as i128) ^ -((z & 1) as i128))
    }

    /// The next `n` bytes.
    pub(crate) fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.pos.checked_add(n)?;
        let b = self.bytes.get(self.pos..end)?;
        self.pos = end;
        Some(b)
    }

    pub(crate) fn str(&mut self) -> Option<&'a str> {
        let len = usize::try_from(self.u64()?).ok()?;
        let end = self.pos.checked_add(len)?;
        let s = std::str::from_utf8(self.bytes.get(self.pos..end)?).ok()?;
        self.pos = end;
        Some(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        let mut out = Vec::new();
        let ints = [
            0i128,
            1,
            -1,
            63,
            -64,
            1 << 40,
            -(1 << 70),
            i128::MAX,
            i128::MIN,
        ];
        for v in ints {
            put_i128(&mut out, v);
        }
        put_u64(&mut out, u64::MAX);
        put_str(&mut out, "星河");
        for v in [0i64, 1, -1, 63, -64, 64, -65, i64::MAX, i64::MIN] {
            let (mut a, mut b) = (Vec::new(), Vec::new());
            put_i64(&mut a, v);
            let mut z = ((i128::from(v) << 1) ^ (i128::from(v) >> 127)) as u128;
            while z >= 0x80 {
                b.push((z as u8) | 0x80);
                z >>= 7;
            }
            b.push(z as u8);
            assert_eq!(a, b, "{v}");
        }
        let mut c = Cursor::new(&out);
        for v in ints {
            assert_eq!(c.i128(), Some(v));
        }
        assert_eq!(c.u64(), Some(u64::MAX));
        assert_eq!(c.str(), Some("星河"));
        assert!(c.at_end());
        assert_eq!(c.u8(), None);
        // Truncated input fails instead of panicking.
        let mut c = Cursor::new(&out[..out.len() - 2]);
        for _ in ints {
            c.i128();
        }
        c.u64();
        assert_eq!(c.str(), None);
    }
}
