//! A consistent-hash ring of one role's hosts: a key (a history shard, a task queue) belongs to
//! the first host point at or after the key's hash. Every host places the same number of
//! points, derived only from its address, so every process that sees the same hosts agrees on
//! every owner, and a host joining or leaving moves only about 1/n of the keys.

/// Points each host places on the ring (more points, evener spread).
const POINTS_PER_HOST: u32 = 64;

/// A member of one role, as peers reach it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Host {
    /// `ip:port` (or `name:port`) of the role's gRPC server.
    pub address: String,
    pub host_id: String,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Ring {
    hosts: Vec<Host>,
    /// (hash, index into `hosts`), sorted.
    points: Vec<(u64, usize)>,
}

impl Ring {
    pub fn new(mut hosts: Vec<Host>) -> Ring {
        hosts.sort();
        hosts.dedup_by(|a, b| a.address == b.address);
        let mut points: Vec<(u64, usize)> = hosts
            .iter()
            .enumerate()
            .flat_map(|(i, h)| (0..POINTS_PER_HOST).map(move |p| (hash(&format!("{}#{p}", h.address)), i)))
            .collect();
        points.sort_unstable();
        Ring { hosts, points }
    }

    /// The host that owns `key`, if the ring has any host.
    pub fn owner(&self, key: &str) -> Option<&Host> {
        if self.points.is_empty() {
            return None;
        }
        let h = hash(key);
        let at = self.points.partition_point(|(p, _)| *p < h);
        let (_, host) = self.points[at % self.points.len()];
        self.hosts.get(host)
    }

    pub fn hosts(&self) -> &[Host] {
        &self.hosts
    }

    pub fn is_empty(&self) -> bool {
        self.hosts.is_empty()
    }
}

/// FNV-1a over the bytes, then a 64-bit finaliser (SplitMix64's) so that near-equal keys
/// ("shard 1", "shard 2") land far apart. Fixed by definition: every version of every process
/// computes the same ring.
fn hash(key: &str) -> u64 {
    let mut h = 0xcbf2_9ce4_8422_2325_u64;
    for b in key.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h ^= h >> 30;
    h = h.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h ^= h >> 27;
    h = h.wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^ (h >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hosts(n: usize) -> Vec<Host> {
        (0..n)
            .map(|i| Host {
                address: format!("10.0.0.{i}:7234"),
                host_id: format!("h{i}"),
            })
            .collect()
    }

    fn owners(ring: &Ring, keys: usize) -> Vec<String> {
        (0..keys)
            .map(|k| {
                ring.owner(&k.to_string())
                    .map(|h| h.address.clone())
                    .unwrap_or_default()
            })
            .collect()
    }

    #[test]
    fn an_empty_ring_owns_nothing() {
        assert_eq!(Ring::new(Vec::new()).owner("1"), None);
    }

    #[test]
    fn owners_do_not_depend_on_the_order_hosts_are_seen_in() {
        let mut reversed = hosts(3);
        reversed.reverse();
        assert_eq!(owners(&Ring::new(hosts(3)), 512), owners(&Ring::new(reversed), 512));
    }

    #[test]
    fn keys_spread_over_every_host() {
        let ring = Ring::new(hosts(3));
        let owned = owners(&ring, 512);
        for h in ring.hosts() {
            let n = owned.iter().filter(|o| **o == h.address).count();
            assert!((80..260).contains(&n), "{} owns {n} of 512", h.address);
        }
    }

    #[test]
    fn a_leaving_host_moves_only_its_own_keys() {
        let before = owners(&Ring::new(hosts(3)), 512);
        let after = owners(&Ring::new(hosts(2)), 512);
        for (b, a) in before.iter().zip(&after) {
            if b != "10.0.0.2:7234" {
                assert_eq!(a, b, "a key of a staying host moved");
            }
        }
    }
}
