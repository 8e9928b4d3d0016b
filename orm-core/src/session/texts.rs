//! Statement texts rendered once per connector.

use std::any::TypeId;
use std::hash::Hash;
use std::sync::{Arc, PoisonError, RwLock};

use rustc_hash::FxHashMap;

use crate::session::unit_of_work::InsertShape;

/// The texts of statements that every session sends again and again,
/// rendered once and kept by a [`Connector`](crate::Connector) for its life
/// (SQLAlchemy's compiled cache): the INSERTs of a model's new objects, whose
/// text depends only on the model and on the shape of its rows, and the
/// SELECT of a model's row by key. Rendering either cost more than the rest
/// of the session's work for one new object, or one `get`. It also keeps
/// the sequence each model's generated key draws from, once looked up.
#[derive(Debug, Default)]
pub struct StatementTexts {
    inserts: RwLock<FxHashMap<(TypeId, InsertShape), Arc<str>>>,
    key_selects: RwLock<FxHashMap<TypeId, Arc<str>>>,
    /// The INSERTs that draw their keys from the key's sequence, by model.
    reserving_inserts: RwLock<FxHashMap<TypeId, Arc<str>>>,
    /// The sequence each model's generated key draws from, `None` for a key
    /// without one; a model not in it has not been looked up yet.
    key_sequences: RwLock<FxHashMap<TypeId, Option<Arc<str>>>>,
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

    /// The text of the INSERT of new objects of `model` that draws their
    /// keys from the key's sequence, rendered by `render` the first time it
    /// is asked for.
    pub(crate) fn reserving_insert(&self, model: TypeId, render: impl FnOnce() -> String) -> Arc<str> {
        cached(&self.reserving_inserts, model, render)
    }

    /// The sequence of `model`'s generated key (`Some(None)`: it has none of
    /// its own); `None` until a flush has looked it up.
    pub(crate) fn key_sequence(&self, model: TypeId) -> Option<Option<Arc<str>>> {
        self.key_sequences.read().unwrap_or_else(PoisonError::into_inner).get(&model).cloned()
    }

    /// Remembers the sequence of `model`'s generated key, or that it has none.
    /// A sequence of another name takes the INSERT drawn from the old one
    /// with it.
    pub(crate) fn learn_key_sequence(&self, model: TypeId, sequence: Option<Arc<str>>) {
        let mut known = self.key_sequences.write().unwrap_or_else(PoisonError::into_inner);
        if known.get(&model) != Some(&sequence) {
            self.reserving_inserts.write().unwrap_or_else(PoisonError::into_inner).remove(&model);
        }
        known.insert(model, sequence);
    }

    /// Forgets the sequence of `model`'s generated key, and the INSERT drawn
    /// from it: the next INSERT of several new objects looks it up again.
    pub(crate) fn forget_key_sequence(&self, model: TypeId) {
        self.key_sequences.write().unwrap_or_else(PoisonError::into_inner).remove(&model);
        self.reserving_inserts.write().unwrap_or_else(PoisonError::into_inner).remove(&model);
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
