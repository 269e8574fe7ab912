//! PostgreSQL's own hash functions (Bob Jenkins' lookup3, as `src/common/hashfn.c` has it, and
//! the per-type wrappers of `hashfunc.c`), so that ferry can hash the values it sends exactly as
//! the server hashes the values it stored. Little-endian servers only: lookup3 reads the key in
//! native-endian words, and every server ferry meets in practice (x86-64, ARM64) is little-endian;
//! a big-endian one gives different hashes, which the digest reports as a difference and the
//! read-back then settles.

/// Seconds between 1970-01-01 and PostgreSQL's epoch, 2000-01-01, in days and microseconds.
pub const EPOCH_DAYS: i64 = 10_957;
pub const EPOCH_MICROS: i64 = 946_684_800_000_000;

#[derive(Clone, Copy)]
struct State {
    a: u32,
    b: u32,
    c: u32,
}

impl State {
    fn new(length: u32, seed: u64) -> State {
        let start = 0x9e37_79b9u32.wrapping_add(length).wrapping_add(3_923_095);
        let mut state = State { a: start, b: start, c: start };
        if seed != 0 {
            state.a = state.a.wrapping_add((seed >> 32) as u32);
            state.b = state.b.wrapping_add(seed as u32);
            state.mix();
        }
        state
    }

    fn mix(&mut self) {
        let State { mut a, mut b, mut c } = *self;
        a = a.wrapping_sub(c);
        a ^= c.rotate_left(4);
        c = c.wrapping_add(b);
        b = b.wrapping_sub(a);
        b ^= a.rotate_left(6);
        a = a.wrapping_add(c);
        c = c.wrapping_sub(b);
        c ^= b.rotate_left(8);
        b = b.wrapping_add(a);
        a = a.wrapping_sub(c);
        a ^= c.rotate_left(16);
        c = c.wrapping_add(b);
        b = b.wrapping_sub(a);
        b ^= a.rotate_left(19);
        a = a.wrapping_add(c);
        c = c.wrapping_sub(b);
        c ^= b.rotate_left(4);
        b = b.wrapping_add(a);
        *self = State { a, b, c };
    }

    fn finish(mut self) -> u64 {
        let State { mut a, mut b, mut c } = self;
        c ^= b;
        c = c.wrapping_sub(b.rotate_left(14));
        a ^= c;
        a = a.wrapping_sub(c.rotate_left(11));
        b ^= a;
        b = b.wrapping_sub(a.rotate_left(25));
        c ^= b;
        c = c.wrapping_sub(b.rotate_left(16));
        a ^= c;
        a = a.wrapping_sub(c.rotate_left(4));
        b ^= a;
        b = b.wrapping_sub(a.rotate_left(14));
        c ^= b;
        c = c.wrapping_sub(b.rotate_left(24));
        self = State { a, b, c };
        ((self.b as u64) << 32) | self.c as u64
    }
}

/// `hash_bytes_extended`: PostgreSQL's `hash_any_extended` over `key`.
pub fn bytes(key: &[u8], seed: u64) -> u64 {
    let mut state = State::new(key.len() as u32, seed);
    let word = |bytes: &[u8]| {
        let mut padded = [0u8; 4];
        padded[..bytes.len()].copy_from_slice(bytes);
        u32::from_le_bytes(padded)
    };
    let mut rest = key;
    while rest.len() >= 12 {
        state.a = state.a.wrapping_add(word(&rest[0..4]));
        state.b = state.b.wrapping_add(word(&rest[4..8]));
        state.c = state.c.wrapping_add(word(&rest[8..12]));
        state.mix();
        rest = &rest[12..];
    }
    // The last 11 bytes; the lowest byte of c is reserved for the length.
    let length = rest.len();
    state.a = state.a.wrapping_add(word(&rest[..length.min(4)]));
    if length > 4 {
        state.b = state.b.wrapping_add(word(&rest[4..length.min(8)]));
    }
    if length > 8 {
        state.c = state.c.wrapping_add(word(&rest[8..]) << 8);
    }
    state.finish()
}

/// `hash_bytes_uint32_extended` (`hashint4extended`, and date's hash).
pub fn uint32(key: u32, seed: u64) -> u64 {
    let mut state = State::new(4, seed);
    state.a = state.a.wrapping_add(key);
    state.finish()
}

/// `hashint8extended` (and timestamp's and time's hash): folded to 32 bits so that equal values
/// of int2, int4 and int8 hash alike.
pub fn int8(value: i64, seed: u64) -> u64 {
    let high = (value >> 32) as u32;
    let low = value as u32 ^ if value >= 0 { high } else { !high };
    uint32(low, seed)
}

/// `hashfloat8extended` (float4 is widened to float8 first): zero, either sign, hashes as the
/// seed and every NaN as one.
pub fn float8(value: f64, seed: u64) -> u64 {
    if value == 0.0 {
        return seed;
    }
    let value = if value.is_nan() { f64::NAN } else { value };
    bytes(&value.to_ne_bytes(), seed)
}

#[cfg(test)]
mod tests {
    use super::*;

    // Expected values printed by PostgreSQL 15 on x86-64 (`SELECT hashtextextended('...', 0)`
    // and so on), as signed bigints.
    #[test]
    fn matches_the_server() {
        let text = |s: &str| bytes(s.as_bytes(), 0) as i64;
        assert_eq!(text(""), -6939563903564495251);
        assert_eq!(text("a"), 3591986179850072241);
        assert_eq!(text("hello, world!"), 3799359542181020837);
        assert_eq!(text("twelve bytes"), -7123776401673968163);
        assert_eq!(bytes(b"a", 42) as i64, 6942402718208252407);
        assert_eq!(uint32(1, 0) as i64, -3670598878359251130);
        assert_eq!(int8(1, 0), uint32(1, 0));
        assert_eq!(int8(-1, 0) as i64, -1888257769727981238);
        assert_eq!(int8(5_000_000_000, 0) as i64, -5263616605311196344);
        assert_eq!(float8(1.5, 0) as i64, 6158159405676898674);
        assert_eq!(float8(-0.0, 7), 7);
        assert_eq!(int8(1, 5) as i64, -475770148949854016);
        assert_eq!(bytes(b"a", 5) as i64, -8867828834889462358);
        // `hash_record_extended(ROW(1, 'a'), 0)`: each column's hash folded in times 31.
        assert_eq!(uint32(1, 0).wrapping_mul(31).wrapping_add(bytes(b"a", 0)) as i64, 483885392970596907);
    }
}
