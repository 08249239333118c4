//! NumPy basic indexing on stored arrays (owned by the slicing work; see issue 5).
