//! Prints golden vectors for rai's RAI_VSA_RNG_TRITTER_CHACHA8 from the real rand_chacha crate.
//!
//! The trit mapping repeats tritter-accel's `cpu_random` (tzervas/rust-ai, tritter-accel/src/core/vsa.rs
//! at commit 68350510eb3c9680226fcfcb50195e999cadeb44):
//! one `next_u32()` per trit, `r: f32 = (u as f64 / u32::MAX as f64) as f32`,
//! `r < 0.333 -> -1, r < 0.666 -> 0, else +1` (f32 literals). Written here, not copied.
//!
//! Output, one record per line (parsed by the C++, Python, Go and C# tests):
//!   words <seed> <hex u32> ...   the first 64 next_u32() values of ChaCha8Rng::seed_from_u64(seed)
//!   trits <seed> <dim> <string>  tritter's trits, '-' '0' '+', for that seed and dimension
use rand_chacha::rand_core::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;

const SEEDS: [u64; 6] = [0, 1, 42, 12345, 4_294_967_295, 4_294_967_296 + 42];
const DIMS: [usize; 6] = [1, 15, 16, 17, 100, 1000];
const WORDS: usize = 64;

fn trit(u: u32) -> char {
    let r: f32 = (u as f64 / u32::MAX as f64) as f32;
    if r < 0.333 {
        '-'
    } else if r < 0.666 {
        '0'
    } else {
        '+'
    }
}

fn main() {
    println!("# RAI_VSA_RNG_TRITTER_CHACHA8 golden vectors, made by make_golden.sh from rand_chacha 0.3.1");
    println!("# words <seed> <first {WORDS} next_u32() of ChaCha8Rng::seed_from_u64(seed), hex>");
    println!("# trits <seed> <dim> <tritter cpu_random trits: - 0 +>");
    for &seed in SEEDS.iter() {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let words: Vec<String> = (0..WORDS).map(|_| format!("{:08x}", rng.next_u32())).collect();
        println!("words {} {}", seed, words.join(" "));
        for &dim in DIMS.iter() {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            let trits: String = (0..dim).map(|_| trit(rng.next_u32())).collect();
            println!("trits {} {} {}", seed, dim, trits);
        }
    }
}
