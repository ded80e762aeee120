//! The court hierarchy, walked in SQL: the one place where a court's branch (the court and the
//! courts below it) and its line (the court and the courts above it) are worked out. Each is a
//! `WITH RECURSIVE` clause for the court bound as `$1`, naming a table of `(id, depth)`, depth 0
//! for the court itself; a query goes on straight after it. The hierarchy is a tree of at most
//! 16 levels (supreme, high, intermediate, basic, with room to spare), which also bounds the walk
//! should a row ever point in a circle.

macro_rules! down_from_1 {
    () => {
        "down(id, depth) AS ( \
           SELECT id, 0 FROM courts WHERE id = $1 \
           UNION ALL \
           SELECT c.id, down.depth + 1 FROM courts c JOIN down ON c.parent_id = down.id \
           WHERE down.depth < 16)"
    };
}

macro_rules! up_from_1 {
    () => {
        "up(id, depth) AS ( \
           SELECT id, 0 FROM courts WHERE id = $1 \
           UNION ALL \
           SELECT c.parent_id, up.depth + 1 FROM courts c JOIN up ON c.id = up.id \
           WHERE c.parent_id IS NOT NULL AND up.depth < 16)"
    };
}

/// `down(id, depth)`: the court `$1` and every court below it; `depth > 0` for those below only.
pub(crate) const BRANCH: &str = concat!("WITH RECURSIVE ", down_from_1!(), " ");

/// `up(id, depth)`: the court `$1` and every court above it, nearest first by `depth`;
/// `depth > 0` for those above only.
pub(crate) const LINE: &str = concat!("WITH RECURSIVE ", up_from_1!(), " ");

/// Both `up` and `down` of the court `$1`.
pub(crate) const LINE_AND_BRANCH: &str =
    concat!("WITH RECURSIVE ", up_from_1!(), ", ", down_from_1!(), " ");
