//! The shape of a plain query of one model's rows (no joins, no lock, no
//! joined eager load): everything its SQL text depends on, so that a
//! session looks the text up (`StatementTexts::query`) instead of building
//! the statement and rendering it, as SQLAlchemy's compiled cache does.
//!
//! A dialect renders every value as a parameter, cast by the value's type,
//! so two queries of one shape have one text and differ only in their
//! parameters. A shape describes only the kinds of expressions whose text
//! is fixed that way; a query with any other (a subquery, verbatim SQL, an
//! alias built at run time, an interval) is rendered every time.

use std::any::TypeId;
use std::hash::{Hash, Hasher};

use crate::statement::{BinaryOp, Expr, Function, Name, Nulls, OrderTerm};
use crate::value::{SqlType, Value};

/// The most tokens a shape holds; a larger query is rendered every time.
const MAX_TOKENS: usize = 32;

/// One part of a shape, in the order the renderer meets it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Token {
    /// The model whose columns and table the query reads.
    Model(TypeId),
    /// How many filters, how many sort terms, and whether there are a
    /// limit and an offset.
    Clauses {
        filters: usize,
        order: usize,
        limit: bool,
        offset: bool,
    },
    /// A column of a table under its own name.
    Column {
        table: StaticName,
        name: StaticName,
    },
    /// A parameter cast to the value's type (none for NULL).
    Param(Option<SqlType>),
    /// An array parameter, cast to an array of its element type.
    ArrayParam(SqlType),
    /// A parameter cast to a given type, whatever its value.
    TypedParam(SqlType),
    Binary(BinaryOp),
    Like {
        case_insensitive: bool,
    },
    IsNull {
        negated: bool,
    },
    InArray,
    Between,
    Call {
        function: Function,
        args: usize,
    },
    Case {
        whens: usize,
        otherwise: bool,
    },
    Tuple(usize),
    And(usize),
    Or(usize),
    Not,
    /// A sort term's direction and place for NULLs.
    Sort {
        descending: bool,
        nulls: Option<Nulls>,
    },
}

/// A name in a shape, compared and hashed by where it is, not by its
/// letters: a column's names come from its model's metadata, one string
/// for every query. A name copied elsewhere only makes a second shape with
/// the same text. By address, finding the text of a one-filter query took
/// 408 instructions instead of 489.
#[derive(Debug, Clone, Copy)]
pub(crate) struct StaticName(&'static str);

impl PartialEq for StaticName {
    fn eq(&self, other: &Self) -> bool {
        std::ptr::eq(self.0, other.0)
    }
}

impl Eq for StaticName {}

impl Hash for StaticName {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_usize(self.0.as_ptr() as usize);
        state.write_usize(self.0.len());
    }
}

/// The shape of a plain query: its tokens, kept on the stack.
pub(crate) struct Shape {
    tokens: [Token; MAX_TOKENS],
    len: usize,
}

impl Shape {
    /// The shape of a query of `model` with `filters` (joined with AND),
    /// sorted by `order`, with a limit and an offset if asked; `None` when
    /// a part is of a kind a shape does not describe, or the query is too
    /// large.
    pub(crate) fn of(model: TypeId, filters: &[Expr], order: &[OrderTerm], limit: bool, offset: bool) -> Option<Shape> {
        // Any token fills the unused places; only the first `len` count.
        let mut shape = Shape { tokens: [Token::Not; MAX_TOKENS], len: 0 };
        shape.push(Token::Model(model))?;
        shape.push(Token::Clauses { filters: filters.len(), order: order.len(), limit, offset })?;
        for filter in filters {
            shape.expr(filter)?;
        }
        for term in order {
            shape.push(Token::Sort { descending: term.descending, nulls: term.nulls })?;
            shape.expr(&term.expr)?;
        }
        Some(shape)
    }

    pub(crate) fn tokens(&self) -> &[Token] {
        &self.tokens[..self.len]
    }

    fn push(&mut self, token: Token) -> Option<()> {
        *self.tokens.get_mut(self.len)? = token;
        self.len += 1;
        Some(())
    }

    fn exprs(&mut self, exprs: &[Expr]) -> Option<()> {
        exprs.iter().try_for_each(|e| self.expr(e))
    }

    fn expr(&mut self, expr: &Expr) -> Option<()> {
        match expr {
            Expr::Column { table: Name::Borrowed(table), name } => {
                self.push(Token::Column { table: StaticName(table), name: StaticName(name) })
            }
            Expr::Value(value) => self.push(param_token(value)),
            Expr::TypedValue(_, ty) => self.push(Token::TypedParam(*ty)),
            Expr::Binary { op, lhs, rhs } => {
                self.push(Token::Binary(*op))?;
                self.expr(lhs)?;
                self.expr(rhs)
            }
            Expr::Like { expr, pattern, case_insensitive } => {
                self.push(Token::Like { case_insensitive: *case_insensitive })?;
                self.expr(expr)?;
                self.expr(pattern)
            }
            Expr::IsNull { expr, negated } => {
                self.push(Token::IsNull { negated: *negated })?;
                self.expr(expr)
            }
            Expr::InArray { expr, array } => {
                self.push(Token::InArray)?;
                self.expr(expr)?;
                self.push(param_token(array))
            }
            Expr::Between { expr, low, high } => {
                self.push(Token::Between)?;
                self.expr(expr)?;
                self.expr(low)?;
                self.expr(high)
            }
            Expr::Call { function, args } => {
                self.push(Token::Call { function: *function, args: args.len() })?;
                self.exprs(args)
            }
            Expr::Case { whens, otherwise } => {
                self.push(Token::Case { whens: whens.len(), otherwise: otherwise.is_some() })?;
                for (condition, result) in whens {
                    self.expr(condition)?;
                    self.expr(result)?;
                }
                otherwise.as_deref().map_or(Some(()), |e| self.expr(e))
            }
            Expr::Tuple(items) => {
                self.push(Token::Tuple(items.len()))?;
                self.exprs(items)
            }
            Expr::And(all) => {
                self.push(Token::And(all.len()))?;
                self.exprs(all)
            }
            Expr::Or(any) => {
                self.push(Token::Or(any.len()))?;
                self.exprs(any)
            }
            Expr::Not(inner) => {
                self.push(Token::Not)?;
                self.expr(inner)
            }
            Expr::Column { table: Name::Owned(_), .. }
            | Expr::Bare(_)
            | Expr::AllColumns(_)
            | Expr::Labeled { .. }
            | Expr::Verbatim(_)
            | Expr::InSubquery { .. }
            | Expr::Exists { .. }
            | Expr::Subquery(_)
            | Expr::Interval(_)
            | Expr::Excluded(_) => None,
        }
    }
}

/// The token of a parameter holding `value`: its cast is all its text.
fn param_token(value: &Value) -> Token {
    match value {
        Value::Array(element, _) => Token::ArrayParam(*element),
        other => Token::Param(other.sql_type()),
    }
}

/// The parameters of a plain query's parts, moved out of them in the order
/// [`for_each_value`] meets them, then the limit and the offset: the order
/// a statement of a kept text binds them in (`Query::plain_sql` checks it
/// before keeping a text).
pub(crate) fn parameters(
    mut filters: Vec<Expr>,
    mut order: Vec<OrderTerm>,
    limit: Option<i64>,
    offset: Option<i64>,
) -> Vec<Value> {
    let mut values = Vec::new();
    for_each_part_value(&mut filters, &mut order, &mut |value| values.push(std::mem::take(value)));
    values.extend(limit.map(Value::I64));
    values.extend(offset.map(Value::I64));
    values
}

/// A plain query's parts with each value replaced by its place in the
/// order [`parameters`] gives them (`Value::I64(0)`, `1`, ..): rendered,
/// they show which place each parameter comes from
/// ([`binds_in_walk_order`]).
pub(crate) struct Placed {
    pub(crate) filters: Vec<Expr>,
    pub(crate) order: Vec<OrderTerm>,
    pub(crate) limit: Option<i64>,
    pub(crate) offset: Option<i64>,
    /// How many places there are.
    pub(crate) count: i64,
}

/// Copies of a plain query's filters and sort terms, and a limit and an
/// offset if it has them, each value replaced by its place ([`Placed`]).
pub(crate) fn placed(filters: &[Expr], order: &[OrderTerm], limit: bool, offset: bool) -> Placed {
    let (mut filters, mut order) = (filters.to_vec(), order.to_vec());
    let mut count = 0;
    for_each_part_value(&mut filters, &mut order, &mut |value| {
        *value = Value::I64(count);
        count += 1;
    });
    let mut next_place = |present: bool| {
        present.then(|| {
            count += 1;
            count - 1
        })
    };
    let (limit, offset) = (next_place(limit), next_place(offset));
    Placed { filters, order, limit, offset, count }
}

/// Whether the parameters of a statement rendered from [`Placed`] parts are
/// the places in order, `count` of them: then the statement binds the
/// values in the order [`parameters`] gives them.
pub(crate) fn binds_in_walk_order(params: &[Value], count: i64) -> bool {
    params.len() as i64 == count && params.iter().zip(0..).all(|(value, place)| *value == Value::I64(place))
}

/// Calls `f` on each value of a plain query's filters, then of its sort
/// terms, in the order the renderer binds them.
fn for_each_part_value(filters: &mut [Expr], order: &mut [OrderTerm], f: &mut impl FnMut(&mut Value)) {
    for filter in filters {
        for_each_value(filter, f);
    }
    for term in order {
        for_each_value(&mut term.expr, f);
    }
}

/// Calls `f` on each value of `expr`, in the order the renderer binds them.
fn for_each_value(expr: &mut Expr, f: &mut impl FnMut(&mut Value)) {
    match expr {
        Expr::Value(value) | Expr::TypedValue(value, _) => f(value),
        Expr::Binary { lhs: first, rhs: second, .. } | Expr::Like { expr: first, pattern: second, .. } => {
            for_each_value(first, f);
            for_each_value(second, f);
        }
        Expr::IsNull { expr, .. } | Expr::Not(expr) => for_each_value(expr, f),
        Expr::InArray { expr, array } => {
            for_each_value(expr, f);
            f(array);
        }
        Expr::Between { expr, low, high } => {
            for_each_value(expr, f);
            for_each_value(low, f);
            for_each_value(high, f);
        }
        Expr::Call { args: all, .. } | Expr::Tuple(all) | Expr::And(all) | Expr::Or(all) => {
            all.iter_mut().for_each(|e| for_each_value(e, f));
        }
        Expr::Case { whens, otherwise } => {
            for (condition, result) in whens {
                for_each_value(condition, f);
                for_each_value(result, f);
            }
            if let Some(otherwise) = otherwise {
                for_each_value(otherwise, f);
            }
        }
        // A column holds no value, and `Shape::of` refuses the other kinds
        // (its match lists them all: a new kind is decided there). A value
        // missed here only keeps a shape's text from being kept: rendered
        // from `placed` parts, the statement would bind a value that is no
        // place.
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::statement::Expr;

    fn id_le(n: i32) -> Expr {
        Expr::binary(BinaryOp::Le, Expr::column("users", "id"), Expr::Value(Value::I32(n)))
    }

    #[test]
    fn queries_that_differ_in_their_values_only_have_one_shape() {
        let model = TypeId::of::<u8>();
        let a = Shape::of(model, &[id_le(1)], &[], true, false).unwrap();
        let b = Shape::of(model, &[id_le(500)], &[], true, false).unwrap();
        assert_eq!(a.tokens(), b.tokens());
    }

    #[test]
    fn what_the_text_depends_on_tells_shapes_apart() {
        let model = TypeId::of::<u8>();
        let shape = |filters: &[Expr], limit| Shape::of(model, filters, &[], limit, false).unwrap();
        let base = shape(&[id_le(1)], false);
        let wider = Expr::binary(BinaryOp::Le, Expr::column("users", "id"), Expr::Value(Value::I64(1)));
        let null = Expr::binary(BinaryOp::Le, Expr::column("users", "id"), Expr::Value(Value::Null));
        let other_column = Expr::binary(BinaryOp::Le, Expr::column("users", "age"), Expr::Value(Value::I32(1)));
        let other_op = Expr::binary(BinaryOp::Lt, Expr::column("users", "id"), Expr::Value(Value::I32(1)));
        for other in [
            shape(&[wider], false),
            shape(&[null], false),
            shape(&[other_column], false),
            shape(&[other_op], false),
            shape(&[id_le(1)], true),
            shape(&[id_le(1), id_le(2)], false),
            Shape::of(TypeId::of::<u16>(), &[id_le(1)], &[], false, false).unwrap(),
        ] {
            assert_ne!(base.tokens(), other.tokens());
        }
    }

    #[test]
    fn parts_whose_text_is_not_fixed_by_their_kind_have_no_shape() {
        let model = TypeId::of::<u8>();
        let alias = Expr::Column { table: Name::Owned("u1".to_owned()), name: "id" };
        assert!(Shape::of(model, &[Expr::Verbatim("true")], &[], false, false).is_none());
        assert!(Shape::of(model, &[Expr::Interval(5)], &[], false, false).is_none());
        assert!(Shape::of(model, &[alias], &[], false, false).is_none());
        let many: Vec<Expr> = (0..MAX_TOKENS as i32).map(id_le).collect();
        assert!(Shape::of(model, &many, &[], false, false).is_none());
    }

    #[test]
    fn parameters_come_in_the_order_of_the_walk() {
        let between = Expr::Between {
            expr: Box::new(Expr::column("users", "id")),
            low: Box::new(Expr::Value(Value::I32(2))),
            high: Box::new(Expr::Value(Value::I32(3))),
        };
        let order = vec![OrderTerm { expr: Expr::Value(Value::I32(4)), descending: false, nulls: None }];
        let places = placed(&[id_le(1), between.clone()], &order, true, false);
        assert_eq!((places.limit, places.offset, places.count), (Some(4), None, 5));
        let placed_values = parameters(places.filters, places.order, places.limit, places.offset);
        assert!(binds_in_walk_order(&placed_values, 5));
        assert!(!binds_in_walk_order(&placed_values, 4));
        assert!(!binds_in_walk_order(&[Value::I64(1), Value::I64(0)], 2));
        let values = parameters(vec![id_le(1), between], order, Some(5), Some(6));
        let expected = [Value::I32(1), Value::I32(2), Value::I32(3), Value::I32(4), Value::I64(5), Value::I64(6)];
        assert_eq!(values, expected);
    }
}
