//! Task-queue partition names as Temporal spells them on the wire: partition 0 is the queue's
//! own name, partition `n > 0` is `/_sys/<name>/<n>`. Clients only ever send partition names
//! to DescribeTaskQueue (the CLI's `--partitions-legacy`); everything else uses plain names.

/// Names starting with this are reserved for partitions.
pub const RESERVED_PREFIX: &str = "/_sys/";

/// How many partitions forward to one parent (Temporal's `matching.forwarderMaxChildrenPerNode`).
pub const FORWARDER_DEGREE: u32 = 20;

/// The wire name of partition `number` of queue `base`.
pub fn rpc_name(base: &str, number: u32) -> String {
    if number == 0 {
        base.to_owned()
    } else {
        format!("{RESERVED_PREFIX}{base}/{number}")
    }
}

/// Splits a wire name into (queue name, partition number). Plain names are partition 0.
pub fn parse(name: &str) -> Result<(&str, u32), String> {
    let Some(rest) = name.strip_prefix(RESERVED_PREFIX) else {
        return Ok((name, 0));
    };
    let invalid = || format!("invalid partition name: {name}");
    let (base, number) = rest.rsplit_once('/').ok_or_else(invalid)?;
    if base.is_empty() || base.starts_with(RESERVED_PREFIX) || number.starts_with(['+', '-']) {
        return Err(invalid());
    }
    match number.parse::<u32>() {
        Ok(n) if n > 0 => Ok((base, n)),
        _ => Err(invalid()),
    }
}

/// The partition that `number` forwards unmatched polls and tasks to; `None` for the root.
pub fn parent(number: u32) -> Option<u32> {
    (number > 0).then(|| number.div_ceil(FORWARDER_DEGREE) - 1)
}

/// A partition picked at random below `n` (0 when `n <= 1`): callers spread adds and polls
/// over a queue's partitions with it.
pub fn pick(n: u32) -> u32 {
    crate::random::below(u64::from(n)) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_stay_below_the_count() {
        assert_eq!(pick(1), 0);
        assert!((0..100).all(|_| pick(3) < 3));
    }

    #[test]
    fn names_round_trip() {
        assert_eq!(rpc_name("orders", 0), "orders");
        assert_eq!(rpc_name("orders", 3), "/_sys/orders/3");
        assert_eq!(parse("orders"), Ok(("orders", 0)));
        assert_eq!(parse("/_sys/orders/3"), Ok(("orders", 3)));
        assert_eq!(parse("/_sys/a/b/12"), Ok(("a/b", 12)));
        for bad in [
            "/_sys/orders",
            "/_sys/orders/0",
            "/_sys//2",
            "/_sys/orders/x",
            "/_sys/o/-1",
            "/_sys/o/+1",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn partitions_form_a_tree_of_degree_twenty() {
        assert_eq!(parent(0), None);
        for n in 1..=20 {
            assert_eq!(parent(n), Some(0), "{n}");
        }
        assert_eq!(parent(21), Some(1));
        assert_eq!(parent(40), Some(1));
        assert_eq!(parent(41), Some(2));
    }
}
