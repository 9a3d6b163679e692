//! Property tests of history page tokens and the paging arithmetic that uses them: any token
//! is a page or `Invalid NextPageToken.`, whatever event id it holds (negative, huge, past the
//! end of the history), and pages never overlap or skip events. Fixed budgets and seed.

use super::*;
use crate::token::props::config;
use proptest::prelude::*;
use sundial_api::temporal::history::v1::History;

/// A history of `n` events in batches of the given sizes, as the store returns them from
/// `from` (every batch that holds an event at or after it).
fn batches(sizes: &[usize], from: i64) -> Vec<HistoryBatch> {
    let mut next = 1i64;
    let mut out = Vec::new();
    for &size in sizes {
        let first = next;
        let events: Vec<HistoryEvent> = (0..size)
            .map(|k| HistoryEvent {
                event_id: first + k as i64,
                ..Default::default()
            })
            .collect();
        next += size as i64;
        if next > from {
            out.push(HistoryBatch {
                first_event_id: first,
                txn_id: first,
                history: History { events },
            });
        }
    }
    out
}

fn forward_token() -> impl Strategy<Value = Vec<u8>> {
    let id = prop_oneof![
        any::<i64>().prop_map(|n| n.to_string()),
        Just("9223372036854775808".to_owned()),
        Just(String::new()),
        Just("+3".to_owned()),
        "[0-9|-]{0,4}",
    ];
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..48),
        any::<String>().prop_map(String::into_bytes),
        (".{0,8}", id).prop_map(|(run, id)| format!("{run}|{id}").into_bytes()),
    ]
}

proptest! {
    #![proptest_config(config(3000))]

    /// Forward tokens: garbage is `Invalid NextPageToken.`; a decoded event id, whatever it
    /// is, gives a page of the events from it on and a next id past the page.
    #[test]
    fn forward_tokens_page_or_fail_cleanly(
        token in forward_token(),
        sizes in prop::collection::vec(1..4usize, 0..12),
        page in 1..5usize,
    ) {
        let (_, from) = match decode_token(&token) {
            Ok(t) => t,
            Err(e) => {
                prop_assert!(matches!(&e, ServiceError::InvalidArgument(m) if m == "Invalid NextPageToken."));
                return Ok(());
            }
        };
        let all = batches(&sizes, from);
        let read: Vec<_> = all.iter().take(page + 1).cloned().collect();
        let (events, next, more) = forward_page(read, from, page);
        prop_assert!(events.iter().all(|e| e.event_id >= from));
        prop_assert!(events.windows(2).all(|w| w[1].event_id == w[0].event_id + 1));
        prop_assert_eq!(more, all.len() > page);
        match events.last() {
            Some(last) => prop_assert_eq!(next, last.event_id + 1),
            None => prop_assert_eq!(next, from),
        }
    }

    /// Paging a whole history forward with the tokens we hand out reads every event once.
    #[test]
    fn forward_pages_cover_the_history(sizes in prop::collection::vec(1..4usize, 0..12), page in 1..5usize) {
        let total: i64 = sizes.iter().sum::<usize>() as i64;
        let mut from = 1;
        let mut seen = 0;
        for _ in 0..100 {
            let read: Vec<_> = batches(&sizes, from).into_iter().take(page + 1).collect();
            let (events, next, more) = forward_page(read, from, page);
            seen += events.len() as i64;
            from = decode_token(&encode_token("r", next)).expect("ours").1;
            if !more {
                break;
            }
        }
        prop_assert_eq!(seen, total);
    }

    /// Reverse tokens: any bytes and any page size give a page inside the history and a next
    /// token past it, or `Invalid NextPageToken.`.
    #[test]
    fn reverse_tokens_page_or_fail_cleanly(
        token in prop_oneof![
            prop::collection::vec(any::<u8>(), 0..24),
            any::<u64>().prop_map(|n| n.to_string().into_bytes()),
            any::<i64>().prop_map(|n| n.to_string().into_bytes()),
            Just(b"18446744073709551615".to_vec()),
            Just(b"18446744073709551616".to_vec()),
            (0..40usize).prop_map(|n| n.to_string().into_bytes()),
        ],
        len in 0..40usize,
        size in prop_oneof![any::<i32>(), 1..8i32, Just(i32::MAX), Just(0), Just(-1)],
    ) {
        match reverse_page(len, &token, size) {
            Ok((range, next)) => {
                prop_assert!(range.start <= range.end && range.end <= len);
                if next.is_empty() {
                    prop_assert_eq!(range.end, len);
                } else {
                    let (after, _) = reverse_page(len, &next, size).expect("ours");
                    prop_assert_eq!(after.start, range.end);
                    prop_assert!(range.end > range.start);
                }
            }
            Err(e) => prop_assert!(matches!(&e, ServiceError::InvalidArgument(m) if m == "Invalid NextPageToken.")),
        }
    }
}

/// Regression: a reverse page token near usize::MAX overflowed `start + size`
/// (`attempt to add with overflow` in the history handler).
#[test]
fn huge_reverse_tokens_do_not_overflow() {
    for token in [&b"18446744073709551615"[..], b"18446744073709550616"] {
        let (range, next) = reverse_page(10, token, 0).expect("a page");
        assert!(range.is_empty() && next.is_empty());
        let (range, next) = reverse_page(10, token, i32::MAX).expect("a page");
        assert!(range.is_empty() && next.is_empty());
    }
    assert!(reverse_page(10, b"-1", 5).is_err());
    assert_eq!(reverse_page(10, b"", 4).ok(), Some((0..4, b"4".to_vec())));
    assert_eq!(reverse_page(10, b"8", 4).ok(), Some((8..10, Vec::new())));
}
