//! The Session: a unit of work with an identity map, as SQLAlchemy's.
//!
//! The session owns every object it tracks, in one arena per model, and hands
//! out `Copy` [`Handle`]s. `session[h]` reads an object; `&mut session[h]`
//! writes it and marks it for a diff at the next flush. The design and the
//! alternatives that were rejected are in `docs/design/session.md`.

mod chunked;
pub(crate) mod flush_links;
mod identity_map;
pub mod raw;
mod recording;
mod relations;
mod savepoint;
mod texts;
mod unit_of_work;

use std::any::TypeId;
use std::fmt;
use std::ops::{Index, IndexMut};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use crate::error::{Error, Result};
use crate::executor::{Connection, Connector, RawRow, RowFn, Rows, ValueRow};
use crate::metadata::TableMeta;
use crate::model::{Model, RowReader};
use crate::query::Query;
use crate::relation::Links;
use crate::statement::{self, Sql, Statement, Transaction};
use crate::value::{SqlValue, Value};

use flush_links::{ModelArena, Models};
pub(crate) use identity_map::KeyRun;
use identity_map::{stale_handle, Arena};
pub use identity_map::{Handle, ObjectState};
pub use savepoint::Savepoint;
pub use texts::StatementTexts;
pub(crate) use unit_of_work::{insert_statement, insert_values, InsertShape};

/// Session ids never repeat within a process: a handle of a dropped session
/// can never be taken for one of a later session.
static NEXT_SESSION_ID: AtomicU64 = AtomicU64::new(1);

/// A unit of work: tracks new, changed and deleted objects and writes them in
/// one transaction; one row is one object within a session.
///
/// A session takes one pooled connection at its first statement and holds it
/// until [`commit`](Session::commit) or [`rollback`](Session::rollback). It
/// sends `BEGIN` before its first write (a flush); reads before that run on
/// their own, which at PostgreSQL's READ COMMITTED sees the same data and lets
/// a read-only session hand its connection straight back when dropped.
/// Dropping a session with an open transaction rolls it back.
///
/// ```no_run
/// # use orm_core::{Session, Model};
/// # async fn demo<M: Model>(session: &mut Session, object: M) -> orm_core::Result<()> {
/// let handle = session.add(object);   // pending
/// session.commit().await?;            // INSERT .. RETURNING, COMMIT
/// let same = session.get::<M>(session[handle].key()).await?; // no round trip
/// assert_eq!(same, Some(handle));
/// # Ok(()) }
/// ```
pub struct Session {
    pub(crate) id: u64,
    connector: Arc<dyn Connector>,
    conn: Option<Box<dyn Connection>>,
    in_transaction: bool,
    /// One arena per model, in the order the models were first used.
    models: Vec<ModelArena>,
    links: relations::PendingLinks,
    savepoints: Vec<savepoint::SavepointMark>,
    next_savepoint: u32,
    /// Set while a flush runs: still set at the next call means the flush
    /// future was dropped half way (a timeout, a `select!`).
    flushing: bool,
    /// The new objects whose INSERT carries the COMMIT (`write_changes`):
    /// those of model `.0` in slots below `.1`.
    inserted_with_commit: Option<(usize, u32)>,
    /// Set while COMMIT is on its way: still set at the next call means the
    /// commit future was dropped before the answer came.
    committing: bool,
    /// Set while another statement of the open transaction is on its way
    /// (a query, a raw statement, a savepoint's): still set at the next
    /// call means its future was dropped before the answer came, and the
    /// transaction's state is unknown (`check_interrupted`).
    awaiting_statement: bool,
    autoflush: bool,
    /// Expire every object after a commit (`set_expire_on_commit`).
    expire_on_commit: bool,
    /// Where the statements go while recording (`record_statements`).
    recording: Option<recording::StatementLog>,
    /// The text of each model's SELECT by key, from the connector's
    /// [`StatementTexts`]: a lookup then costs no statement building, and
    /// no lock on the connector's texts after the first. Shared, not
    /// copied: a copy per lookup cost an allocation and a free.
    key_selects: rustc_hash::FxHashMap<TypeId, Arc<str>>,
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("id", &self.id)
            .field("in_transaction", &self.in_transaction)
            .field("models", &self.models.iter().map(|m| m.table().model).collect::<Vec<_>>())
            .finish()
    }
}

impl Session {
    /// Creates a session that takes its connections from `connector`.
    /// Does no I/O.
    pub fn new(connector: Arc<dyn Connector>) -> Self {
        Session {
            id: NEXT_SESSION_ID.fetch_add(1, Ordering::Relaxed),
            connector,
            conn: None,
            in_transaction: false,
            models: Vec::new(),
            links: relations::PendingLinks::default(),
            savepoints: Vec::new(),
            next_savepoint: 0,
            flushing: false,
            inserted_with_commit: None,
            committing: false,
            awaiting_statement: false,
            recording: None,
            autoflush: true,
            expire_on_commit: false,
            key_selects: Default::default(),
        }
    }

    /// The session's id: unique within the process (never reused), and the
    /// name error messages give the session.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// Turns autoflush (a flush before every query) on or off. On by default.
    pub fn set_autoflush(&mut self, on: bool) {
        self.autoflush = on;
    }

    /// The session with autoflush off until the guard is dropped
    /// (SQLAlchemy's `with session.no_autoflush:`): queries see the database
    /// as it is, without first writing pending changes.
    ///
    /// ```no_run
    /// # async fn demo(session: &mut orm_core::Session) -> orm_core::Result<()> {
    /// let mut quiet = session.no_autoflush();
    /// quiet.execute("SELECT 1", ()).await?; // no flush of pending objects
    /// drop(quiet);                        // autoflush is back
    /// # Ok(()) }
    /// ```
    pub fn no_autoflush(&mut self) -> NoAutoflush<'_> {
        let was = std::mem::replace(&mut self.autoflush, false);
        NoAutoflush { session: self, was }
    }

    /// Flushes before a query, if autoflush is on. A failure says it came
    /// from the autoflush, so that a query's error is not taken for the
    /// query's own.
    async fn autoflush(&mut self) -> Result<()> {
        // Checked here, not left to the flush: most queries have nothing to
        // flush, and the flush's future costs more than the check.
        if !self.autoflush || !self.flush_needed() {
            return Ok(());
        }
        self.flush().await.map_err(|e| Error::Autoflush(Box::new(e)))
    }

    /// Whether a flush has work: changes to write, or a dropped flush or
    /// commit to settle first.
    fn flush_needed(&self) -> bool {
        self.interrupted() || self.has_changes()
    }

    /// Whether a flush or commit was dropped half way and is still to be
    /// settled.
    fn interrupted(&self) -> bool {
        self.flushing || self.committing || self.awaiting_statement
    }

    /// Whether a transaction is open: something was flushed and not yet
    /// committed or rolled back.
    pub fn in_transaction(&self) -> bool {
        self.in_transaction
    }

    fn arena<T: Model>(&self) -> Option<&Arena<T>> {
        let i = self.models.iter().position(|arena| arena.model == TypeId::of::<T>())?;
        self.models[i].as_any().downcast_ref()
    }

    pub(crate) fn arena_mut<T: Model>(&mut self) -> &mut Arena<T> {
        let i = self.arena_position::<T>();
        self.models[i].as_any_mut().downcast_mut().expect("arena matches its TypeId")
    }

    /// The position of `T`'s arena, made if it does not exist yet.
    fn arena_position<T: Model>(&mut self) -> usize {
        self.arenas().arena_position::<T>()
    }

    /// Every arena, borrowed apart from the connection.
    fn arenas(&mut self) -> Models<'_> {
        Models { arenas: &mut self.models }
    }

    fn handle<T>(&self, index: u32) -> Handle<T> {
        Handle::new(index, self.id)
    }

    fn owns<T>(&self, handle: Handle<T>) -> bool {
        handle.session == self.id
    }

    /// Why `handle` resolves to no object: it is another session's, or its
    /// object left this one.
    pub(crate) fn handle_error<T: Model>(&self, handle: Handle<T>) -> Error {
        if self.owns(handle) {
            stale_handle(T::TABLE.model)
        } else {
            Error::ForeignHandle { model: T::TABLE.model, handle_session: handle.session, session: self.id }
        }
    }

    /// Adds a new object; it is inserted at the next flush. Returns its handle.
    pub fn add<T: Model>(&mut self, object: T) -> Handle<T> {
        let session = self.id;
        add_new(self.arena_mut::<T>(), object, session)
    }

    /// Adds many new objects, as [`add`](Session::add) does each; they are
    /// inserted at the next flush, one statement per model.
    pub fn add_all<T: Model>(&mut self, objects: impl IntoIterator<Item = T>) -> Vec<Handle<T>> {
        let session = self.id;
        let arena = self.arena_mut::<T>();
        let objects = objects.into_iter();
        arena.reserve_new(objects.size_hint().0);
        objects.map(|object| add_new(arena, object, session)).collect()
    }

    /// Returns the object behind `handle`, or `None` if the handle belongs to
    /// another session or the object was expunged.
    pub fn object<T: Model>(&self, handle: Handle<T>) -> Option<&T> {
        if !self.owns(handle) {
            return None;
        }
        self.arena::<T>()?.object(handle.index)
    }

    /// Lends the object behind `handle` for writing; the next flush sends an
    /// UPDATE of the columns that changed. `None` as for [`Session::object`].
    pub fn object_mut<T: Model>(&mut self, handle: Handle<T>) -> Option<&mut T> {
        if !self.owns(handle) {
            return None;
        }
        self.arena_mut::<T>().object_mut(handle.index)
    }

    /// Returns where the object stands in the unit of work.
    pub fn state<T: Model>(&self, handle: Handle<T>) -> Option<ObjectState> {
        if !self.owns(handle) {
            return None;
        }
        self.arena::<T>()?.state(handle.index)
    }

    /// Returns the object with this primary key: from the identity map without
    /// a round trip when it is loaded, else with one `SELECT`. `None` if no
    /// such row exists, or the object is marked for deletion.
    ///
    /// # Errors
    /// A database error, or [`Error::Decode`].
    pub async fn get<T: Model>(&mut self, key: T::Key) -> Result<Option<Handle<T>>> {
        let arena = self.arena_mut::<T>();
        match arena.held(&key) {
            Some((index, ObjectState::Persistent)) if !arena.is_expired(index) => return Ok(Some(self.handle(index))),
            // Marked for deletion, not flushed yet, and no autoflush to
            // write the deletion before a SELECT: gone, as `get_many`
            // answers.
            Some((_, ObjectState::Deleted)) if !self.autoflush => return Ok(None),
            _ => {}
        }
        let (text, params) = self.select_by_key::<T>(&key);
        // At most one row: no `Vec` of slots (its allocation and free were
        // 3 % of a lookup).
        let mut found = First(None);
        self.fetch_objects_into::<T, ()>(&text, &params, 0, |_, _| (), &mut found).await?;
        Ok(found.0.map(|i| self.handle(i)))
    }

    /// Looks up many objects by key at once: each key loaded in this session
    /// is answered from the identity map, the others with one SELECT (`=
    /// ANY($1)`, or a join against arrays of the key columns for a
    /// composite key). Returns a handle per key, in the order given, `None`
    /// where no row has the key.
    ///
    /// # Errors
    /// As [`get`](Session::get).
    pub async fn get_many<T: Model>(
        &mut self,
        keys: impl IntoIterator<Item = T::Key>,
    ) -> Result<Vec<Option<Handle<T>>>> {
        let keys: Vec<T::Key> = keys.into_iter().collect();
        let missing: Vec<Vec<Value>> =
            keys.iter().filter(|k| self.loaded::<T>(k).is_none()).map(T::key_values).collect();
        if !missing.is_empty() {
            let select = select_by_keys(T::TABLE, missing);
            let sql = self.render(Statement::Select(Box::new(select)));
            self.fetch_objects_into::<T, ()>(&sql.text, &sql.params, 0, |_, _| (), &mut Merged).await?;
        }
        // A row read is in the identity map, unexpired, as every object
        // that answered without the query: one lookup answers each key.
        Ok(keys.iter().map(|key| self.loaded::<T>(key).map(|index| self.handle(index))).collect())
    }

    /// The slot of the object with `key` when its values can answer a
    /// lookup: held and not expired.
    fn loaded<T: Model>(&mut self, key: &T::Key) -> Option<u32> {
        let arena = self.arena_mut::<T>();
        arena.find(key).filter(|&i| !arena.is_expired(i))
    }

    /// The SELECT of the row of `T` with this key: its text and its
    /// parameters. The text does not depend on the key's values.
    fn select_by_key<T: Model>(&mut self, key: &T::Key) -> (Arc<str>, Vec<Value>) {
        let params = T::key_values(key);
        if let Some(text) = self.key_selects.get(&TypeId::of::<T>()) {
            return (text.clone(), params);
        }
        let render = || {
            let mut select = statement::select_table(T::TABLE);
            select.filter = statement::key_filter(T::TABLE, params.clone());
            self.render(Statement::Select(Box::new(select))).text
        };
        let text = self.connector.statement_texts().key_select(TypeId::of::<T>(), render);
        self.key_selects.insert(TypeId::of::<T>(), text.clone());
        (text, params)
    }

    /// Marks an object for deletion at the next flush. A pending object is
    /// simply forgotten.
    ///
    /// # Errors
    /// [`Error::ForeignHandle`] or [`Error::StaleHandle`] if the handle is
    /// not one of this session's objects.
    pub fn delete<T: Model>(&mut self, handle: Handle<T>) -> Result<()> {
        if !self.owns(handle) {
            return Err(self.handle_error(handle));
        }
        self.arena_mut::<T>().mark_deleted(handle.index)
    }

    /// Removes an object from the session and hands it back as a plain value.
    /// Pending changes to it are forgotten; the handle becomes invalid.
    pub fn expunge<T: Model>(&mut self, handle: Handle<T>) -> Option<T> {
        if !self.owns(handle) {
            return None;
        }
        let mut object = self.arena_mut::<T>().expunge(handle.index)?;
        // Its links are slots of this session: meaningless outside it.
        reset_links(&mut object, Links::not_loaded(), 0);
        Some(object)
    }

    /// Reloads an object from the database, dropping its pending changes.
    ///
    /// # Errors
    /// [`Error::NotFound`] if its row no longer exists; a database error.
    pub async fn refresh<T: Model>(&mut self, handle: Handle<T>) -> Result<()> {
        let key = self.object(handle).ok_or_else(|| self.handle_error(handle))?.key();
        // No autoflush: the pending changes of this object are to be dropped.
        let (text, params) = self.select_by_key::<T>(&key);
        let rows = self.run_sql(&text, &params).await?;
        let fresh = decode_rows::<T>(rows)?.pop().ok_or(Error::NotFound { model: T::TABLE.model })?;
        self.arena_mut::<T>().replace(handle.index, fresh);
        Ok(())
    }

    /// Starts recording the text of every statement this session sends
    /// (see [`recorded_statements`](Session::recorded_statements) and
    /// [`assert_statements!`](crate::assert_statements)).
    pub fn record_statements(&mut self) {
        if let Some(log) = &self.recording {
            // Recording already: start the list again, on the same wrapper.
            if let Ok(mut statements) = log.lock() {
                *statements = Some(Vec::new());
            }
            return;
        }
        let log: recording::StatementLog = Arc::new(std::sync::Mutex::new(Some(Vec::new())));
        if let Some(conn) = self.conn.take() {
            self.conn = Some(recording::Recording::wrap(conn, log.clone()));
        }
        self.recording = Some(log);
    }

    /// Stops recording and returns the statements sent since
    /// [`record_statements`](Session::record_statements), in order; empty if
    /// it was not called.
    pub fn recorded_statements(&mut self) -> Vec<String> {
        let Some(log) = self.recording.take() else { return Vec::new() };
        let taken = log.lock().ok().and_then(|mut statements| statements.take());
        taken.unwrap_or_default()
    }

    /// Starts a query of model `T`.
    pub fn query<T: Model>(&mut self) -> Query<'_, T> {
        Query::new(self)
    }

    /// Whether any object is new, changed or marked for deletion.
    pub fn has_changes(&self) -> bool {
        !self.links.is_empty() || self.models.iter().any(|m| m.has_changes())
    }

    /// Writes every pending change to the database inside the session's
    /// transaction, without committing.
    ///
    /// # Errors
    /// The first failing statement's error, naming the model. The transaction
    /// is then rolled back and every change is pending again, so the caller
    /// can fix the cause and flush again, or [`rollback`](Session::rollback).
    pub async fn flush(&mut self) -> Result<()> {
        self.write_changes(false).await.map(drop)
    }

    /// Flushes; with `commit`, sends `COMMIT` with the flush's statement
    /// when the flush is a single INSERT (one round trip fewer). Returns
    /// whether it did: the transaction is then committed.
    async fn write_changes(&mut self, commit: bool) -> Result<bool> {
        self.recover_from_dropped_flush().await?;
        for model in &mut self.models {
            model.forget_unchanged();
        }
        if !self.has_changes() {
            self.links.changed.clear();
            return Ok(false);
        }
        self.begin().await?;
        let no_savepoints = self.savepoints.is_empty();
        let dialect = self.connector.dialect();
        let conn = self.conn.as_deref_mut().expect("begin opened a connection");
        let mut models = Models { arenas: &mut self.models };
        // Not inside a savepoint: a failure there must roll back to it only,
        // and a failed statement followed by COMMIT ends the transaction.
        let one_insert = unit_of_work::is_one_insert(&models, &self.links).filter(|_| commit && no_savepoints);
        let with_commit = one_insert.is_some() && conn.defer_commit();
        self.flushing = true;
        self.committing = with_commit;
        self.inserted_with_commit = one_insert.filter(|_| with_commit).map(|m| (m, models.arenas[m].slot_count()));
        let texts = self.connector.statement_texts();
        let result = unit_of_work::flush(&mut models, &mut self.links, conn, dialect, texts).await;
        self.committing = false;
        self.flushing = false;
        // A COMMIT still waiting did not go out: no statement was sent after
        // `defer_commit`, or it failed before it was.
        let committed = with_commit && !self.conn.as_deref_mut().is_some_and(|c| c.cancel_deferred_commit());
        let inserted = self.inserted_with_commit.take();
        match result {
            Ok(()) => {
                self.links.flushed();
                if committed {
                    self.in_transaction = false;
                }
                Ok(committed)
            }
            Err(e) if !committed => {
                self.fail().await;
                Err(e)
            }
            // The database refused the statement or the COMMIT: the
            // transaction is over, rolled back, savepoints and all.
            Err(e) if e.db_error().is_some() => {
                self.abort().await;
                Err(e)
            }
            // Not an answer of the database to the statement or the COMMIT
            // (a lost connection, a result that could not be read): the
            // COMMIT may have taken effect.
            Err(e) => {
                let reason = format!("the statement sent with COMMIT failed ({e})");
                Err(self.commit_outcome_unknown(reason, inserted))
            }
        }
    }

    /// Flushes and commits the transaction; all or nothing.
    ///
    /// # Errors
    /// As [`flush`](Session::flush); a COMMIT the database refuses is handled
    /// the same way. [`Error::CommitOutcomeUnknown`] when the connection is
    /// lost after COMMIT was sent (or this future is dropped then, reported
    /// by the session's next call): the transaction may have been committed.
    pub async fn commit(&mut self) -> Result<()> {
        let committed = self.write_changes(true).await?;
        if self.in_transaction && !committed {
            let commit = self.connector.dialect().render(Statement::Transaction(Transaction::Commit));
            let conn = self.conn.as_deref_mut().expect("a transaction holds a connection");
            self.committing = true;
            let result = conn.batch_execute(&commit.text).await;
            self.committing = false;
            match result {
                Ok(()) => self.in_transaction = false,
                Err(e) if e.db_error().is_some() => {
                    // The database answered: it rolled the transaction back.
                    self.abort().await;
                    return Err(e);
                }
                // Not the database's answer (a lost connection, a message
                // that could not be read), as for a COMMIT sent with a flush.
                Err(e) => {
                    let reason = format!("COMMIT was sent and its answer not read ({e})");
                    return Err(self.commit_outcome_unknown(reason, None));
                }
            }
        }
        self.committed();
        Ok(())
    }

    /// After a commit: the flushed changes are the database's now.
    fn committed(&mut self) {
        self.savepoints.clear();
        self.conn = None;
        for model in &mut self.models {
            model.forget_flushes();
        }
        self.links.forget_flushed();
        if self.expire_on_commit {
            self.expire_all();
        }
    }

    /// A COMMIT whose answer never came. Neither a commit nor a rollback can
    /// be claimed: the connection is closed, and the objects keep the values
    /// the transaction wrote, expired, so that the next query that reads
    /// their rows shows what the database really holds.
    ///
    /// `inserted`: the new objects whose INSERT carried the COMMIT (see
    /// `inserted_with_commit`); they may or may not be rows now, and their
    /// keys were not read back, so they leave the session.
    fn commit_outcome_unknown(&mut self, reason: String, inserted: Option<(usize, u32)>) -> Error {
        if let Some((model, below)) = inserted {
            self.models[model].discard_new(below);
        }
        // The flush that carried the COMMIT, if its future was dropped, is
        // not undone: the COMMIT may have taken effect.
        self.flushing = false;
        self.in_transaction = false;
        if let Some(conn) = self.conn.take() {
            conn.close();
        }
        self.committed();
        self.expire_all();
        Error::CommitOutcomeUnknown { reason }
    }

    /// Reports what a dropped future left unsettled: a commit whose COMMIT
    /// may have gone out ([`check_dropped_commit`](Session::check_dropped_commit)),
    /// or a statement of the open transaction whose answer never came. That
    /// statement may have run, failed (and aborted the transaction, which
    /// PostgreSQL would then answer COMMIT with ROLLBACK), or still be
    /// running: the transaction is rolled back and undone in memory, as
    /// after a failed flush, and the call reports it.
    fn check_interrupted(&mut self) -> Result<()> {
        self.check_dropped_commit()?;
        if self.awaiting_statement {
            self.abandon_transaction();
            return Err(Error::TransactionInterrupted);
        }
        Ok(())
    }

    /// Reports a commit whose future was dropped while COMMIT was on its way.
    fn check_dropped_commit(&mut self) -> Result<()> {
        if std::mem::take(&mut self.committing) {
            let inserted = self.inserted_with_commit.take();
            if self.conn.as_deref_mut().is_some_and(|c| c.cancel_deferred_commit()) {
                // A flush carrying COMMIT was dropped before COMMIT went
                // out: still `flushing`, undone as any dropped flush.
                return Ok(());
            }
            let reason = "the commit was cancelled after COMMIT was sent".to_owned();
            return Err(self.commit_outcome_unknown(reason, inserted));
        }
        Ok(())
    }

    /// Expires an object (SQLAlchemy's `Session.expire`): its pending
    /// changes are dropped (its fields get back the values last read), the
    /// next query that reads its row replaces its values, and `get` of its
    /// key goes to the database. Reading it before then gives the values
    /// last read: reads through a session are not awaited, so nothing can
    /// be loaded on access. [`refresh`](Session::refresh)
    /// reloads it at once.
    ///
    /// # Errors
    /// [`Error::ForeignHandle`] or [`Error::StaleHandle`].
    pub fn expire<T: Model>(&mut self, handle: Handle<T>) -> Result<()> {
        if self.object(handle).is_none() {
            return Err(self.handle_error(handle));
        }
        self.arena_mut::<T>().expire(handle.index);
        Ok(())
    }

    /// Expires every object the session holds, as [`expire`](Session::expire).
    pub fn expire_all(&mut self) {
        for model in &mut self.models {
            model.expire_all();
        }
    }

    /// Expires every object after each commit, so that the next reads see
    /// what other transactions wrote. Off by default, unlike SQLAlchemy's
    /// `expire_on_commit`: an expired object cannot load itself when read
    /// (reads are not awaited), so after a commit the values you just wrote
    /// stay readable, as SQLAlchemy advises for its asyncio sessions.
    pub fn set_expire_on_commit(&mut self, on: bool) {
        self.expire_on_commit = on;
    }

    /// Copies a detached object into the session (SQLAlchemy's `merge`):
    /// the object with its key, from the identity map or loaded with one
    /// SELECT, gets its column values (an UPDATE of what changed at the next
    /// flush); when no row has its key, it is added as new. Returns the
    /// handle of the object in the session; `object` itself is not kept.
    ///
    /// # Errors
    /// A database error; [`Error::Decode`] as for `get`.
    pub async fn merge<T: Model>(&mut self, object: T) -> Result<Handle<T>> {
        let Some(handle) = self.get::<T>(object.key()).await? else { return Ok(self.add(object)) };
        if let Some(v) = T::TABLE.version_column() {
            // A detached object older than the row would overwrite newer data.
            if object.column_value(v) != self[handle].column_value(v) {
                let key = unit_of_work::key_text(&T::key_values(&object.key()));
                return Err(Error::StaleData {
                    model: T::TABLE.model,
                    action: "merge",
                    expected: 1,
                    matched: 0,
                    keys: vec![key],
                });
            }
        }
        let target = self.arena_mut::<T>().object_mut(handle.index).ok_or_else(|| stale_handle(T::TABLE.model))?;
        copy_columns(&object, target)?;
        Ok(handle)
    }

    /// Rolls the transaction back and discards every uncommitted change:
    /// new objects leave the session, changed objects get their loaded values
    /// back, deletions are cancelled.
    ///
    /// # Errors
    /// [`Error::Decode`] if a loaded value no longer fits its field (it did
    /// when it was loaded, so this points at a bug in a custom `SqlValue`).
    pub async fn rollback(&mut self) -> Result<()> {
        self.check_dropped_commit()?;
        self.abort().await;
        self.links = relations::PendingLinks::default();
        for model in &mut self.models {
            model.discard_changes(self.id)?;
        }
        Ok(())
    }

    /// Returns the session's connection, checking one out first if needed.
    async fn connection(&mut self) -> Result<&mut dyn Connection> {
        self.check_interrupted()?;
        if self.conn.is_none() {
            let conn = self.connector.connect().await?;
            self.conn = Some(match &self.recording {
                Some(log) => recording::Recording::wrap(conn, log.clone()),
                None => conn,
            });
        }
        Ok(self.conn.as_deref_mut().expect("just checked out"))
    }

    /// Opens the transaction if none is open.
    pub(crate) async fn begin(&mut self) -> Result<()> {
        if !self.in_transaction {
            self.connection().await?;
            // Marked first: if this future is dropped after BEGIN went out,
            // the connection must still be rolled back, not handed back.
            self.in_transaction = true;
            let conn = self.conn.as_deref_mut().expect("just checked out");
            // Sent with the transaction's first statement where the driver
            // can: one round trip fewer.
            if conn.defer_begin() {
                return Ok(());
            }
            let begin = self.connector.dialect().render(Statement::Transaction(Transaction::Begin));
            if let Err(e) = conn.batch_execute(&begin.text).await {
                self.abort().await;
                return Err(e);
            }
        }
        Ok(())
    }

    /// A flush whose future was dropped half way left the transaction with
    /// part of its statements: roll it back, and undo them in memory, so the
    /// changes are pending again. A dropped commit is settled first
    /// ([`check_dropped_commit`](Session::check_dropped_commit)): whether its
    /// COMMIT went out decides between this and an unknown outcome, and
    /// only the connection can tell, which the rollback gives up.
    async fn recover_from_dropped_flush(&mut self) -> Result<()> {
        self.check_interrupted()?;
        if std::mem::take(&mut self.flushing) {
            self.abort().await;
        }
        Ok(())
    }

    /// Rolls the open transaction back and undoes its flushes in memory.
    pub(crate) async fn abort(&mut self) {
        if self.awaiting_statement {
            return self.abandon_transaction();
        }
        self.undo_transaction();
        let in_transaction = std::mem::take(&mut self.in_transaction);
        if let Some(mut conn) = self.conn.take() {
            let rollback = self.connector.dialect().render(Statement::Transaction(Transaction::Rollback));
            if in_transaction && conn.batch_execute(&rollback.text).await.is_err() {
                conn.abandon();
            }
        }
    }

    /// Rolls the open transaction back without waiting for the answer, and
    /// undoes its flushes in memory: after a statement whose future was
    /// dropped, which may still be running (a ROLLBACK would wait for it).
    fn abandon_transaction(&mut self) {
        self.awaiting_statement = false;
        self.undo_transaction();
        self.in_transaction = false;
        if let Some(conn) = self.conn.take() {
            conn.abandon();
        }
    }

    /// Undoes the open transaction's flushes in memory: what they wrote is
    /// pending again, and the savepoints are gone.
    fn undo_transaction(&mut self) {
        for model in &mut self.models {
            model.undo_flushes(0);
        }
        self.links.undo_flushed_since(Default::default());
        self.savepoints.clear();
    }

    /// Renders a statement in the engine's dialect.
    pub(crate) fn render(&self, statement: Statement) -> Sql {
        self.connector.dialect().render(statement)
    }

    /// The statement texts the engine keeps.
    pub(crate) fn statement_texts(&self) -> &StatementTexts {
        self.connector.statement_texts()
    }

    /// Runs a query in the session's transaction, after an autoflush.
    pub(crate) async fn fetch_statement(&mut self, statement: Statement) -> Result<Rows> {
        self.autoflush().await?;
        self.query_statement(statement).await
    }

    /// Runs a statement that writes (and may return rows) in the session's
    /// transaction, which it opens if needed, after an autoflush.
    pub(crate) async fn write_statement(&mut self, statement: Statement) -> Result<Rows> {
        self.prepare_write().await?;
        self.query_statement(statement).await
    }

    /// Before a statement that writes outside the unit of work: the
    /// autoflush, the recovery from a dropped flush, and the transaction.
    pub(crate) async fn prepare_write(&mut self) -> Result<()> {
        self.autoflush().await?;
        self.recover_from_dropped_flush().await?;
        self.begin().await
    }

    /// Runs a query returning one value, after an autoflush.
    pub(crate) async fn scalar<V: SqlValue>(&mut self, statement: Statement) -> Result<V> {
        let rows = self.fetch_statement(statement).await?;
        let value = rows.values.into_iter().next().unwrap_or_default();
        V::from_value(value).map_err(|v| Error::DecodeColumn {
            position: 1,
            sql_type: v.sent(),
            rust_type: std::any::type_name::<V>(),
        })
    }

    /// Runs a statement on the session's connection (in its transaction, if
    /// one is open).
    async fn query_statement(&mut self, statement: Statement) -> Result<Rows> {
        let sql = self.render(statement);
        self.run_sql(&sql.text, &sql.params).await
    }

    /// Runs rendered SQL (its text and parameters) on the session's
    /// connection; a failure rolls the transaction back.
    pub(crate) async fn run_sql(&mut self, text: &str, params: &[Value]) -> Result<Rows> {
        self.recover_from_dropped_flush().await?;
        self.connection().await?;
        self.awaiting_statement = self.in_transaction;
        let result = self.conn.as_deref_mut().expect("just checked out").query(text, params).await;
        self.awaiting_statement = false;
        self.settle(result).await
    }

    /// Runs a query of every column of `T` (after an autoflush) and merges
    /// each row into the identity map as it arrives; rows already there keep
    /// their object, pending changes included. Returns their slots, in row
    /// order; they form one group of siblings.
    pub(crate) async fn fetch_objects<T: Model>(&mut self, statement: Statement) -> Result<Vec<u32>> {
        let sql = &self.render(statement);
        self.fetch_objects_sql::<T>(&sql.text, &sql.params).await
    }

    /// Runs rendered SQL after an autoflush and hands each row's values to
    /// `each` as they arrive, with no buffer of the whole result.
    pub(crate) async fn stream_sql(&mut self, sql: &Sql, each: &mut RowFn<'_>) -> Result<()> {
        self.stream_into_arenas(sql, |_, row| each(row)).await
    }

    /// As [`stream_sql`](Session::stream_sql), handing `each` the arenas
    /// too, so that it can merge objects while the connection is busy.
    pub(crate) async fn stream_into_arenas(
        &mut self,
        sql: &Sql,
        mut each: impl FnMut(&mut Models<'_>, &mut dyn RawRow) -> Result<()> + Send,
    ) -> Result<()> {
        self.ready_to_read().await?;
        self.awaiting_statement = self.in_transaction;
        let conn = self.conn.as_deref_mut().expect("just checked out");
        let mut models = Models { arenas: &mut self.models };
        let mut row = |row: &mut dyn RawRow| each(&mut models, row);
        let result = conn.query_each(&sql.text, &sql.params, &mut row).await;
        self.awaiting_statement = false;
        self.settle(result).await
    }

    /// Before a query whose rows are read as they arrive: the autoflush,
    /// the recovery from a dropped flush, and the connection.
    async fn ready_to_read(&mut self) -> Result<()> {
        // Mostly there is nothing to flush and no dropped flush or commit
        // to settle: checked here, the futures below (about 200
        // instructions a query) are skipped.
        if !(self.interrupted() || (self.autoflush && self.has_changes())) {
            if self.conn.is_none() {
                self.connection().await?;
            }
            return Ok(());
        }
        self.autoflush().await?;
        self.recover_from_dropped_flush().await?;
        self.connection().await?;
        Ok(())
    }

    /// Passes on the result of a statement run outside the unit of work,
    /// after rolling the transaction back if its error aborted it.
    pub(crate) async fn settle<T>(&mut self, result: Result<T>) -> Result<T> {
        if result.as_ref().is_err_and(aborts_transaction) {
            self.fail().await;
        }
        result
    }

    /// As [`fetch_objects`](Session::fetch_objects), for rendered SQL (its
    /// text and parameters, borrowed: a cached text is not copied).
    pub(crate) async fn fetch_objects_sql<T: Model>(&mut self, text: &str, params: &[Value]) -> Result<Vec<u32>> {
        let mut fetched = Slots(Vec::new());
        self.fetch_objects_into::<T, ()>(text, params, 0, |_, _| (), &mut fetched).await?;
        Ok(fetched.0)
    }

    /// As [`fetch_objects_sql`](Session::fetch_objects_sql), for rows that
    /// hold `extra` more columns after `T`'s: `after` reads them, or looks at
    /// the object, and its answer comes back with the object's slot.
    pub(crate) async fn fetch_objects_and<T: Model, X: Send>(
        &mut self,
        text: &str,
        params: &[Value],
        extra: usize,
        after: impl FnMut(&T, &mut RowReader<'_>) -> X + Send,
    ) -> Result<Vec<(u32, X)>> {
        let mut fetched = Vec::new();
        self.fetch_objects_into::<T, X>(text, params, extra, after, &mut fetched).await?;
        Ok(fetched)
    }

    /// As [`fetch_objects_and`](Session::fetch_objects_and), handing each
    /// object's slot and `after`'s answer to `fetched`, in row order.
    async fn fetch_objects_into<T: Model, X: Send>(
        &mut self,
        text: &str,
        params: &[Value],
        extra: usize,
        mut after: impl FnMut(&T, &mut RowReader<'_>) -> X + Send,
        fetched: &mut (impl Fetched<X> + Send),
    ) -> Result<()> {
        self.ready_to_read().await?;
        self.awaiting_statement = self.in_transaction;
        let position = self.arena_position::<T>();
        let arena: &mut Arena<T> = self.models[position].as_any_mut().downcast_mut().expect("arena matches its TypeId");
        let conn = self.conn.as_deref_mut().expect("just checked out");
        let group = arena.new_group();
        let mut run = KeyRun::default();
        let mut first = true;
        let width = T::TABLE.columns.len() + extra;
        // Merges into the arena it holds, not through `stream_into_arenas`:
        // finding the arena per row there cost 1.7 % of a large load.
        let mut merge = |row: &mut dyn RawRow| -> Result<()> {
            if std::mem::take(&mut first) {
                // A result's rows are all as wide as its first.
                if row.width() != width {
                    return Err(width_error::<T>(row.width().saturating_sub(extra)));
                }
                // The rows the statement returned last time: room for them
                // now, instead of growing as they come.
                let hint = row.rows_hint();
                arena.reserve(hint);
                fetched.reserve(hint);
            }
            let mut reader = RowReader::new(T::TABLE, row);
            let object = T::from_row(&mut reader)?;
            let answer = after(&object, &mut reader);
            fetched.push(arena.add_loaded(object, group, &mut run), answer);
            Ok(())
        };
        let result = conn.query_each(text, params, &mut merge).await;
        self.awaiting_statement = false;
        if result.is_err() {
            self.settle(result).await?;
        }
        Ok(())
    }

    /// Copies the assigned columns of a bulk UPDATE's returned rows into the
    /// loaded objects.
    pub(crate) fn assign_rows<T: Model>(&mut self, rows: Rows, columns: &[usize]) -> Result<()> {
        self.arena_mut::<T>().assign_rows(rows, columns)
    }

    /// Merges rows of every column of `T` written by a statement (an
    /// upsert's RETURNING): a held object gets `columns` from its row, a new
    /// one joins the identity map. Returns their slots in row order.
    pub(crate) fn merge_written<T: Model>(&mut self, rows: Rows, columns: &[usize]) -> Result<Vec<u32>> {
        self.arena_mut::<T>().merge_written(rows, columns)
    }

    /// Detaches the loaded objects of a bulk DELETE's returned rows (of
    /// `T`'s columns), of `T` and of any other model of its table.
    pub(crate) fn detach_rows<T: Model>(&mut self, rows: &Rows) -> Result<()> {
        self.arenas().detach_rows(T::TABLE, rows)
    }

    pub(crate) fn new_group<T: Model>(&mut self) -> u32 {
        self.arena_mut::<T>().new_group()
    }

    pub(crate) fn merge_object<T: Model>(&mut self, object: T, group: u32) -> u32 {
        self.arena_mut::<T>().merge_loaded(object, group)
    }

    /// The siblings of `index` whose relationship `relation` is not loaded.
    pub(crate) fn siblings_without<T: Model>(&self, index: u32, relation: usize) -> Vec<u32> {
        match self.arena::<T>() {
            Some(arena) => arena.siblings(index, |o| o.links(relation).is_some_and(|l| !l.is_loaded())),
            None => vec![index],
        }
    }

    /// Sets the loaded links of a relationship to `slots[run]`, which the
    /// other collections of the same load share.
    pub(crate) fn set_links<T: Model>(
        &mut self,
        index: u32,
        relation: usize,
        slots: &crate::relation::SharedSlots,
        run: std::ops::Range<usize>,
    ) {
        if self.keeps_changed_links::<T>(index, relation) {
            return;
        }
        let session = self.id;
        if let Some(links) = self.arena_mut::<T>().object_links_mut(index, relation, session) {
            links.set_run(slots, run);
        }
    }
}

/// Where [`Session::fetch_objects_into`] puts the slot of each object it
/// loads, with the answer of its `after`.
trait Fetched<X> {
    /// Makes room for `rows` more.
    fn reserve(&mut self, rows: usize);

    fn push(&mut self, slot: u32, answer: X);
}

impl<X> Fetched<X> for Vec<(u32, X)> {
    fn reserve(&mut self, rows: usize) {
        Vec::reserve(self, rows);
    }

    fn push(&mut self, slot: u32, answer: X) {
        Vec::push(self, (slot, answer));
    }
}

/// The slots alone.
struct Slots(Vec<u32>);

impl Fetched<()> for Slots {
    fn reserve(&mut self, rows: usize) {
        self.0.reserve(rows);
    }

    fn push(&mut self, slot: u32, (): ()) {
        self.0.push(slot);
    }
}

/// Nothing: the rows are merged into the identity map, where they are
/// looked up afterwards.
struct Merged;

impl Fetched<()> for Merged {
    fn reserve(&mut self, _: usize) {}

    fn push(&mut self, _: u32, (): ()) {}
}

/// The first slot alone, of a statement that returns at most one row.
struct First(Option<u32>);

impl Fetched<()> for First {
    fn reserve(&mut self, _: usize) {}

    fn push(&mut self, slot: u32, (): ()) {
        self.0.get_or_insert(slot);
    }
}

/// The SELECT of the rows of `table` with these keys (each the values of
/// the key columns).
fn select_by_keys(table: &'static TableMeta, keys: Vec<Vec<Value>>) -> statement::Select {
    use statement::Expr;
    let key_columns: Vec<&crate::ColumnMeta> = table.primary_key().map(|(_, c)| c).collect();
    let mut arrays: Vec<Vec<Value>> = vec![Vec::with_capacity(keys.len()); key_columns.len()];
    for key in keys {
        for (array, value) in arrays.iter_mut().zip(key) {
            array.push(value);
        }
    }
    let mut select = statement::select_table(table);
    if let ([column], [values]) = (key_columns.as_slice(), arrays.as_mut_slice()) {
        let array = Value::Array(column.sql_type, std::mem::take(values));
        select.filter = Some(Expr::column(table.name, column.name).in_array(array));
        return select;
    }
    let typed: Vec<(&'static str, crate::value::SqlType)> = key_columns.iter().map(|c| (c.name, c.sql_type)).collect();
    let arrays = arrays.into_iter().zip(&typed).map(|(values, (_, ty))| Value::Array(*ty, values)).collect();
    if let Some(source) = statement::rows_of_arrays(&typed, arrays).from {
        let on = Expr::all(statement::same_key(table, statement::ROWS)).unwrap_or(Expr::And(Vec::new()));
        select.joins.push(statement::JoinClause { kind: statement::JoinKind::Inner, source, on });
    }
    select
}

/// Copies the columns the application sets from `source` onto `target`:
/// not the key, the version (the session's to count) or the columns the
/// database fills (a `new` object holds placeholders there).
pub(crate) fn copy_columns<T: Model>(source: &T, target: &mut T) -> Result<()> {
    for (column, value) in source.column_values().into_iter().enumerate() {
        let meta = &T::TABLE.columns[column];
        // An unset `Defaulted` is not copied: the target keeps its value.
        let unset = value == Value::Null && TableMeta::takes_default_for_null(meta);
        if !meta.primary_key && !meta.version && !TableMeta::is_server_filled(meta) && !unset {
            target.set_column_value(column, value)?;
        }
    }
    Ok(())
}

/// Adds a new object to `arena`, of session `session`.
fn add_new<T: Model>(arena: &mut Arena<T>, mut object: T, session: u64) -> Handle<T> {
    // Whatever it was linked to in another session is not here.
    reset_links(&mut object, Links::empty(), session);
    Handle::new(arena.add(object), session)
}

/// Sets every relationship of `object` to `links`, as seen from `session`.
pub(crate) fn reset_links<T: Model>(object: &mut T, links: Links, session: u64) {
    for relation in 0..T::TABLE.relations.len() {
        if let Some(field) = object.links_mut(relation, session) {
            *field = links.clone();
        }
    }
}

/// Whether an error leaves the database's transaction aborted, so that the
/// session must roll it back: not a value that did not fit on our side, a
/// parameter refused before it was sent, or a result of the wrong width.
fn aborts_transaction(error: &Error) -> bool {
    !matches!(
        error,
        Error::Decode { .. } | Error::DecodeColumn { .. } | Error::ParameterType { .. } | Error::ResultShape { .. }
    )
}

/// Checks that rows hold every column of `T` and nothing else.
fn check_width<T: Model>(rows: &Rows) -> Result<()> {
    if !rows.is_empty() && rows.width != T::TABLE.columns.len() {
        return Err(width_error::<T>(rows.width));
    }
    Ok(())
}

fn width_error<T: Model>(width: usize) -> Error {
    Error::ResultShape {
        what: format!("the columns of a `{}` row", T::TABLE.model),
        expected: T::TABLE.columns.len(),
        returned: width,
    }
}

/// Decodes rows holding every column of `T`, in column order.
fn decode_rows<T: Model>(rows: Rows) -> Result<Vec<T>> {
    check_width::<T>(&rows)?;
    rows.iter().map(|values| T::from_row(&mut RowReader::new(T::TABLE, &mut ValueRow::new(values)))).collect()
}

/// A session with autoflush off, from [`Session::no_autoflush`]; use it as
/// the session. Dropping it turns autoflush back to what it was.
#[derive(Debug)]
pub struct NoAutoflush<'s> {
    session: &'s mut Session,
    was: bool,
}

impl std::ops::Deref for NoAutoflush<'_> {
    type Target = Session;

    fn deref(&self) -> &Session {
        self.session
    }
}

impl std::ops::DerefMut for NoAutoflush<'_> {
    fn deref_mut(&mut self) -> &mut Session {
        self.session
    }
}

impl Drop for NoAutoflush<'_> {
    fn drop(&mut self) {
        self.session.autoflush = self.was;
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            if self.in_transaction {
                conn.abandon();
            }
        }
    }
}

/// Reads an object.
///
/// # Panics
/// If the handle belongs to another session or its object was expunged; use
/// [`Session::object`] to get an `Option` instead.
impl<T: Model> Index<Handle<T>> for Session {
    type Output = T;

    fn index(&self, handle: Handle<T>) -> &T {
        match self.object(handle) {
            Some(object) => object,
            None => panic!("{}", self.handle_error(handle)),
        }
    }
}

/// Writes an object; the next flush sends the changed columns.
///
/// # Panics
/// As for `Index`; use [`Session::object_mut`] to get an `Option` instead.
impl<T: Model> IndexMut<Handle<T>> for Session {
    fn index_mut(&mut self, handle: Handle<T>) -> &mut T {
        // Built first (no allocation): the borrow of `object_mut` lasts
        // through the match.
        let error = self.handle_error(handle);
        match self.object_mut(handle) {
            Some(object) => object,
            None => panic!("{error}"),
        }
    }
}
