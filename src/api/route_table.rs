//! The table of routes, filled while the app is configured: [`super::routes`] builds the app
//! once with collection switched on and reads back every `(path, method)` that was attached.
//! Serving never collects (actix configures each worker's app the same way, and the table is
//! off there), so the table costs nothing at run time.
//!
//! actix keeps no list of its routes that could be read back, and a scope's routes are
//! configured before the scope is mounted, so the scope's prefix is noted here while its routes
//! are being configured ([`within`]).

use std::cell::RefCell;
use std::collections::BTreeSet;

use actix_web::http::Method;

thread_local! {
    static PREFIX: RefCell<&'static str> = const { RefCell::new("") };
    static TABLE: RefCell<Option<BTreeSet<(String, String)>>> = const { RefCell::new(None) };
}

/// `path` as a client sees it: under the scope being configured.
pub(super) fn full_path(path: &str) -> String {
    PREFIX.with(|p| format!("{}{path}", p.borrow()))
}

/// Runs `configure` with `prefix` as the scope of the routes it registers.
pub(super) fn within<R>(prefix: &'static str, configure: impl FnOnce() -> R) -> R {
    let outer = PREFIX.with(|p| p.replace(prefix));
    let result = configure();
    PREFIX.with(|p| *p.borrow_mut() = outer);
    result
}

/// Notes a route, when a collection is running on this thread.
pub(super) fn note(path: &str, method: Method) {
    TABLE.with(|t| {
        if let Some(table) = t.borrow_mut().as_mut() {
            table.insert((path.to_owned(), method.as_str().to_owned()));
        }
    });
}

/// Every route `configure` attaches, sorted by path, then method.
pub(super) fn collect(configure: impl FnOnce()) -> Vec<(String, Method)> {
    TABLE.with(|t| *t.borrow_mut() = Some(BTreeSet::new()));
    configure();
    let table = TABLE.with(|t| t.borrow_mut().take()).unwrap_or_default();
    table
        .into_iter()
        .filter_map(|(path, method)| Some((path, Method::from_bytes(method.as_bytes()).ok()?)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_are_noted_under_their_scope_only_while_collecting() {
        note("/ignored", Method::GET);
        let table = collect(|| {
            within("/api/v1", || {
                note(&full_path("/things/{id}"), Method::PATCH)
            });
            note(&full_path("/health"), Method::GET);
        });
        assert_eq!(
            table,
            vec![
                ("/api/v1/things/{id}".to_owned(), Method::PATCH),
                ("/health".to_owned(), Method::GET),
            ]
        );
        note("/after", Method::GET);
        assert!(collect(|| {}).is_empty());
    }
}
