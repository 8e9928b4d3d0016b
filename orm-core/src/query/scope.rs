//! Which models a query can use: the compile-time FROM clause.
//!
//! A query carries the models it reads from as a tuple type, `(Author,)`
//! and then `(Author, Book)` after a join. An expression carries the models
//! it uses as a tree of [`Src`] markers. [`InScope`] holds when every model
//! of the tree is in the tuple, so a column of a model the query never
//! joined is a compile error, not a "missing FROM-clause entry" at run time.
//! The position types `P0`, `P1`, .. only tell the tuple's slots apart; they
//! are always inferred.

use crate::query::expr::Src;

/// The model `M` is at position `P` of this FROM tuple.
#[diagnostic::on_unimplemented(
    message = "`{M}` is not in this query: it is neither the queried model nor joined",
    label = "uses a column of `{M}`",
    note = "join `{M}` first with `.join(..)` along a relationship, or use a column of a model in the query"
)]
pub trait HasModel<M, P> {}

/// Every model used by an expression is in the FROM tuple `F`.
#[diagnostic::on_unimplemented(
    message = "this expression uses a model that is not in the query",
    label = "uses a model that is neither the queried model nor joined",
    note = "join the model first with `.join(..)` along a relationship"
)]
pub trait InScope<F, I> {}

impl<F> InScope<F, ()> for () {}

impl<F: HasModel<M, P>, M, P> InScope<F, P> for Src<M> {}

impl<F, A: InScope<F, IA>, B: InScope<F, IB>, IA, IB> InScope<F, (IA, IB)> for (A, B) {}

/// Adds a joined model to a FROM tuple.
#[diagnostic::on_unimplemented(message = "a query can join at most 7 models")]
pub trait Push<M> {
    /// The tuple with `M` appended.
    type Output;
}

/// The first model used by an expression: the FROM of a select of it.
#[diagnostic::on_unimplemented(
    message = "the first item of a select must use a model",
    label = "this item uses no model, so the select has nothing to read from"
)]
pub trait Rooted {
    /// The model.
    type Root;
}

impl<M> Rooted for Src<M> {
    type Root = M;
}

impl<A: Rooted, B> Rooted for (A, B) {
    type Root = A::Root;
}

macro_rules! positions {
    ($($p:ident)*) => {$(
        #[doc(hidden)]
        #[derive(Debug)]
        pub enum $p {}
    )*};
}

positions!(P0 P1 P2 P3 P4 P5 P6 P7);

macro_rules! has_model {
    ([$($all:ident),*] $m:ident $p:ident) => {
        impl<$($all),*> HasModel<$m, $p> for ($($all,)*) {}
    };
}

macro_rules! push {
    ([$($all:ident),*]) => {
        impl<$($all,)* New> Push<New> for ($($all,)*) {
            type Output = ($($all,)* New,);
        }
    };
}

macro_rules! from_tuple {
    ($all:tt; $($m:ident $p:ident),*) => {
        $(has_model!($all $m $p);)*
        push!($all);
    };
}

from_tuple!([A]; A P0);
from_tuple!([A, B]; A P0, B P1);
from_tuple!([A, B, C]; A P0, B P1, C P2);
from_tuple!([A, B, C, D]; A P0, B P1, C P2, D P3);
from_tuple!([A, B, C, D, E]; A P0, B P1, C P2, D P3, E P4);
from_tuple!([A, B, C, D, E, G]; A P0, B P1, C P2, D P3, E P4, G P5);
from_tuple!([A, B, C, D, E, G, H]; A P0, B P1, C P2, D P3, E P4, G P5, H P6);
