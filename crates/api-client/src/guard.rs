//! The outbound address guard: which IP addresses `apiClient` may connect to.
//!
//! Owns the table of non-public address ranges (`NON_PUBLIC_V4`,
//! `NON_PUBLIC_V6`), the operator's list of ranges allowed anyway
//! (`--allow-private-networks`), the DNS resolver that drops refused
//! addresses from every lookup ([`GuardedResolver`]), and the refusal that
//! names the host, the address and the range.
//!
//! It must not decide *whether* a request is guarded (the caller builds an
//! [`crate::HttpClient`] with or without a guard: `runtime run` has none,
//! `runtime serve` has one), and must not do anything but classify
//! addresses and resolve names: retries, redirects and error messages with
//! URLs belong to `client.rs`.
//!
//! Why two places enforce it: reqwest asks the resolver only for names, so
//! the resolver sees the very addresses the socket will connect to (a DNS
//! answer that changes between a check and the connect, "DNS rebinding",
//! cannot slip through: there is no earlier lookup to trust), while an IP
//! literal host (`http://127.0.0.1/`) never reaches the resolver and is
//! checked by `client.rs` before each attempt and each redirect hop.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// The flag an operator uses to allow a range, named in every refusal.
pub(crate) const ALLOW_FLAG: &str = "--allow-private-networks";

/// What a table entry does with an address it contains.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rule {
    /// Not a public address.
    Refuse,
    /// An IPv6 form carrying an IPv4 address (mapped, NAT64, 6to4): the
    /// embedded IPv4 address decides.
    Embeds,
}

const fn v4(a: u8, b: u8, c: u8, d: u8, len: u8, what: &'static str) -> (Ipv4Net, &'static str) {
    (Ipv4Net::new_assert(Ipv4Addr::new(a, b, c, d), len), what)
}

const fn v6(s: [u16; 8], len: u8, rule: Rule, what: &'static str) -> (Ipv6Net, Rule, &'static str) {
    (
        Ipv6Net::new_assert(
            Ipv6Addr::new(s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7]),
            len,
        ),
        rule,
        what,
    )
}

/// IPv4 ranges that are not public, first match wins (so broadcast is
/// named before the reserved block holding it). From the IANA special-
/// purpose registry, keeping every block that is not globally reachable.
const NON_PUBLIC_V4: [(Ipv4Net, &str); 16] = [
    v4(0, 0, 0, 0, 8, "\"this network\", 0.0.0.0 is unspecified"),
    v4(10, 0, 0, 0, 8, "private, RFC 1918"),
    v4(100, 64, 0, 0, 10, "shared address space (CGNAT), RFC 6598"),
    v4(127, 0, 0, 0, 8, "loopback"),
    v4(
        169,
        254,
        0,
        0,
        16,
        "link-local, where cloud metadata services answer",
    ),
    v4(172, 16, 0, 0, 12, "private, RFC 1918"),
    v4(192, 0, 0, 0, 24, "IETF protocol assignments"),
    v4(192, 0, 2, 0, 24, "documentation (TEST-NET-1)"),
    v4(192, 88, 99, 0, 24, "6to4 relay anycast (deprecated)"),
    v4(192, 168, 0, 0, 16, "private, RFC 1918"),
    v4(198, 18, 0, 0, 15, "benchmarking"),
    v4(198, 51, 100, 0, 24, "documentation (TEST-NET-2)"),
    v4(203, 0, 113, 0, 24, "documentation (TEST-NET-3)"),
    v4(224, 0, 0, 0, 4, "multicast"),
    v4(255, 255, 255, 255, 32, "broadcast"),
    v4(240, 0, 0, 0, 4, "reserved"),
];

/// IPv6 ranges that are not public or that embed an IPv4 address, first
/// match wins (`::` and `::1` before the IPv4-compatible `::/96`).
const NON_PUBLIC_V6: [(Ipv6Net, Rule, &str); 17] = [
    v6([0, 0, 0, 0, 0, 0, 0, 0], 128, Rule::Refuse, "unspecified"),
    v6([0, 0, 0, 0, 0, 0, 0, 1], 128, Rule::Refuse, "loopback"),
    v6(
        [0, 0, 0, 0, 0, 0xffff, 0, 0],
        96,
        Rule::Embeds,
        "IPv4-mapped",
    ),
    v6(
        [0, 0, 0, 0, 0xffff, 0, 0, 0],
        96,
        Rule::Embeds,
        "IPv4-translated",
    ),
    v6([0x64, 0xff9b, 0, 0, 0, 0, 0, 0], 96, Rule::Embeds, "NAT64"),
    v6(
        [0x64, 0xff9b, 1, 0, 0, 0, 0, 0],
        48,
        Rule::Refuse,
        "local-use NAT64",
    ),
    v6(
        [0, 0, 0, 0, 0, 0, 0, 0],
        96,
        Rule::Refuse,
        "IPv4-compatible (deprecated)",
    ),
    v6(
        [0x100, 0, 0, 0, 0, 0, 0, 0],
        64,
        Rule::Refuse,
        "discard-only",
    ),
    v6([0x2001, 0, 0, 0, 0, 0, 0, 0], 32, Rule::Refuse, "Teredo"),
    v6(
        [0x2001, 0xdb8, 0, 0, 0, 0, 0, 0],
        32,
        Rule::Refuse,
        "documentation",
    ),
    v6([0x2002, 0, 0, 0, 0, 0, 0, 0], 16, Rule::Embeds, "6to4"),
    v6(
        [0x3fff, 0, 0, 0, 0, 0, 0, 0],
        20,
        Rule::Refuse,
        "documentation",
    ),
    v6(
        [0x5f00, 0, 0, 0, 0, 0, 0, 0],
        16,
        Rule::Refuse,
        "segment routing (SRv6) SIDs",
    ),
    v6(
        [0xfc00, 0, 0, 0, 0, 0, 0, 0],
        7,
        Rule::Refuse,
        "unique local",
    ),
    v6(
        [0xfe80, 0, 0, 0, 0, 0, 0, 0],
        10,
        Rule::Refuse,
        "link-local",
    ),
    v6(
        [0xfec0, 0, 0, 0, 0, 0, 0, 0],
        10,
        Rule::Refuse,
        "site-local (deprecated)",
    ),
    v6([0xff00, 0, 0, 0, 0, 0, 0, 0], 8, Rule::Refuse, "multicast"),
];

/// Why an address is not public: the range holding it, and, for an IPv6
/// form that carries an IPv4 address, that address and the form's name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NonPublic {
    pub range: IpNet,
    pub what: &'static str,
    pub embedded: Option<(Ipv4Addr, &'static str)>,
}

/// `None` for a public address; else the range that makes it non-public.
pub(crate) fn classify(ip: IpAddr) -> Option<NonPublic> {
    match ip {
        IpAddr::V4(a) => classify_v4(a),
        IpAddr::V6(a) => {
            let (net, rule, what) = NON_PUBLIC_V6.iter().find(|(n, _, _)| n.contains(&a))?;
            match rule {
                Rule::Refuse => Some(NonPublic {
                    range: IpNet::V6(*net),
                    what,
                    embedded: None,
                }),
                Rule::Embeds => {
                    let inner = embedded_v4(a, net.prefix_len());
                    classify_v4(inner).map(|c| NonPublic {
                        embedded: Some((inner, what)),
                        ..c
                    })
                }
            }
        }
    }
}

fn classify_v4(a: Ipv4Addr) -> Option<NonPublic> {
    let (net, what) = NON_PUBLIC_V4.iter().find(|(n, _)| n.contains(&a))?;
    Some(NonPublic {
        range: IpNet::V4(*net),
        what,
        embedded: None,
    })
}

/// The IPv4 address an IPv6 form carries: the last 32 bits for the /96
/// forms, bits 16..48 for 6to4 (`2002:AABB:CCDD::`).
fn embedded_v4(a: Ipv6Addr, prefix_len: u8) -> Ipv4Addr {
    let bits = u128::from(a);
    let word = if prefix_len == 16 { bits >> 80 } else { bits };
    // Truncation keeps the 32 bits wanted.
    Ipv4Addr::from(word as u32)
}

/// An `--allow-private-networks` entry that is not an address range.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "entry {entry:?} is not an IP range in CIDR form (such as 10.0.0.0/8 or fd00::/8): {reason}"
)]
pub struct AllowListError {
    pub entry: String,
    pub reason: String,
}

/// Refuses connections to non-public addresses (the table in
/// docs/security.md, "Outbound address guard") except those in `allowed`.
///
/// Given to [`crate::HttpClient::with_address_guard`]: every connection of
/// that client, redirects and OAuth token requests included, is checked on
/// the address it actually connects to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AddressGuard {
    allowed: Vec<IpNet>,
}

impl AddressGuard {
    /// A guard allowing `allowed` on top of the public addresses (host
    /// bits are cleared: `10.1.2.3/8` is `10.0.0.0/8`).
    pub fn new(allowed: Vec<IpNet>) -> AddressGuard {
        AddressGuard {
            allowed: allowed.iter().map(IpNet::trunc).collect(),
        }
    }

    /// Parses `CIDR[,CIDR...]` (`10.0.0.0/8,127.0.0.1/32,fd00::/8`); a bare
    /// address is a range of one. Spaces around entries are ignored; an
    /// empty or blank list allows nothing. The error names the bad entry.
    pub fn parse_allowed(list: &str) -> Result<AddressGuard, AllowListError> {
        if list.trim().is_empty() {
            return Ok(AddressGuard::default());
        }
        let mut allowed = Vec::new();
        for entry in list.split(',').map(str::trim) {
            let bad = |reason: &str| AllowListError {
                entry: entry.to_string(),
                reason: reason.to_string(),
            };
            if entry.is_empty() {
                return Err(bad("empty entry (two commas, or one at an end)"));
            }
            let net = match entry.parse::<IpNet>() {
                Ok(n) => n,
                Err(_) if !entry.contains('/') => entry
                    .parse::<IpAddr>()
                    .map(IpNet::from)
                    .map_err(|e| bad(&e.to_string()))?,
                Err(e) => return Err(bad(&e.to_string())),
            };
            allowed.push(net);
        }
        Ok(AddressGuard::new(allowed))
    }

    /// The ranges allowed besides the public addresses.
    pub fn allowed(&self) -> &[IpNet] {
        &self.allowed
    }

    /// Whether a connection to `ip` may be made.
    pub fn permits(&self, ip: IpAddr) -> bool {
        self.check(ip).is_ok()
    }

    /// `Ok` for a public or allowed address; else why not. An IPv6 form
    /// carrying an IPv4 address is allowed when either is in an allowed
    /// range (`127.0.0.0/8` allows `::ffff:127.0.0.1`).
    pub(crate) fn check(&self, ip: IpAddr) -> Result<(), NonPublic> {
        let Some(class) = classify(ip) else {
            return Ok(());
        };
        let inner = class.embedded.map(|(v4, _)| IpAddr::V4(v4));
        let allowed = |a: IpAddr| self.allowed.iter().any(|n| n.contains(&a));
        if allowed(ip) || inner.is_some_and(allowed) {
            return Ok(());
        }
        Err(class)
    }
}

/// A host whose every address was refused: the resolver's error, found
/// again by `client.rs` in reqwest's error chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Refused {
    /// The host as the URL names it (a name, or an IP literal).
    pub host: String,
    /// Each address refused, with why.
    pub addresses: Vec<(IpAddr, NonPublic)>,
    /// Whether `host` is an IP literal (no lookup happened).
    pub literal: bool,
}

impl Refused {
    /// The ranges to add to the allow-list, each once, in order.
    fn ranges(&self) -> Vec<IpNet> {
        let mut out: Vec<IpNet> = Vec::new();
        for (_, c) in &self.addresses {
            if !out.contains(&c.range) {
                out.push(c.range);
            }
        }
        out
    }
}

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let one = |(ip, c): &(IpAddr, NonPublic)| match c.embedded {
            Some((v4, form)) => format!("{ip} ({form} {v4}, in {}: {})", c.range, c.what),
            None => format!("{ip} (in {}: {})", c.range, c.what),
        };
        let listed: Vec<String> = self.addresses.iter().map(one).collect();
        if self.literal {
            write!(f, "address {}", listed.join(", "))?;
        } else {
            write!(f, "{} resolves to {}", self.host, listed.join(" and "))?;
        }
        let ranges: Vec<String> = self.ranges().iter().map(IpNet::to_string).collect();
        let (which, it) = match self.addresses.len() {
            1 => ("which is not a public address", "it"),
            _ => ("none of them a public address", "them"),
        };
        write!(
            f,
            ", {which}; to allow {it}, add {} to {ALLOW_FLAG}",
            ranges.join(",")
        )
    }
}

impl std::error::Error for Refused {}

impl AddressGuard {
    /// Checks an IP literal host; names are left to [`GuardedResolver`].
    pub(crate) fn check_host(&self, host: &url::Host<&str>) -> Result<(), Refused> {
        let ip = match host {
            url::Host::Ipv4(a) => IpAddr::V4(*a),
            url::Host::Ipv6(a) => IpAddr::V6(*a),
            url::Host::Domain(_) => return Ok(()),
        };
        self.check(ip).map_err(|c| Refused {
            host: ip.to_string(),
            addresses: vec![(ip, c)],
            literal: true,
        })
    }
}

/// The resolver of a guarded client: the system resolver (getaddrinfo on
/// tokio's blocking pool, as reqwest's default), minus refused addresses.
/// Some public addresses and some refused: only the public ones are
/// returned. None public: the lookup fails with [`Refused`].
pub(crate) struct GuardedResolver {
    pub guard: Arc<AddressGuard>,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let guard = Arc::clone(&self.guard);
        let host = name.as_str().to_string();
        Box::pin(async move {
            let found: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let mut kept = Vec::new();
            let mut refused = Vec::new();
            for addr in found {
                match guard.check(addr.ip()) {
                    Ok(()) => kept.push(addr),
                    Err(c) => refused.push((addr.ip(), c)),
                }
            }
            if kept.is_empty() && !refused.is_empty() {
                return Err(Box::new(Refused {
                    host,
                    addresses: refused,
                    literal: false,
                })
                    as Box<dyn std::error::Error + Send + Sync>);
            }
            if !refused.is_empty() {
                tracing::debug!(
                    host = %host,
                    dropped = refused.len(),
                    kept = kept.len(),
                    "address guard dropped non-public addresses of a host"
                );
            }
            Ok(Box::new(kept.into_iter()) as Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn range_of(s: &str) -> Option<String> {
        classify(ip(s)).map(|c| c.range.to_string())
    }

    #[test]
    fn v4_table() {
        let cases = [
            ("0.0.0.0", Some("0.0.0.0/8")),
            ("0.1.2.3", Some("0.0.0.0/8")),
            ("10.20.30.40", Some("10.0.0.0/8")),
            ("100.64.0.1", Some("100.64.0.0/10")),
            ("100.127.255.255", Some("100.64.0.0/10")),
            ("100.128.0.0", None),
            ("127.0.0.1", Some("127.0.0.0/8")),
            ("127.255.255.254", Some("127.0.0.0/8")),
            ("169.254.169.254", Some("169.254.0.0/16")),
            ("172.16.0.1", Some("172.16.0.0/12")),
            ("172.31.255.255", Some("172.16.0.0/12")),
            ("172.32.0.0", None),
            ("192.0.0.8", Some("192.0.0.0/24")),
            ("192.0.2.1", Some("192.0.2.0/24")),
            ("192.168.1.1", Some("192.168.0.0/16")),
            ("198.18.0.1", Some("198.18.0.0/15")),
            ("198.19.255.255", Some("198.18.0.0/15")),
            ("198.51.100.7", Some("198.51.100.0/24")),
            ("203.0.113.9", Some("203.0.113.0/24")),
            ("224.0.0.1", Some("224.0.0.0/4")),
            ("239.255.255.250", Some("224.0.0.0/4")),
            ("240.0.0.1", Some("240.0.0.0/4")),
            ("255.255.255.255", Some("255.255.255.255/32")),
            ("8.8.8.8", None),
            ("1.1.1.1", None),
            ("93.184.216.34", None),
            ("11.0.0.1", None),
            ("126.255.255.255", None),
            ("128.0.0.1", None),
            ("192.169.0.1", None),
            ("223.255.255.255", None),
        ];
        for (addr, want) in cases {
            assert_eq!(range_of(addr).as_deref(), want, "{addr}");
        }
        assert_eq!(classify(ip("255.255.255.255")).unwrap().what, "broadcast");
    }

    #[test]
    fn v6_table() {
        let cases = [
            ("::", Some("::/128")),
            ("::1", Some("::1/128")),
            ("::2", Some("::/96")),
            ("::7f00:1", Some("::/96")),
            ("64:ff9b:1::1", Some("64:ff9b:1::/48")),
            ("100::1", Some("100::/64")),
            ("2001::1", Some("2001::/32")),
            ("2001:db8::1", Some("2001:db8::/32")),
            ("3fff::1", Some("3fff::/20")),
            ("5f00::1", Some("5f00::/16")),
            ("fc00::1", Some("fc00::/7")),
            ("fd12:3456::1", Some("fc00::/7")),
            ("fe80::1", Some("fe80::/10")),
            ("febf::1", Some("fe80::/10")),
            ("fec0::1", Some("fec0::/10")),
            ("ff02::1", Some("ff00::/8")),
            ("2606:4700:4700::1111", None),
            ("2a00:1450:4001:82b::200e", None),
            ("2001:4860:4860::8888", None),
            ("fe00::1", None),
        ];
        for (addr, want) in cases {
            assert_eq!(range_of(addr).as_deref(), want, "{addr}");
        }
    }

    #[test]
    fn ipv6_forms_carrying_ipv4_are_judged_by_the_ipv4_address() {
        let c = classify(ip("::ffff:127.0.0.1")).unwrap();
        assert_eq!(c.range.to_string(), "127.0.0.0/8");
        assert_eq!(c.embedded, Some((Ipv4Addr::LOCALHOST, "IPv4-mapped")));
        assert_eq!(
            range_of("::ffff:169.254.169.254").as_deref(),
            Some("169.254.0.0/16")
        );
        assert_eq!(range_of("::ffff:10.0.0.1").as_deref(), Some("10.0.0.0/8"));
        assert_eq!(range_of("::ffff:0.0.0.0").as_deref(), Some("0.0.0.0/8"));
        assert_eq!(
            range_of("::ffff:0:127.0.0.1").as_deref(),
            Some("127.0.0.0/8")
        );
        assert_eq!(
            range_of("64:ff9b::a9fe:a9fe").as_deref(),
            Some("169.254.0.0/16")
        );
        assert_eq!(range_of("2002:7f00:1::").as_deref(), Some("127.0.0.0/8"));
        assert_eq!(
            range_of("2002:c0a8:101::1").as_deref(),
            Some("192.168.0.0/16")
        );
        // Carrying a public address, they are public.
        assert_eq!(range_of("::ffff:8.8.8.8"), None);
        assert_eq!(range_of("64:ff9b::808:808"), None);
        assert_eq!(range_of("2002:808:808::1"), None);
    }

    #[test]
    fn allowed_ranges_let_addresses_through() {
        let g = AddressGuard::parse_allowed("127.0.0.0/8, fd00::/8,192.168.1.7").unwrap();
        assert!(g.permits(ip("127.0.0.1")));
        assert!(
            g.permits(ip("::ffff:127.0.0.2")),
            "the mapped form of an allowed one"
        );
        assert!(g.permits(ip("fd00::5")));
        assert!(g.permits(ip("192.168.1.7")));
        assert!(!g.permits(ip("192.168.1.8")));
        assert!(!g.permits(ip("::1")), "::1 is not in 127.0.0.0/8");
        assert!(!g.permits(ip("169.254.169.254")));
        assert!(!g.permits(ip("fc00::1")));
        assert!(g.permits(ip("8.8.8.8")));
        let none = AddressGuard::default();
        assert!(!none.permits(ip("10.0.0.1")));
        assert!(none.permits(ip("2606:4700:4700::1111")));
        assert_eq!(
            AddressGuard::new(vec!["10.1.2.3/8".parse().unwrap()]).allowed(),
            &["10.0.0.0/8".parse::<IpNet>().unwrap()]
        );
    }

    #[test]
    fn parse_errors_name_the_entry() {
        let e = AddressGuard::parse_allowed("10.0.0.0/8,10.0.0.0/33").unwrap_err();
        assert_eq!(e.entry, "10.0.0.0/33");
        assert!(e.to_string().contains("\"10.0.0.0/33\""), "{e}");
        let e = AddressGuard::parse_allowed("localhost").unwrap_err();
        assert!(e.to_string().contains("\"localhost\""), "{e}");
        let e = AddressGuard::parse_allowed("10.0.0.0/8,,::1").unwrap_err();
        assert!(e.to_string().contains("empty entry"), "{e}");
        assert_eq!(AddressGuard::parse_allowed(" ").unwrap().allowed(), &[]);
        assert_eq!(
            AddressGuard::parse_allowed("::1").unwrap().allowed(),
            &["::1/128".parse::<IpNet>().unwrap()]
        );
    }

    #[test]
    fn refusal_names_host_address_range_and_flag() {
        let g = AddressGuard::default();
        let host = url::Host::Ipv4(Ipv4Addr::new(169, 254, 169, 254));
        let r = g.check_host(&host).unwrap_err();
        let msg = r.to_string();
        assert!(msg.contains("169.254.169.254 (in 169.254.0.0/16"), "{msg}");
        assert!(
            msg.contains("add 169.254.0.0/16 to --allow-private-networks"),
            "{msg}"
        );
        let r = Refused {
            host: "localhost".into(),
            addresses: vec![
                (ip("127.0.0.1"), classify(ip("127.0.0.1")).unwrap()),
                (ip("::1"), classify(ip("::1")).unwrap()),
            ],
            literal: false,
        };
        let msg = r.to_string();
        assert!(
            msg.starts_with("localhost resolves to 127.0.0.1 (in 127.0.0.0/8: loopback) and ::1"),
            "{msg}"
        );
        assert!(
            msg.contains("to allow them, add 127.0.0.0/8,::1/128 to"),
            "{msg}"
        );
        assert!(
            g.check_host(&url::Host::Domain("localhost")).is_ok(),
            "names are the resolver's"
        );
    }
}
