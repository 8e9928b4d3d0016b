//! Relationships: the `RelationMeta` of each relationship field, its typed
//! constant (`Movie::actors`), the `links` accessors of `impl Model`, the
//! `References` impl of each foreign key, and the compile-time checks.
//!
//! Generated code names the model, never `Self`: some of it sits in items
//! nested in blocks (`const` items used as const generic arguments), where
//! `Self` of the surrounding impl is not in scope. Every expression is
//! spanned on the user's token it depends on, so a failed check points at
//! the relationship, not at `#[derive(Model)]`.

use proc_macro2::{Group, Span, TokenStream, TokenTree};
use quote::{format_ident, quote, quote_spanned, ToTokens};
use syn::ext::IdentExt;
use syn::{Ident, Path, Type};

use super::first_last_spans;
use crate::ast::{Container, Field, Join, Relationship};
use crate::attr::Kind;
use crate::ty::Holder;

/// The `RelationMeta` literals of `TABLE.relations`, in field order.
pub(super) fn relation_metas(cont: &Container<'_>, p: &TokenStream) -> Vec<TokenStream> {
    cont.relationships().filter_map(|(field, relationship)| relation_meta(cont, field, relationship, p)).collect()
}

fn relation_meta(
    cont: &Container<'_>,
    field: &Field<'_>,
    rel: &Relationship<'_>,
    p: &TokenStream,
) -> Option<TokenStream> {
    let name = field.ident.unraw().to_string();
    let kind = match rel.kind()? {
        Kind::ManyToOne => quote!(ManyToOne),
        Kind::OneToMany => quote!(OneToMany),
        Kind::OneToOne => quote!(OneToOne),
        Kind::ManyToMany => quote!(ManyToMany),
    };
    let target = target(cont, rel)?;
    let join = join(cont, rel, &target, p)?;
    let back_populates = match &rel.attrs.back_populates {
        Some(field) => {
            let field = field.value.unraw().to_string();
            quote!(::core::option::Option::Some(#field))
        }
        None => quote!(::core::option::Option::None),
    };
    let cascade = rel.attrs.cascade.as_ref().map(|c| c.value).unwrap_or_default();
    let (cascade_delete, delete_orphan) = (cascade.delete, cascade.delete_orphan);
    let order_by = rel.attrs.order_by.as_ref().map(|order_by| {
        let descending = rel.attrs.order_desc.is_some();
        let index = column_index(&target, &order_by.value, p);
        quote!((#index, #descending))
    });
    let check = check_model(&target, p);
    Some(quote! {
        #p::RelationMeta {
            name: #name,
            kind: #p::RelationKind::#kind,
            target: { #check #p::table_of::<#target> },
            target_type: #p::type_id_of::<#target>,
            join: #join,
            back_populates: #back_populates,
            cascade_delete: #cascade_delete,
            delete_orphan: #delete_orphan,
            order_by: &[#order_by],
        }
    })
}

/// The `Join` expression, evaluated in the `TABLE` constant.
fn join(cont: &Container<'_>, rel: &Relationship<'_>, target: &TokenStream, p: &TokenStream) -> Option<TokenStream> {
    let model = cont.ident;
    let at_kind = span_of(rel.kind_tokens());
    Some(match rel.join.as_ref()? {
        // Through the `References` impl of that column, which proves that it
        // references the target (the derive only matched names).
        Join::Here { column } => quote_spanned! {at_kind=>
            #p::Join::ForeignKeyHere {
                local: #column,
                remote: <#model as #p::References<#target, #p::ColumnMarker<#column>>>::TARGET_COLUMN,
            }
        },
        // The target's only foreign key to this model, found by inference.
        Join::There { foreign_key: None } => quote_spanned! {at_kind=>
            {
                let (remote, local) = #p::foreign_key_of::<#target, #model, _>();
                #p::Join::ForeignKeyThere { local, remote }
            }
        },
        // The named column: a column of the target (`column_index`) that
        // references this model (`References`). The path appears once, so
        // a misspelling is one error.
        Join::There { foreign_key: Some(path) } => {
            let index = column_index(target, path, p);
            let (_, column) = first_last_spans(path);
            // Spanned on the path: "`Comment` has no foreign key to `Article`"
            // is about the named column.
            let target = respan(target.clone(), column);
            quote_spanned! {column=>
                {
                    const __ORM_REMOTE: usize = #index;
                    #p::Join::ForeignKeyThere {
                        local: <#target as #p::References<#model, #p::ColumnMarker<{ __ORM_REMOTE }>>>::TARGET_COLUMN,
                        remote: __ORM_REMOTE,
                    }
                }
            }
        }
        Join::Secondary { secondary } => {
            let at = span_of(secondary);
            let check = check_model(secondary, p);
            quote_spanned! {at=>
                {
                    #check
                    let (to_local, local) = #p::foreign_key_of::<#secondary, #model, _>();
                    let (to_remote, remote) = #p::foreign_key_of::<#secondary, #target, _>();
                    #p::Join::Secondary { secondary: #p::table_of::<#secondary>, local, to_local, to_remote, remote }
                }
            }
        }
    })
}

/// The position of the column `path`, which must be one of the target's,
/// spanned on the path.
fn column_index(target: &TokenStream, path: &Path, p: &TokenStream) -> TokenStream {
    let (_, column) = first_last_spans(path);
    let target = respan(target.clone(), column);
    quote_spanned! {column=>
        {
            let column = #path;
            #p::check_column_of::<#target, _>(&column);
            column.index()
        }
    }
}

/// `check_model::<T>();`, first in every item that needs `T: Model`, as a
/// statement. An item reports an unmet bound once per span, and rustc
/// reports identical errors once: so a target that is not a model is one
/// error, this one, however many items use it.
fn check_model(model: &dyn ToTokens, p: &TokenStream) -> TokenStream {
    quote!(#p::check_model::<#model>();)
}

/// The typed constants, `pub const actors: Relation<Movie, Actor> = ..;`,
/// for the inherent impl that holds the column constants.
pub(super) fn relation_consts(cont: &Container<'_>, p: &TokenStream) -> TokenStream {
    let model = cont.ident;
    let consts = cont.relationships().filter_map(|(field, rel)| Some((field, rel, target(cont, rel)?)));
    let consts = consts.enumerate().map(|(index, (field, rel, target))| {
        let (vis, member) = (field.vis, field.ident);
        let doc = format!(" The `{}.{}` relationship.", model.unraw(), member.unraw());
        let check = check_model(&target, p);
        let cardinality = match rel.holder {
            Some((Holder::One, _)) => quote!(#p::ToOne),
            _ => quote!(#p::ToMany),
        };
        quote! {
            #[doc = #doc]
            #vis const #member: #p::Relation<#model, #target, #cardinality> = {
                #check
                #p::relation::<#model, #target, #cardinality>(#index)
            };
        }
    });
    quote!(#(#consts)*)
}

/// `links` and `links_mut` of `impl Model`, or nothing without
/// relationships (the trait's defaults say "no such relationship").
pub(super) fn links(cont: &Container<'_>, p: &TokenStream) -> TokenStream {
    let members: Vec<&Ident> = cont.relationships().map(|(field, _)| field.ident).collect();
    if members.is_empty() {
        return TokenStream::new();
    }
    let indices = 0..members.len();
    let indices_mut = 0..members.len();
    quote! {
        fn links(&self, relation: usize) -> ::core::option::Option<&#p::Links> {
            match relation {
                #(#indices => ::core::option::Option::Some(self.#members.links()),)*
                _ => ::core::option::Option::None,
            }
        }

        fn links_mut(&mut self, relation: usize, session: u64) -> ::core::option::Option<&mut #p::Links> {
            match relation {
                #(#indices_mut => ::core::option::Option::Some(self.#members.links_mut(session)),)*
                _ => ::core::option::Option::None,
            }
        }
    }
}

/// The value of a relationship field in `from_row`: not loaded.
pub(super) fn not_loaded(rel: &Relationship<'_>, ty: &Type, p: &TokenStream) -> TokenStream {
    let holder = match rel.holder {
        Some((Holder::Many, _)) => quote!(Many),
        _ => quote!(One),
    };
    let (first, _) = first_last_spans(ty);
    quote_spanned!(first=> #p::#holder::not_loaded())
}

/// The checks that are not part of `TABLE`, as `const _: () = ..;` items
/// for the `const _` block: `back_populates` names a relationship of the
/// target back to this model, and that relationship's own `back_populates`
/// names this one. (The target and `secondary` are checked to be models
/// where `TABLE` uses them.)
pub(super) fn checks(cont: &Container<'_>, p: &TokenStream) -> TokenStream {
    let model = cont.ident;
    let mut out = TokenStream::new();
    for (own, rel) in cont.relationships() {
        let (Some(target), Some(back_populates)) = (target(cont, rel), &rel.attrs.back_populates) else { continue };
        let field = &back_populates.value;
        let check = quote_spanned!(field.span()=> #p::check_back_populates::<#model, _>(<#target>::#field));
        out.extend(quote!(const _: () = #check;));
        let (theirs, ours) = (field.unraw().to_string(), own.ident.unraw().to_string());
        // A failed const evaluation is reported at the item: span all of it.
        // A failed const evaluation is reported at the call's first token.
        let check_points_back = Ident::new("check_points_back", field.span());
        let call = quote_spanned!(field.span()=> #check_points_back(<#target as Model>::TABLE, #theirs, #ours));
        out.extend(quote!(const _: () = { use #p::{check_points_back, Model}; #call };));
    }
    out
}

/// For each foreign-key column at position `N`, referencing `X::col`:
///
/// ```ignore
/// type __OrmForeignKeyN = X;
/// const __ORM_FOREIGN_KEY_N: (&str, &str, usize) = /* table, column, position of X::col */;
/// impl References<X, ColumnMarker<N>> for Model { .. }
/// ```
///
/// Both halves of the path are written once, so that a misspelled model or
/// column is one error; the column's `ForeignKeyMeta` reads the constant.
pub(super) fn foreign_keys(cont: &Container<'_>, p: &TokenStream) -> TokenStream {
    let model = cont.ident;
    let mut out = TokenStream::new();
    for (position, field) in cont.columns().enumerate() {
        let Some(foreign_key) = &field.attrs.foreign_key else { continue };
        let Some((owner, column)) = split_column_path(cont, &foreign_key.value) else { continue };
        let (alias, constant) = foreign_key_names(position);
        let ty = field.ty;
        let at_column = column.span();
        out.extend(quote! {
            type #alias = #owner;
        });
        out.extend(quote_spanned! {at_column=>
            const #constant: (&str, &str, usize) = {
                let column = __orm_foreign_key(#alias::#column, ::core::marker::PhantomData::<#ty>);
                (column.table(), column.name(), column.index())
            };
        });
        // The whole call at the referenced column, so that the error points
        // at `Model::column`, not at the derive.
        let alias_at_column = Ident::new(&alias.to_string(), at_column);
        let at_column_p: TokenStream = p
            .clone()
            .into_iter()
            .map(|mut tt| {
                tt.set_span(at_column);
                tt
            })
            .collect();
        out.extend(quote_spanned! {at_column=>
            const _: () = #at_column_p::check_key_column::<#alias_at_column, { #constant.2 }>();
        });
        // Spanned on the field: when two foreign keys make a relationship
        // ambiguous, rustc lists the impls, which then name the fields.
        out.extend(quote_spanned! {field.ident.span()=>
            #[automatically_derived]
            impl #p::References<#alias, #p::ColumnMarker<#position>> for #model {
                const COLUMN: usize = #position;
                const TARGET_COLUMN: usize = #constant.2;
            }
        });
    }
    out
}

/// The `ForeignKeyMeta` of the foreign-key column at `position`.
pub(super) fn foreign_key_meta(field: &Field<'_>, position: usize, p: &TokenStream) -> TokenStream {
    let (_, constant) = foreign_key_names(position);
    let action = |action: &Option<crate::attr::Spanned<crate::attr::ReferentialAction>>| match action {
        Some(action) => {
            let variant = format_ident!("{}", action.value.variant());
            quote!(::core::option::Option::Some(#p::ReferentialAction::#variant))
        }
        None => quote!(::core::option::Option::None),
    };
    let (on_delete, on_update) = (action(&field.attrs.on_delete), action(&field.attrs.on_update));
    quote!(#p::ForeignKeyMeta { table: #constant.0, column: #constant.1, on_delete: #on_delete, on_update: #on_update })
}

fn foreign_key_names(position: usize) -> (Ident, Ident) {
    (format_ident!("__OrmForeignKey{}", position), format_ident!("__ORM_FOREIGN_KEY_{}", position))
}

/// `crate::Movie::id` -> (`crate::Movie`, `id`), with `Self` spelled out:
/// the alias is not inside the impl.
fn split_column_path(cont: &Container<'_>, path: &Path) -> Option<(TokenStream, Ident)> {
    let mut owner = path.clone();
    let column = owner.segments.pop()?.into_value().ident;
    owner.segments.pop_punct();
    if owner.segments.is_empty() {
        return None;
    }
    let owner = match owner.get_ident() {
        Some(ident) if ident == "Self" => respanned(cont.ident, ident.span()),
        _ => owner.to_token_stream(),
    };
    Some((owner, column))
}

/// The target `T` of `One<T>`/`Many<T>`, with `Self` spelled out.
fn target(cont: &Container<'_>, rel: &Relationship<'_>) -> Option<TokenStream> {
    let target = rel.target()?;
    Some(match target {
        Type::Path(path) if path.qself.is_none() && path.path.is_ident("Self") => {
            respanned(cont.ident, span_of(target))
        }
        _ => target.to_token_stream(),
    })
}

/// The model's name where the user wrote `Self`.
fn respanned(model: &Ident, span: Span) -> TokenStream {
    let mut model = model.clone();
    model.set_span(span);
    model.into_token_stream()
}

/// `tokens`, every one of them spanned at `span`.
fn respan(tokens: TokenStream, span: Span) -> TokenStream {
    tokens
        .into_iter()
        .map(|mut token| {
            if let TokenTree::Group(group) = &token {
                let mut inner = Group::new(group.delimiter(), respan(group.stream(), span));
                inner.set_span(span);
                token = TokenTree::Group(inner);
            }
            token.set_span(span);
            token
        })
        .collect()
}

/// The span of the first token of `tokens`.
fn span_of(tokens: &dyn ToTokens) -> Span {
    first_last_spans(tokens).0
}

#[cfg(test)]
mod tests {
    use syn::{parse_quote, DeriveInput};

    use crate::expand::tests::{assert_contains, expand};

    fn stuntman() -> DeriveInput {
        parse_quote! {
            #[orm(table = "stuntmen")]
            pub struct Stuntman {
                #[orm(primary_key)] pub id: i32,
                #[orm(foreign_key = Actor::id)] pub actor_id: Option<i32>,
                #[relationship(one_to_one, back_populates = stuntman)]
                pub actor: One<Actor>,
                #[relationship(many_to_many, secondary = StuntmanMovie, order_by = Movie::title, order_desc)]
                pub(crate) movies: Many<Movie>,
                #[relationship(one_to_many, foreign_key = Scene::double_id, cascade = "all, delete-orphan")]
                pub scenes: Many<Scene>,
            }
        }
    }

    #[test]
    fn describes_every_relationship_in_field_order() {
        let out = expand(stuntman());
        let p = "::orm::__private";
        assert_contains(
            &out,
            &[
                &format!(
                    "relations: &[{p}::RelationMeta {{ name: \"actor\", kind: {p}::RelationKind::OneToOne, \
                     target: {{ {p}::check_model::<Actor>(); {p}::table_of::<Actor> }}, \
                     target_type: {p}::type_id_of::<Actor>, \
                     join: {p}::Join::ForeignKeyHere {{ local: 1usize, \
                     remote: <Stuntman as {p}::References<Actor, {p}::ColumnMarker<1usize> >>::TARGET_COLUMN, }}, \
                     back_populates: ::core::option::Option::Some(\"stuntman\"), \
                     cascade_delete: false, delete_orphan: false, order_by: &[], }},"
                ),
                &format!(
                    "join: {{ {p}::check_model::<StuntmanMovie>(); \
                     let (to_local, local) = {p}::foreign_key_of::<StuntmanMovie, Stuntman, _>(); \
                     let (to_remote, remote) = {p}::foreign_key_of::<StuntmanMovie, Movie, _>(); \
                     {p}::Join::Secondary {{ secondary: {p}::table_of::<StuntmanMovie>, local, to_local, \
                     to_remote, remote }} }}"
                ),
                &format!(
                    "order_by: &[({{ let column = Movie::title; {p}::check_column_of::<Movie, _>(&column); \
                     column.index() }}, true)]"
                ),
                &format!(
                    "join: {{ const __ORM_REMOTE: usize = {{ let column = Scene::double_id; \
                     {p}::check_column_of::<Scene, _>(&column); column.index() }}; \
                     {p}::Join::ForeignKeyThere {{ local: <Scene as {p}::References<Stuntman, \
                     {p}::ColumnMarker<{{ __ORM_REMOTE }}> >>::TARGET_COLUMN, remote: __ORM_REMOTE, }} }}"
                ),
                "cascade_delete: true, delete_orphan: true",
            ],
        );
    }

    #[test]
    fn adds_links_constants_and_checks() {
        let out = expand(stuntman());
        let p = "::orm::__private";
        assert_contains(
            &out,
            &[
                &format!(
                    "fn links(&self, relation: usize) -> ::core::option::Option<&{p}::Links> {{ match relation {{ \
                     0usize => ::core::option::Option::Some(self.actor.links()), \
                     1usize => ::core::option::Option::Some(self.movies.links()), \
                     2usize => ::core::option::Option::Some(self.scenes.links()), \
                     _ => ::core::option::Option::None, }} }}"
                ),
                "2usize => ::core::option::Option::Some(self.scenes.links_mut(session)),",
                &format!("actor: {p}::One::not_loaded(), movies: {p}::Many::not_loaded(),"),
                "actor: ::core::default::Default::default(),",
                "pub fn new(actor_id: impl ::core::convert::Into<Option<i32> >) -> Self",
                "`actor`, `movies` and `scenes` start empty.",
                &format!(
                    "#[doc = \" The `Stuntman.movies` relationship.\"] pub(crate) const movies: \
                     {p}::Relation<Stuntman, Movie, {p}::ToMany> = {{ {p}::check_model::<Movie>(); \
                     {p}::relation::<Stuntman, Movie, {p}::ToMany>(1usize) }};"
                ),
                &format!("const _: () = {p}::check_back_populates::<Stuntman, _>(<Actor>::stuntman);"),
            ],
        );
        // Relationship fields are not columns.
        assert!(!out.contains("name:\"movies\",field") && !out.contains("Column<Stuntman,Many"));
    }

    #[test]
    fn foreign_keys_implement_references() {
        let out = expand(stuntman());
        let p = "::orm::__private";
        assert_contains(
            &out,
            &[
                "type __OrmForeignKey1 = Actor;",
                "const __ORM_FOREIGN_KEY_1: (&str, &str, usize) = { let column = \
                 __orm_foreign_key(__OrmForeignKey1::id, ::core::marker::PhantomData::<Option<i32> >); \
                 (column.table(), column.name(), column.index()) };",
                &format!(
                    "#[automatically_derived] impl {p}::References<__OrmForeignKey1, {p}::ColumnMarker<1usize> > \
                     for Stuntman {{ const COLUMN: usize = 1usize; const TARGET_COLUMN: usize = \
                     __ORM_FOREIGN_KEY_1.2; }}"
                ),
            ],
        );
    }

    #[test]
    fn self_is_spelled_out() {
        let out = expand(parse_quote! {
            struct Employee {
                #[orm(primary_key)] id: i32,
                #[orm(foreign_key = Self::id)] manager_id: Option<i32>,
                #[relationship(many_to_one)] manager: One<Self>,
                #[relationship(one_to_many, back_populates = manager)] reports: Many<Employee>,
            }
        });
        let p = "::orm::__private";
        assert_contains(
            &out,
            &[
                "type __OrmForeignKey1 = Employee;",
                &format!("{p}::check_model::<Employee>(); {p}::table_of::<Employee>"),
                &format!("let (remote, local) = {p}::foreign_key_of::<Employee, Employee, _>();"),
                &format!("const manager: {p}::Relation<Employee, Employee, {p}::ToOne>"),
                "check_back_populates::<Employee, _>(<Employee>::manager)",
            ],
        );
        // Without relationships, `links` is the trait's default.
        let out = expand(parse_quote!(
            struct Tag {
                #[orm(primary_key)]
                id: i32,
            }
        ));
        assert!(!out.contains("fnlinks") && out.contains("relations:&[]"));
    }
}
