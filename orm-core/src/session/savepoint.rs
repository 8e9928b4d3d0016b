//! Savepoints: `begin_nested`, `release` and `rollback_to`, as SQLAlchemy's
//! `Session.begin_nested()`. Rolling back to a savepoint undoes, in the
//! database and in memory, everything since it.

use crate::error::{Error, Result};
use crate::session::relations::FlushedMark;
use crate::session::Session;
use crate::statement::{Statement, Transaction};

/// A savepoint opened by [`Session::begin_nested`]; end it with
/// [`Session::release`] or [`Session::rollback_to`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use = "a savepoint is ended with `release` or `rollback_to`"]
pub struct Savepoint {
    session: u64,
    id: u32,
}

/// What the session looked like when a savepoint was opened.
#[derive(Debug)]
pub(crate) struct SavepointMark {
    id: u32,
    /// The journal length of each model's arena (arenas made later had none).
    journals: Vec<usize>,
    /// What the transaction's flushes had written to relationships.
    links: FlushedMark,
}

impl Session {
    /// Flushes, then opens a savepoint (beginning the transaction if
    /// needed). Savepoints nest.
    ///
    /// ```no_run
    /// # async fn demo<M: orm_core::Model>(session: &mut orm_core::Session, risky: M) -> orm_core::Result<()> {
    /// let savepoint = session.begin_nested().await?;
    /// session.add(risky);
    /// match session.flush().await {
    ///     Ok(()) => session.release(savepoint).await?,
    ///     // Only the savepoint's work is undone; `rollback_to` drops `risky`.
    ///     Err(_) => session.rollback_to(savepoint).await?,
    /// }
    /// session.commit().await?; // what came before the savepoint
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// As [`Session::flush`]. A statement that fails while a savepoint is
    /// open rolls back to that savepoint only: the work before it stays,
    /// what was flushed after it is pending again, and the savepoint stays
    /// open for `release` (after fixing the cause) or `rollback_to`.
    pub async fn begin_nested(&mut self) -> Result<Savepoint> {
        self.flush().await?;
        self.begin().await?;
        self.next_savepoint += 1;
        let id = self.next_savepoint;
        self.run_statement(Transaction::Savepoint(id)).await?;
        self.savepoints.push(SavepointMark {
            id,
            journals: self.models.iter().map(|m| m.journal_len()).collect(),
            links: self.links.flushed_mark(),
        });
        Ok(Savepoint { session: self.id, id })
    }

    /// Flushes and releases `savepoint` (and any opened after it): its
    /// changes become part of the enclosing transaction.
    ///
    /// # Errors
    /// [`Error::SavepointClosed`] if the savepoint is not open; otherwise as
    /// [`Session::flush`].
    pub async fn release(&mut self, savepoint: Savepoint) -> Result<()> {
        let depth = self.savepoint_depth(savepoint)?;
        self.flush().await?;
        self.run_statement(Transaction::Release(savepoint.id)).await?;
        self.savepoints.truncate(depth);
        Ok(())
    }

    /// Rolls back to `savepoint` and ends it (and any opened after it).
    /// Everything since it is undone in memory too: objects added since leave
    /// the session, changed fields get their values at the savepoint back,
    /// deletions are cancelled, and relationships are expired.
    ///
    /// # Errors
    /// [`Error::SavepointClosed`] if the savepoint is not open; a database error.
    pub async fn rollback_to(&mut self, savepoint: Savepoint) -> Result<()> {
        // A commit or flush dropped half way ended the savepoints with it.
        self.recover_from_dropped_flush().await?;
        let depth = self.savepoint_depth(savepoint)?;
        let id = savepoint.id;
        self.run_statement(Transaction::RollbackToAndRelease(id)).await?;
        let mark = self.savepoints.drain(depth..).next().expect("savepoint_depth found it");
        for (i, model) in self.models.iter_mut().enumerate() {
            model.undo_flushes(mark.journals.get(i).copied().unwrap_or(0));
        }
        // Everything pending was flushed when the savepoint opened, so what
        // is pending now came after it.
        self.links.discard_since(mark.links);
        for model in &mut self.models {
            model.discard_changes(self.id)?;
        }
        Ok(())
    }

    /// After a statement failed in the open transaction: with a savepoint
    /// open, rolls back to the innermost one, in the database and in
    /// memory (what was flushed since it is pending again, the object that
    /// failed included), so that the work before it survives and the
    /// savepoint stays open; without one, or if that fails, rolls the whole
    /// transaction back.
    pub(crate) async fn fail(&mut self) {
        let Some(mark) = self.savepoints.last() else { return self.abort().await };
        let (id, journals, links) = (mark.id, mark.journals.clone(), mark.links);
        let sql = self.render(Statement::Transaction(Transaction::RollbackTo(id)));
        self.awaiting_statement = true;
        let rolled_back = match self.conn.as_deref_mut() {
            Some(conn) => conn.batch_execute(&sql.text).await.is_ok(),
            None => false,
        };
        self.awaiting_statement = false;
        if !rolled_back {
            return self.abort().await;
        }
        for (i, model) in self.models.iter_mut().enumerate() {
            model.undo_flushes(journals.get(i).copied().unwrap_or(0));
        }
        self.links.undo_flushed_since(links);
    }

    fn savepoint_depth(&self, savepoint: Savepoint) -> Result<usize> {
        let open = (savepoint.session == self.id).then(|| self.savepoints.iter().position(|m| m.id == savepoint.id));
        open.flatten().ok_or(Error::SavepointClosed)
    }

    /// Runs a statement in the open transaction; a failure rolls the whole
    /// transaction back, as any failed statement does.
    async fn run_statement(&mut self, control: Transaction) -> Result<()> {
        let sql = self.render(Statement::Transaction(control));
        let Some(conn) = self.conn.as_deref_mut() else { return Err(Error::SavepointClosed) };
        self.awaiting_statement = true;
        let result = conn.batch_execute(&sql.text).await;
        self.awaiting_statement = false;
        if result.is_err() {
            self.abort().await;
        }
        result
    }
}
