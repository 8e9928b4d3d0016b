//! Statement texts rendered once per connector.

use std::any::TypeId;
use std::hash::Hash;
use std::sync::{Arc, PoisonError, RwLock};

use rustc_hash::FxHashMap;

use crate::query::shape::Token;
use crate::session::unit_of_work::InsertShape;

/// The most query shapes a connector keeps texts for: an application has
/// as many as it has plain queries in its code; past this many, the rest
/// are rendered every time.
const MAX_QUERY_SHAPES: usize = 1024;

/// The texts of statements that every session sends again and again,
/// rendered once and kept by a [`Connector`](crate::Connector) for its life
/// (SQLAlchemy's compiled cache): the INSERT of a model's new objects, whose
/// text depends only on the model and on the shape of its rows, and the
/// SELECT of a model's row by key. Rendering either cost more than the rest
/// of the session's work for one new object, or one `get`. Also the text of
/// each shape of plain query (`query::shape`): building and rendering a
/// one-filter query was a fifth of the client's work for one row.
#[derive(Debug, Default)]
pub struct StatementTexts {
    inserts: RwLock<FxHashMap<(TypeId, InsertShape), Arc<str>>>,
    key_selects: RwLock<FxHashMap<TypeId, Arc<str>>>,
    queries: RwLock<FxHashMap<Box<[Token]>, Arc<str>>>,
}

impl StatementTexts {
    /// The text of the INSERT of new objects of `model` in `shape`,
    /// rendered by `render` the first time it is asked for.
    pub(crate) fn insert(&self, model: TypeId, shape: InsertShape, render: impl FnOnce() -> String) -> Arc<str> {
        cached(&self.inserts, (model, shape), render)
    }

    /// The text of the SELECT of the row of `model` with a given key,
    /// rendered by `render` the first time it is asked for.
    pub(crate) fn key_select(&self, model: TypeId, render: impl FnOnce() -> String) -> Arc<str> {
        cached(&self.key_selects, model, render)
    }

    /// How many shapes of plain query have their text kept (at most
    /// 1,024): a query of one of them is neither built nor rendered again.
    pub fn query_shapes(&self) -> usize {
        self.queries.read().unwrap_or_else(PoisonError::into_inner).len()
    }

    /// The text kept for plain queries of `shape`, if any.
    pub(crate) fn query(&self, shape: &[Token]) -> Option<Arc<str>> {
        self.queries.read().unwrap_or_else(PoisonError::into_inner).get(shape).cloned()
    }

    /// Whether a text for one more shape of plain query would be kept:
    /// fewer than [`MAX_QUERY_SHAPES`] are. When not, a query of a new
    /// shape is only rendered.
    pub(crate) fn keeps_more_queries(&self) -> bool {
        self.query_shapes() < MAX_QUERY_SHAPES
    }

    /// Keeps `text` for plain queries of `shape`, unless
    /// [`MAX_QUERY_SHAPES`] are kept already. There is no eviction: an
    /// application's plain queries are as many as the places in its code
    /// that build them.
    pub(crate) fn keep_query(&self, shape: &[Token], text: Arc<str>) {
        let mut queries = self.queries.write().unwrap_or_else(PoisonError::into_inner);
        if queries.len() < MAX_QUERY_SHAPES {
            queries.entry(shape.into()).or_insert(text);
        }
    }
}

/// The text of `key` in `texts`, rendered by `render` and kept the first
/// time it is asked for.
fn cached<K: Hash + Eq>(texts: &RwLock<FxHashMap<K, Arc<str>>>, key: K, render: impl FnOnce() -> String) -> Arc<str> {
    // The map is whole whenever its lock is released, even by a panic.
    if let Some(text) = texts.read().unwrap_or_else(PoisonError::into_inner).get(&key) {
        return text.clone();
    }
    let text: Arc<str> = render().into();
    texts.write().unwrap_or_else(PoisonError::into_inner).entry(key).or_insert(text).clone()
}
