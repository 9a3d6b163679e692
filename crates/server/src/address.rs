//! The address a process records in `cluster_membership` for its peers to reach it.
//!
//! As in Temporal's docker image: `TEMPORAL_BROADCAST_ADDRESS` (static config
//! `broadcastAddress`) when set; otherwise the bind address, unless that is a wildcard
//! (`0.0.0.0`, `::`), in which case the address the host name resolves to (what
//! `getent hosts "$(hostname)"` prints: a container's own IP on its network).
//! A wildcard or loopback address is never recorded for a wildcard bind.

use anyhow::{Context, bail};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, ToSocketAddrs};

/// Parses a broadcast address: an IP address that peers can connect to.
pub fn parse_broadcast(text: &str) -> anyhow::Result<IpAddr> {
    let ip: IpAddr = text
        .trim()
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse()
        .with_context(|| format!("broadcast address {text:?} is not an IP address"))?;
    if ip.is_unspecified() {
        bail!("broadcast address {text:?} is a wildcard address: peers cannot connect to it");
    }
    Ok(ip)
}

/// The IP to record for peers, given the IP the roles are bound to.
pub fn advertised_ip(bind: IpAddr, broadcast: Option<IpAddr>) -> anyhow::Result<IpAddr> {
    if let Some(ip) = broadcast {
        return Ok(ip);
    }
    if !bind.is_unspecified() {
        return Ok(bind);
    }
    let host = hostname().context("cannot read the host name to find this host's address")?;
    let resolved: Vec<IpAddr> = (host.as_str(), 0)
        .to_socket_addrs()
        .with_context(|| format!("resolving the host name {host:?}"))?
        .map(|a| a.ip())
        .collect();
    pick_own_ip(bind, &resolved).with_context(|| {
        format!(
            "bound to {bind} and the host name {host:?} resolves to no usable address ({resolved:?}): \
             set TEMPORAL_BROADCAST_ADDRESS (or broadcastAddress) to the IP peers should use"
        )
    })
}

/// The first resolved address that is neither loopback nor a wildcard, preferring the bind
/// address's family.
fn pick_own_ip(bind: IpAddr, resolved: &[IpAddr]) -> Option<IpAddr> {
    let usable = |ip: &&IpAddr| !ip.is_loopback() && !ip.is_unspecified();
    resolved
        .iter()
        .filter(usable)
        .find(|ip| ip.is_ipv4() == bind.is_ipv4())
        .or_else(|| resolved.iter().find(usable))
        .copied()
}

fn hostname() -> Option<String> {
    let from_file = |p: &str| std::fs::read_to_string(p).ok();
    from_file("/proc/sys/kernel/hostname")
        .or_else(|| std::env::var("HOSTNAME").ok())
        .or_else(|| from_file("/etc/hostname"))
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
}

/// An address this host can use to reach a listener bound to `addr` (loopback for a
/// wildcard bind).
pub fn local_connect_addr(addr: SocketAddr) -> SocketAddr {
    match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => SocketAddr::new(Ipv4Addr::LOCALHOST.into(), addr.port()),
        IpAddr::V6(ip) if ip.is_unspecified() => SocketAddr::new(Ipv6Addr::LOCALHOST.into(), addr.port()),
        _ => addr,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("ip")
    }

    #[test]
    fn broadcast_wins_then_a_specific_bind_address() {
        assert_eq!(
            advertised_ip(ip("0.0.0.0"), Some(ip("10.1.2.3"))).expect("broadcast"),
            ip("10.1.2.3")
        );
        assert_eq!(advertised_ip(ip("172.18.0.5"), None).expect("bind"), ip("172.18.0.5"));
        assert_eq!(
            advertised_ip(ip("127.0.0.1"), None).expect("loopback bind"),
            ip("127.0.0.1")
        );
    }

    #[test]
    fn a_wildcard_bind_records_a_real_address() {
        // Whatever this machine's host name resolves to, the result is never a wildcard or
        // loopback address; when it resolves only to loopback the error names the fix.
        match advertised_ip(ip("0.0.0.0"), None) {
            Ok(addr) => assert!(!addr.is_unspecified() && !addr.is_loopback(), "{addr}"),
            Err(e) => assert!(format!("{e:#}").contains("TEMPORAL_BROADCAST_ADDRESS"), "{e:#}"),
        }
        let resolved = [ip("127.0.1.1"), ip("fd00::5"), ip("172.18.0.7")];
        assert_eq!(pick_own_ip(ip("0.0.0.0"), &resolved), Some(ip("172.18.0.7")));
        assert_eq!(pick_own_ip(ip("::"), &resolved), Some(ip("fd00::5")));
        assert_eq!(pick_own_ip(ip("0.0.0.0"), &[ip("127.0.0.1"), ip("::1")]), None);
    }

    #[test]
    fn broadcast_addresses_are_checked() {
        assert_eq!(parse_broadcast("10.0.0.9").expect("v4"), ip("10.0.0.9"));
        assert_eq!(parse_broadcast("[fd00::1]").expect("v6"), ip("fd00::1"));
        assert!(parse_broadcast("0.0.0.0").is_err());
        assert!(parse_broadcast("temporal-history").is_err());
        assert_eq!(
            local_connect_addr("0.0.0.0:7234".parse().expect("addr")),
            "127.0.0.1:7234".parse::<SocketAddr>().expect("addr")
        );
    }
}
