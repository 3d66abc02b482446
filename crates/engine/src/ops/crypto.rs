//! `crypto`'s ops (runtime-js/crypto.js): digests, HMAC and random bytes.
//! Key handling, encodings and the Web Crypto / Node-style shapes are in
//! the JavaScript; these take bytes and return bytes, and must not keep
//! any key between calls.

use deno_core::op2;
use deno_error::JsErrorBox;
use hmac::{Hmac, Mac};
use sha2::Digest;

fn digest(alg: &str, data: &[u8]) -> Result<Vec<u8>, JsErrorBox> {
    Ok(match alg {
        "SHA-1" => sha1::Sha1::digest(data).to_vec(),
        "SHA-256" => sha2::Sha256::digest(data).to_vec(),
        "SHA-384" => sha2::Sha384::digest(data).to_vec(),
        "SHA-512" => sha2::Sha512::digest(data).to_vec(),
        other => return Err(unsupported(other)),
    })
}

fn unsupported(alg: &str) -> JsErrorBox {
    JsErrorBox::type_error(format!("unsupported hash algorithm {alg:?}"))
}

fn hmac_of(alg: &str, key: &[u8], data: &[u8]) -> Result<Vec<u8>, JsErrorBox> {
    fn run<M: Mac + hmac::digest::KeyInit>(key: &[u8], data: &[u8]) -> Vec<u8> {
        // HMAC accepts keys of any length, so this cannot fail.
        match <M as hmac::digest::KeyInit>::new_from_slice(key) {
            Ok(mut m) => {
                m.update(data);
                m.finalize().into_bytes().to_vec()
            }
            Err(_) => Vec::new(),
        }
    }
    Ok(match alg {
        "SHA-1" => run::<Hmac<sha1::Sha1>>(key, data),
        "SHA-256" => run::<Hmac<sha2::Sha256>>(key, data),
        "SHA-384" => run::<Hmac<sha2::Sha384>>(key, data),
        "SHA-512" => run::<Hmac<sha2::Sha512>>(key, data),
        other => return Err(unsupported(other)),
    })
}

#[op2]
#[buffer]
pub(super) fn op_rt_digest(
    #[string] alg: &str,
    #[buffer] data: &[u8],
) -> Result<Vec<u8>, JsErrorBox> {
    digest(alg, data)
}

#[op2]
#[buffer]
pub(super) fn op_rt_hmac(
    #[string] alg: &str,
    #[buffer] key: &[u8],
    #[buffer] data: &[u8],
) -> Result<Vec<u8>, JsErrorBox> {
    hmac_of(alg, key, data)
}

#[op2(fast)]
pub(super) fn op_rt_hmac_verify(
    #[string] alg: &str,
    #[buffer] key: &[u8],
    #[buffer] data: &[u8],
    #[buffer] signature: &[u8],
) -> Result<bool, JsErrorBox> {
    let expected = hmac_of(alg, key, data)?;
    // Constant time in the signature's content: compare every byte.
    if expected.len() != signature.len() {
        return Ok(false);
    }
    let diff = expected
        .iter()
        .zip(signature)
        .fold(0u8, |acc, (a, b)| acc | (a ^ b));
    Ok(diff == 0)
}

#[op2(fast)]
pub(super) fn op_rt_random_fill(#[buffer] buf: &mut [u8]) {
    use rand::RngCore;
    rand::thread_rng().fill_bytes(buf);
}
