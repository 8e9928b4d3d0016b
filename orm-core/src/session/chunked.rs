//! The storage of an arena's slots: a list of fixed-size chunks that never
//! move. A doubling `Vec` copies every object at each growth and, after a
//! large load, leaves up to half its room unused (131,072 slots for 100,000
//! users: 4.2 MB of the session's 22.4 MB); chunks leave at most one chunk
//! unused and copy nothing as they grow.

use std::ops::{Index, IndexMut};

/// About this many bytes per chunk: little next to a large load, and below
/// glibc's default threshold for giving an allocation its own mapping, so
/// that a new chunk costs no system call.
const CHUNK_BYTES: usize = 120 * 1024;

/// The room of the first chunk, which grows from there.
const FIRST: usize = 4;

/// A growable list of `E` indexed from 0, stored in chunks of `2^SHIFT`
/// elements. Elements are only ever added at the end.
#[derive(Debug)]
pub(crate) struct Chunked<E> {
    /// The first chunk, apart from the others so that a list of one chunk
    /// (most sessions' lists) takes one allocation, not two.
    first: Vec<E>,
    /// The chunks after the first; every chunk but the last is full.
    rest: Vec<Vec<E>>,
    len: usize,
}

impl<E> Default for Chunked<E> {
    fn default() -> Self {
        Chunked { first: Vec::new(), rest: Vec::new(), len: 0 }
    }
}

impl<E> Chunked<E> {
    /// log2 of the elements per chunk: the largest power of two that fits
    /// in `CHUNK_BYTES` (at least one element).
    const SHIFT: u32 = {
        // A `Vec` of zero-sized elements never fills, so `push` would keep
        // them all in one chunk.
        assert!(std::mem::size_of::<E>() > 0, "`Chunked` does not hold zero-sized elements");
        let per_chunk = CHUNK_BYTES / std::mem::size_of::<E>();
        if per_chunk <= 1 {
            0
        } else {
            per_chunk.ilog2()
        }
    };
    const PER_CHUNK: usize = 1 << Self::SHIFT;

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Adds `element` at index `len()`.
    #[inline]
    pub(crate) fn push(&mut self, element: E) {
        let last = self.rest.last_mut().unwrap_or(&mut self.first);
        if last.len() < last.capacity() {
            last.push(element);
        } else {
            self.push_to_new_room(element);
        }
        self.len += 1;
    }

    /// Pushes `element` when the last chunk is full: into the first chunk
    /// grown, or into a new chunk.
    #[cold]
    fn push_to_new_room(&mut self, element: E) {
        if self.rest.is_empty() && self.first.len() < Self::PER_CHUNK {
            // Only the first chunk starts small, so that a session holding
            // a few objects does not pay for a whole chunk; it doubles up
            // to a chunk's size and no further.
            self.grow_first(1);
            self.first.push(element);
        } else {
            let mut chunk = Vec::with_capacity(Self::PER_CHUNK);
            chunk.push(element);
            self.rest.push(chunk);
        }
    }

    /// Grows the first chunk to hold `additional` more elements, at least
    /// doubled (so that room made for a row or two at a time does not copy
    /// it each time), at least `FIRST` and at most a chunk.
    fn grow_first(&mut self, additional: usize) {
        let first = &mut self.first;
        let wanted = (first.len() + additional).min(Self::PER_CHUNK);
        if wanted > first.capacity() {
            let grown = wanted.max(2 * first.capacity()).max(FIRST).min(Self::PER_CHUNK);
            first.reserve_exact(grown - first.len());
        }
    }

    /// Makes room for `additional` more elements in the first chunk, while
    /// it is the only one and smaller than a chunk: adding many elements
    /// then grows it once instead of doubling it again and again.
    pub(crate) fn reserve(&mut self, additional: usize) {
        if self.rest.is_empty() {
            self.grow_first(additional);
        }
    }

    /// The chunk holding `index`, and the place in it.
    #[inline]
    fn place(index: usize) -> (usize, usize) {
        (index >> Self::SHIFT, index & (Self::PER_CHUNK - 1))
    }

    #[inline]
    pub(crate) fn get(&self, index: usize) -> Option<&E> {
        match Self::place(index) {
            (0, at) => self.first.get(at),
            (chunk, at) => self.rest.get(chunk - 1)?.get(at),
        }
    }

    #[inline]
    pub(crate) fn get_mut(&mut self, index: usize) -> Option<&mut E> {
        match Self::place(index) {
            (0, at) => self.first.get_mut(at),
            (chunk, at) => self.rest.get_mut(chunk - 1)?.get_mut(at),
        }
    }

    pub(crate) fn iter_mut(&mut self) -> impl Iterator<Item = &mut E> {
        self.first.iter_mut().chain(self.rest.iter_mut().flatten())
    }
}

impl<E> Index<usize> for Chunked<E> {
    type Output = E;

    /// # Panics
    /// If `index` is not below `len()`, as a `Vec` does.
    #[inline]
    fn index(&self, index: usize) -> &E {
        match Self::place(index) {
            (0, at) => &self.first[at],
            (chunk, at) => &self.rest[chunk - 1][at],
        }
    }
}

impl<E> IndexMut<usize> for Chunked<E> {
    #[inline]
    fn index_mut(&mut self, index: usize) -> &mut E {
        match Self::place(index) {
            (0, at) => &mut self.first[at],
            (chunk, at) => &mut self.rest[chunk - 1][at],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Room allocated for elements, used or not.
    fn capacity<E>(list: &Chunked<E>) -> usize {
        list.first.capacity() + list.rest.iter().map(Vec::capacity).sum::<usize>()
    }

    #[test]
    fn indexes_across_chunks() {
        let mut list = Chunked::default();
        let count = 3 * Chunked::<u64>::PER_CHUNK + 5;
        for i in 0..count {
            list.push(i as u64);
        }
        assert_eq!(list.len(), count);
        assert!((0..count).all(|i| list[i] == i as u64 && list.get(i) == Some(&(i as u64))));
        assert_eq!(list.get(count), None);
        list[count - 1] = 0;
        assert_eq!(list.iter_mut().filter(|e| **e == 0).count(), 2);
    }

    #[test]
    fn leaves_at_most_one_chunk_unused() {
        let mut list = Chunked::default();
        for i in 0..100_000u64 {
            list.push(i);
            let unused = capacity(&list) - list.len();
            assert!(unused < Chunked::<u64>::PER_CHUNK, "{unused} unused after {} elements", list.len());
        }
    }

    #[test]
    fn a_small_list_takes_little_room() {
        let mut list = Chunked::default();
        for i in 0..3u64 {
            list.push(i);
        }
        assert_eq!(capacity(&list), 4);
    }

    #[test]
    fn room_made_for_many_grows_the_first_chunk_once() {
        let mut list = Chunked::default();
        list.reserve(1_000);
        let room = capacity(&list);
        for i in 0..1_000u64 {
            list.push(i);
        }
        assert_eq!((room, capacity(&list)), (1_000, 1_000));
        list.reserve(100 * Chunked::<u64>::PER_CHUNK);
        assert_eq!(capacity(&list), Chunked::<u64>::PER_CHUNK, "never beyond a chunk");
        assert!((0..1_000).all(|i| list[i] == i as u64));
    }

    #[test]
    fn room_made_a_little_at_a_time_still_doubles() {
        let mut list = Chunked::default();
        let mut grown = 0;
        for i in 0..1_000u64 {
            let room = capacity(&list);
            list.reserve(1);
            grown += usize::from(capacity(&list) != room);
            list.push(i);
        }
        assert!(grown <= 10, "grown {grown} times for 1,000 elements");
    }

    #[test]
    fn a_chunk_stays_within_its_bytes() {
        assert_eq!(Chunked::<[u8; 112]>::PER_CHUNK, 1024);
        assert_eq!(Chunked::<[u8; 200_000]>::PER_CHUNK, 1);
    }
}
