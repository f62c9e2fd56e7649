//! Records loaded for their owner.

use std::ops::Deref;

use crate::store::Record;

/// A record loaded by the runtime on behalf of the caller, with the owner
/// condition inside the query: a record owned by someone else is
/// indistinguishable from one that does not exist.
///
/// A handler that takes `Owned<Note>` receives an `id` argument (the schema
/// is generated) and never sees the record unless the caller owns it.
#[derive(Debug, Clone)]
pub struct Owned<R: Record> {
    id: R::Id,
    record: R,
}

impl<R: Record> Owned<R> {
    /// A record the runtime loaded for its owner.
    pub(crate) fn new(id: R::Id, record: R) -> Self {
        Self { id, record }
    }

    /// The id the caller asked for.
    pub fn id(&self) -> &R::Id {
        &self.id
    }

    /// The loaded record.
    pub fn into_inner(self) -> R {
        self.record
    }
}

impl<R: Record> Deref for Owned<R> {
    type Target = R;

    fn deref(&self) -> &R {
        &self.record
    }
}
