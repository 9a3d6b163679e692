//! Property tests of list paging: any page token a client sends, with any query, gives a clean
//! error or a statement whose placeholders match its parameters; the next token of a full page
//! decodes back to where that page ended. Fixed budgets and seed (see `query::props::config`).

use super::*;
use crate::visibility::query::compile;
use crate::visibility::query::props::{catalog, config, query_text};
use proptest::prelude::*;

fn record(run_id: String, start_time: i64, close_time: Option<i64>) -> VisibilityRecord {
    VisibilityRecord {
        namespace_id: "ns".into(),
        run_id,
        workflow_id: "wf".into(),
        workflow_type: "T".into(),
        status: 1,
        start_time,
        execution_time: start_time,
        close_time,
        history_length: 0,
        history_size_bytes: 0,
        state_transition_count: 0,
        task_queue: "q".into(),
        parent_workflow_id: None,
        parent_run_id: None,
        root_workflow_id: String::new(),
        root_run_id: String::new(),
        memo: None,
        search_attributes: None,
        temporal_change_version: None,
        custom: Vec::new(),
        version: 1,
        division: String::new(),
    }
}

/// Tokens as a client may send them: garbage, and our own formats with hostile fields.
fn token() -> impl Strategy<Value = Vec<u8>> {
    let int = || {
        prop_oneof![
            any::<i64>().prop_map(|n| n.to_string()),
            Just(String::new()),
            Just("+5".to_owned()),
            Just("99999999999999999999".to_owned()),
            Just("-0".to_owned()),
            Just("1.5".to_owned()),
            Just(" 7".to_owned()),
            "[0-9a-z|:-]{0,6}",
        ]
    };
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..64),
        any::<String>().prop_map(String::into_bytes),
        (int(), int(), ".{0,8}").prop_map(|(c, s, r)| format!("k:{c}|{s}|{r}").into_bytes()),
        (int(), int()).prop_map(|(c, s)| format!("k:{c}|{s}").into_bytes()),
        int().prop_map(|n| format!("k:{n}").into_bytes()),
        int().prop_map(|n| format!("o:{n}").into_bytes()),
        prop::sample::select(vec!["o:", "k:", "o", "k", "o:9223372036854775807", "O:1", "k:||"])
            .prop_map(|s| s.as_bytes().to_vec()),
        (any::<i64>(), any::<i64>(), ".{0,8}").prop_map(|(c, s, r)| {
            let mut t = format!("k:{c}|{s}|{r}").into_bytes();
            t.push(0xff);
            t
        }),
    ]
}

/// Checks that `$1..$n` are exactly the parameters, and that no text of the query reached
/// the SQL (the only quotes are the fixed `ESCAPE '\'`).
fn check_statement(st: &Statement) -> std::result::Result<(), TestCaseError> {
    let mut seen = vec![false; st.params.len()];
    let b = st.sql.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'$' {
            let start = i + 1;
            let mut j = start;
            while j < b.len() && b[j].is_ascii_digit() {
                j += 1;
            }
            let n: usize = st.sql[start..j].parse().map_err(|_| TestCaseError::fail("bare $"))?;
            prop_assert!(n >= 1 && n <= seen.len(), "${n} of {} in {}", seen.len(), st.sql);
            seen[n - 1] = true;
            i = j;
        } else {
            i += 1;
        }
    }
    prop_assert!(seen.iter().all(|s| *s), "unused parameter in {}", st.sql);
    let rest = st.sql.replace("ESCAPE '\\'", "");
    prop_assert!(!rest.contains('\'') && !rest.contains(';'), "{}", st.sql);
    Ok(())
}

fn check_page(page: &ListPage, q: &VisibilityQuery) -> std::result::Result<(), TestCaseError> {
    for dialect in [Dialect::Postgres, Dialect::Sqlite] {
        check_statement(&page.statement(dialect, "ns", q))?;
    }
    Ok(())
}

proptest! {
    #![proptest_config(config(3000))]

    /// Any token, for a default-order and a custom-order query: a page, or the clean error
    /// the frontend turns into `Invalid NextPageToken.`.
    #[test]
    fn any_token_is_a_page_or_a_clean_error(token in token(), page_size in any::<usize>()) {
        let default_order = VisibilityQuery::all();
        let custom_order = compile("ORDER BY StartTime DESC", &catalog()).expect("compiles");
        for q in [&default_order, &custom_order] {
            match ListPage::new(q, page_size, &token) {
                Ok(page) => {
                    prop_assert!(page.limit >= 1);
                    prop_assert!(page.offset() >= 0);
                    check_page(&page, q)?;
                }
                Err(PersistenceError::ConditionFailed(_)) => {}
                Err(other) => prop_assert!(false, "{other:?}"),
            }
        }
    }

    /// A full page's next token leads on from its last row, whatever that row holds (extreme
    /// times, `|` and unicode in the run id), and an offset token never overflows.
    #[test]
    fn next_tokens_round_trip(
        run_id in ".{0,12}",
        start in any::<i64>(),
        close in prop::option::of(any::<i64>()),
        offset in prop_oneof![0..1_000_000i64, i64::MAX - 4..=i64::MAX],
        limit in 1..4i64,
    ) {
        let records: Vec<_> = (0..limit).map(|_| record(run_id.clone(), start, close)).collect();
        let page = ListPage { cursor: Cursor::Start, custom_order: false, limit };
        let token = page.next_token(&records);
        prop_assert_eq!(
            decode_token(&token).ok(),
            Some(Cursor::After(close.unwrap_or(OPEN_SORT), start, run_id))
        );
        let page = ListPage { cursor: Cursor::Offset(offset), custom_order: true, limit };
        let token = page.next_token(&records);
        match offset.checked_add(limit) {
            Some(n) => prop_assert_eq!(decode_token(&token).ok(), Some(Cursor::Offset(n))),
            None => prop_assert!(token.is_empty()),
        }
        prop_assert!(page.next_token(&records[1..]).is_empty());
    }
}

proptest! {
    #![proptest_config(config(1500))]

    /// Every query that compiles renders (list, count, and count by status) in both dialects
    /// with its values as parameters, whatever the page token.
    #[test]
    fn compiled_queries_render_with_any_token(q in query_text(), token in token()) {
        let Ok(vq) = compile(&q, &catalog()) else { return Ok(()) };
        for dialect in [Dialect::Postgres, Dialect::Sqlite] {
            for head in ["SELECT COUNT(*) AS n", "SELECT status, COUNT(*) AS n"] {
                let mut st = Statement::new(dialect, head, "ns");
                st.where_query(&vq);
                check_statement(&st)?;
            }
        }
        if let Ok(page) = ListPage::new(&vq, 100, &token) {
            check_page(&page, &vq)?;
        }
    }
}

/// Regression: the token of the page after an offset near i64::MAX overflowed
/// (`attempt to add with overflow`); no row can follow it, so there is no next page.
#[test]
fn offset_tokens_do_not_overflow() {
    let page = ListPage {
        cursor: Cursor::Offset(i64::MAX),
        custom_order: true,
        limit: 1,
    };
    assert!(page.next_token(&[record("r".into(), 0, None)]).is_empty());
    let q = compile("ORDER BY StartTime", &catalog()).expect("compiles");
    let page = ListPage::new(&q, usize::MAX, b"o:9223372036854775807").expect("a page");
    assert_eq!(page.limit, i64::MAX);
    assert!(page.next_token(&[]).is_empty());
}
