//! Relationship fields, and how their rows are matched.
//!
//! A derive sees one struct at a time, so it can only find foreign keys that
//! are on `Self`: a `many_to_one` (or the child side of a `one_to_one`) looks
//! for the fields whose `#[orm(foreign_key = Target::column)]` names the
//! target, comparing the model segment of the path with the last segment of
//! the target type. A foreign key on the target (`one_to_many`, the parent
//! side of a `one_to_one`) or on a `secondary` model is found by the
//! compiler instead, through the `References` impls the derive of that model
//! generates: the expansion asks for "the" foreign key and type inference
//! picks the only one, or reports none or several.

use proc_macro2::TokenStream;
use syn::ext::IdentExt;
use syn::{Ident, Path, Type};

use super::Field;
use crate::attr::{self, Kind};
use crate::ctxt::Ctxt;
use crate::ty::{self, Holder};

/// One relationship field.
#[derive(Debug)]
pub(crate) struct Relationship<'a> {
    /// The parsed `#[relationship(...)]`.
    pub(crate) attrs: attr::Relationship,
    /// `One` or `Many`, and the target model `T`; `None` when the field type
    /// is neither (reported by the checks).
    pub(crate) holder: Option<(Holder, &'a Type)>,
    /// How the rows are matched; `None` when it cannot be worked out (the
    /// reason is reported).
    pub(crate) join: Option<Join>,
}

/// Where the foreign key of a relationship is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Join {
    /// On `Self`: the column at position `column` of `Self`'s columns.
    Here { column: usize },
    /// On the target: the column `foreign_key` names, or the one the
    /// compiler finds.
    There { foreign_key: Option<Path> },
    /// On the association model `secondary`, one to each side.
    Secondary { secondary: Path },
}

impl<'a> Relationship<'a> {
    /// A relationship of a field of type `ty`, not resolved yet.
    pub(crate) fn new(attrs: attr::Relationship, ty: &'a Type) -> Self {
        Relationship { attrs, holder: ty::relationship_holder(ty), join: None }
    }

    /// The kind, unless missing (reported).
    pub(crate) fn kind(&self) -> Option<Kind> {
        self.attrs.kind.as_ref().map(|k| k.value)
    }

    /// The tokens of the kind flag, which errors about the whole
    /// relationship span; the attribute when the kind is missing.
    pub(crate) fn kind_tokens(&self) -> &TokenStream {
        self.attrs.kind.as_ref().map_or(&self.attrs.attribute, |k| &k.tokens)
    }

    /// The target model `T` of `One<T>` or `Many<T>`.
    pub(crate) fn target(&self) -> Option<&'a Type> {
        self.holder.map(|(_, target)| target)
    }
}

/// Works out the join of every relationship field of model `model`,
/// recording what cannot be worked out in `cx`.
pub(super) fn resolve(cx: &Ctxt, model: &Ident, fields: &mut [Field<'_>]) {
    let resolver = Resolver { cx, model, fields };
    let joins: Vec<Option<Join>> = fields
        .iter()
        .map(|field| {
            let relationship = field.relationship.as_ref()?;
            // A mistake already reported in the attributes (a misspelled
            // `foreign_key`, an `#[orm]` on the field) may be what the join
            // hinges on: guessing on would blame the wrong thing.
            if relationship.attrs.malformed || field.attrs.attribute.is_some() {
                return None;
            }
            resolver.join(relationship)
        })
        .collect();
    for (field, join) in fields.iter_mut().zip(joins) {
        if let Some(relationship) = &mut field.relationship {
            relationship.join = join;
        }
    }
}

struct Resolver<'r, 'a> {
    cx: &'r Ctxt,
    model: &'r Ident,
    fields: &'r [Field<'a>],
}

impl Resolver<'_, '_> {
    fn join(&self, relationship: &Relationship<'_>) -> Option<Join> {
        let kind = relationship.kind()?;
        let (holder, _) = relationship.holder?;
        if kind.is_collection() != (holder == Holder::Many) {
            // The field type contradicts the kind (reported by the checks):
            // which one is wrong is unknown.
            return None;
        }
        if kind == Kind::ManyToMany {
            let secondary = relationship.attrs.secondary.as_ref()?;
            return Some(Join::Secondary { secondary: secondary.value.clone() });
        }
        let target = relationship.target()?;
        let Some(target) = ty::type_name(target) else {
            let message =
                format!("the target of a relationship is a model, e.g. `One<Actor>`, found `{}`", ty::display(target));
            self.cx.error_spanned_by(target, message);
            return None;
        };
        let target = self.name_of(target);
        match &relationship.attrs.foreign_key {
            Some(foreign_key) => self.named(relationship, kind, &target, &foreign_key.value),
            None => self.discovered(relationship, kind, &target),
        }
    }

    /// The join when `foreign_key` is not given: the one foreign key of
    /// `Self` to the target for a `many_to_one`; for a `one_to_one`, that
    /// one if there is one (the child side), else the target's (the parent
    /// side); always the target's for a `one_to_many`.
    fn discovered(&self, relationship: &Relationship<'_>, kind: Kind, target: &str) -> Option<Join> {
        if kind == Kind::OneToMany {
            return Some(Join::There { foreign_key: None });
        }
        let model = self.model.unraw();
        match self.foreign_keys_to(target).as_slice() {
            [(column, _)] => Some(Join::Here { column: *column }),
            [] if kind == Kind::OneToOne => Some(Join::There { foreign_key: None }),
            [] => {
                let message = format!(
                    "`{model}` has no foreign key to `{target}`: add `#[orm(foreign_key = {target}::id)]` to a \
                     field, or name one with `foreign_key = ...`"
                );
                self.cx.error_spanned_by(relationship.kind_tokens(), message);
                None
            }
            several => {
                let names: Vec<String> =
                    several.iter().map(|(_, f)| format!("`foreign_key = {model}::{}`", f.ident.unraw())).collect();
                let message = format!(
                    "several foreign keys of `{model}` reference `{target}`: name one with {}",
                    names.join(" or ")
                );
                self.cx.error_spanned_by(relationship.kind_tokens(), message);
                None
            }
        }
    }

    /// The join when `foreign_key = Model::column` is given: a column of
    /// `Self` means the foreign key is here, a column of the target that it
    /// is there. A self-referential relationship is told apart by its kind.
    fn named(&self, relationship: &Relationship<'_>, kind: Kind, target: &str, path: &Path) -> Option<Join> {
        let model = self.model.unraw().to_string();
        let Some(owner) = model_segment(path).map(|m| self.name_of(m)) else {
            let example = format!("{model}::{}_id", super::snake_case(target));
            let message = format!("`foreign_key` must name a column as `Model::column`, e.g. `{example}`");
            self.cx.error_spanned_by(path, message);
            return None;
        };
        let here = owner == model && kind != Kind::OneToMany;
        let there = owner == target && kind != Kind::ManyToOne;
        if here {
            self.column_of_self(path, target)
        } else if there {
            Some(Join::There { foreign_key: Some(path.clone()) })
        } else {
            let kind = kind.symbol();
            let message = match relationship.kind() {
                Some(Kind::ManyToOne) => format!(
                    "`foreign_key` of a `{kind}` relationship names the foreign-key column of `{model}`, found a \
                     column of `{owner}`: write `foreign_key = {model}::<column>`"
                ),
                Some(Kind::OneToMany) => format!(
                    "`foreign_key` of a `{kind}` relationship names the column of `{target}` that references \
                     `{model}`, found a column of `{owner}`: write `foreign_key = {target}::<column>`"
                ),
                _ => format!(
                    "`foreign_key` of a `{kind}` relationship names the foreign-key column, on `{model}` or on \
                     `{target}`, found a column of `{owner}`"
                ),
            };
            self.cx.error_spanned_by(path, message);
            None
        }
    }

    /// `Self::column` as a join: the column must be a foreign key of `Self`.
    fn column_of_self(&self, path: &Path, target: &str) -> Option<Join> {
        let model = self.model.unraw();
        let name = path.segments.last().map(|s| s.ident.unraw())?;
        let found = self.columns().find(|(_, field)| field.ident.unraw() == name);
        match found {
            Some((column, field)) if field.attrs.foreign_key.is_some() => Some(Join::Here { column }),
            Some(_) => {
                let message = format!(
                    "`{name}` is not a foreign key: add `#[orm(foreign_key = {target}::id)]` to field `{name}` of \
                     `{model}`"
                );
                self.cx.error_spanned_by(path, message);
                None
            }
            None => {
                let mut message = format!("`{name}` is not a column of `{model}`");
                let candidates: Vec<String> =
                    self.foreign_keys_to(target).iter().map(|(_, f)| format!("`{}`", f.ident.unraw())).collect();
                if !candidates.is_empty() {
                    message.push_str(&format!(
                        ", expected one of its foreign keys to `{target}`: {}",
                        candidates.join(", ")
                    ));
                }
                self.cx.error_spanned_by(path, message);
                None
            }
        }
    }

    /// The column fields of `Self` with their positions in column order.
    fn columns(&self) -> impl Iterator<Item = (usize, &Field<'_>)> {
        self.fields.iter().filter(|f| f.is_column()).enumerate()
    }

    /// The foreign-key columns of `Self` whose path names model `target`.
    fn foreign_keys_to(&self, target: &str) -> Vec<(usize, &Field<'_>)> {
        self.columns()
            .filter(|(_, field)| {
                let path = field.attrs.foreign_key.as_ref().map(|fk| &fk.value);
                path.and_then(model_segment).is_some_and(|owner| self.name_of(owner) == target)
            })
            .collect()
    }

    /// The name of a model as written, with `Self` spelled out.
    fn name_of(&self, ident: &Ident) -> String {
        if ident == "Self" {
            self.model.unraw().to_string()
        } else {
            ident.unraw().to_string()
        }
    }
}

/// `Movie` in `crate::Movie::id`: the segment before the column.
fn model_segment(path: &Path) -> Option<&Ident> {
    let n = path.segments.len();
    (n >= 2).then(|| &path.segments[n - 2].ident)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ast::Container;
    use syn::{parse_quote, DeriveInput};

    /// The joins of every relationship field, with the error messages.
    fn joins(input: DeriveInput) -> (Vec<Option<Join>>, Vec<String>) {
        let cx = Ctxt::new();
        let cont = Container::from_ast(&cx, &input).expect("a named struct");
        let joins = cont.relationships().map(|(_, r)| r.join.clone()).collect();
        let errors = match cx.check() {
            Ok(()) => Vec::new(),
            Err(error) => error.into_iter().map(|e| e.to_string()).collect(),
        };
        (joins, errors)
    }

    fn here(column: usize) -> Option<Join> {
        Some(Join::Here { column })
    }

    fn there(foreign_key: Option<Path>) -> Option<Join> {
        Some(Join::There { foreign_key })
    }

    #[test]
    fn finds_the_one_foreign_key_here() {
        let (joins, errors) = joins(parse_quote! {
            struct Stuntman {
                #[orm(primary_key)] id: i32,
                name: String,
                #[orm(skip)] note: String,
                #[relationship(many_to_many, secondary = StuntmanMovie)] movies: Many<Movie>,
                #[orm(foreign_key = crate::models::Actor::id)] actor_id: Option<i32>,
                #[relationship(one_to_one, back_populates = stuntman)] actor: One<Actor>,
                #[relationship(many_to_one)] same_actor: One<crate::Actor>,
            }
        });
        assert_eq!(errors, Vec::<String>::new());
        // `actor_id` is column 2: skipped and relationship fields are not columns.
        let secondary = Some(Join::Secondary { secondary: parse_quote!(StuntmanMovie) });
        assert_eq!(joins, [secondary, here(2), here(2)]);
    }

    #[test]
    fn no_foreign_key_here() {
        let (joins, errors) = joins(parse_quote! {
            struct Stuntman {
                #[orm(primary_key)] id: i32,
                #[orm(foreign_key = Movie::id)] movie_id: i32,
                #[relationship(many_to_one)] actor: One<Actor>,
                // The parent side of a one-to-one, and a one-to-many, look on the target.
                #[relationship(one_to_one)] double: One<Actor>,
                #[relationship(one_to_many)] scenes: Many<Scene>,
            }
        });
        assert_eq!(
            errors,
            ["`Stuntman` has no foreign key to `Actor`: add `#[orm(foreign_key = Actor::id)]` to a field, or name \
              one with `foreign_key = ...`"]
        );
        assert_eq!(joins, [None, there(None), there(None)]);
    }

    #[test]
    fn several_foreign_keys_must_be_named() {
        let (joins, errors) = joins(parse_quote! {
            struct Employee {
                #[orm(primary_key)] id: i32,
                #[orm(foreign_key = Employee::id)] manager_id: Option<i32>,
                #[orm(foreign_key = Self::id)] mentor_id: Option<i32>,
                #[relationship(many_to_one)] manager: One<Employee>,
                #[relationship(one_to_one)] mentor: One<Self>,
            }
        });
        let message = "several foreign keys of `Employee` reference `Employee`: name one with \
                       `foreign_key = Employee::manager_id` or `foreign_key = Employee::mentor_id`";
        assert_eq!(errors, [message, message]);
        assert_eq!(joins, [None, None]);
    }

    #[test]
    fn a_named_foreign_key_picks_the_side() {
        let (joins, errors) = joins(parse_quote! {
            struct Employee {
                #[orm(primary_key)] id: i32,
                #[orm(foreign_key = Employee::id)] manager_id: Option<i32>,
                #[orm(foreign_key = Employee::id)] mentor_id: Option<i32>,
                #[relationship(many_to_one, foreign_key = Employee::mentor_id)] mentor: One<Employee>,
                #[relationship(one_to_many, foreign_key = Employee::manager_id)] reports: Many<Employee>,
                #[relationship(one_to_one, foreign_key = Self::manager_id)] manager: One<Employee>,
                #[relationship(one_to_one, foreign_key = Badge::owner_id)] badge: One<Badge>,
                #[relationship(one_to_many, foreign_key = Badge::owner_id)] badges: Many<Badge>,
            }
        });
        assert_eq!(errors, Vec::<String>::new());
        let badge = there(Some(parse_quote!(Badge::owner_id)));
        assert_eq!(joins, [here(2), there(Some(parse_quote!(Employee::manager_id))), here(1), badge.clone(), badge]);
    }

    #[test]
    fn a_named_foreign_key_must_fit() {
        let (joins, errors) = joins(parse_quote! {
            struct Detail {
                #[orm(primary_key)] id: i32,
                #[orm(foreign_key = Actor::id)] actor_id: Option<i32>,
                #[relationship(many_to_one, foreign_key = Actor::id)] a: One<Actor>,
                #[relationship(one_to_many, foreign_key = Detail::actor_id)] b: Many<Actor>,
                #[relationship(one_to_one, foreign_key = Movie::id)] c: One<Actor>,
                #[relationship(many_to_one, foreign_key = Detail::actr_id)] d: One<Actor>,
                #[relationship(many_to_one, foreign_key = Detail::id)] e: One<Actor>,
                #[relationship(many_to_one, foreign_key = actor_id)] f: One<Actor>,
            }
        });
        assert_eq!(
            errors,
            [
                "`foreign_key` of a `many_to_one` relationship names the foreign-key column of `Detail`, found a \
                 column of `Actor`: write `foreign_key = Detail::<column>`",
                "`foreign_key` of a `one_to_many` relationship names the column of `Actor` that references \
                 `Detail`, found a column of `Detail`: write `foreign_key = Actor::<column>`",
                "`foreign_key` of a `one_to_one` relationship names the foreign-key column, on `Detail` or on \
                 `Actor`, found a column of `Movie`",
                "`actr_id` is not a column of `Detail`, expected one of its foreign keys to `Actor`: `actor_id`",
                "`id` is not a foreign key: add `#[orm(foreign_key = Actor::id)]` to field `id` of `Detail`",
                "`foreign_key` must name a column as `Model::column`, e.g. `Detail::actor_id`",
            ]
        );
        assert!(joins.iter().all(Option::is_none));
    }
}
