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
    /// Every chunk but the last is full.
    chunks: Vec<Vec<E>>,
    len: usize,
}

impl<E> Default for Chunked<E> {
    fn default() -> Self {
        Chunked { chunks: Vec::new(), len: 0 }
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
        match self.chunks.last_mut() {
            Some(last) if last.len() < last.capacity() => last.push(element),
            _ => self.push_to_new_room(element),
        }
        self.len += 1;
    }

    /// Pushes `element` when the last chunk is full: into a new chunk, or
    /// into the first chunk grown.
    #[cold]
    fn push_to_new_room(&mut self, element: E) {
        match self.chunks.last_mut() {
            Some(last) if last.len() < Self::PER_CHUNK => {
                // Only the first chunk starts small, so that a session
                // holding a few objects does not pay for a whole chunk; it
                // doubles up to a chunk's size and no further.
                last.reserve_exact(last.len().min(Self::PER_CHUNK - last.len()));
                last.push(element);
            }
            _ => {
                let capacity = if self.chunks.is_empty() { FIRST.min(Self::PER_CHUNK) } else { Self::PER_CHUNK };
                let mut chunk = Vec::with_capacity(capacity);
                chunk.push(element);
                self.chunks.push(chunk);
            }
        }
    }

    /// Makes room for `additional` more elements in the first chunk, while
    /// it is the only one and smaller than a chunk: adding many elements
    /// then grows it once instead of doubling it again and again.
    pub(crate) fn reserve(&mut self, additional: usize) {
        match self.chunks.as_mut_slice() {
            [] => self.chunks.push(Vec::with_capacity(additional.max(FIRST).min(Self::PER_CHUNK))),
            [first] => {
                let wanted = (first.len() + additional).min(Self::PER_CHUNK);
                if wanted > first.capacity() {
                    // At least doubled, as `push` grows it: room made for a
                    // row or two at a time must not copy the chunk each time.
                    let grown = wanted.max(2 * first.capacity()).min(Self::PER_CHUNK);
                    first.reserve_exact(grown - first.len());
                }
            }
            _ => {}
        }
    }

    #[inline]
    pub(crate) fn get(&self, index: usize) -> Option<&E> {
        self.chunks.get(index >> Self::SHIFT)?.get(index & (Self::PER_CHUNK - 1))
    }

    #[inline]
    pub(crate) fn get_mut(&mut self, index: usize) -> Option<&mut E> {
        self.chunks.get_mut(index >> Self::SHIFT)?.get_mut(index & (Self::PER_CHUNK - 1))
    }

    pub(crate) fn iter_mut(&mut self) -> impl Iterator<Item = &mut E> {
        self.chunks.iter_mut().flatten()
    }
}

impl<E> Index<usize> for Chunked<E> {
    type Output = E;

    /// # Panics
    /// If `index` is not below `len()`, as a `Vec` does.
    #[inline]
    fn index(&self, index: usize) -> &E {
        &self.chunks[index >> Self::SHIFT][index & (Self::PER_CHUNK - 1)]
    }
}

impl<E> IndexMut<usize> for Chunked<E> {
    #[inline]
    fn index_mut(&mut self, index: usize) -> &mut E {
        &mut self.chunks[index >> Self::SHIFT][index & (Self::PER_CHUNK - 1)]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Room allocated for elements, used or not.
    fn capacity<E>(list: &Chunked<E>) -> usize {
        list.chunks.iter().map(Vec::capacity).sum()
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
