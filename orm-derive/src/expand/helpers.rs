//! Items generated once per model inside its `const _: () = { .. };` block,
//! through which the rest of the output uses the field types. Each exists so
//! that a mistake in a field type is one error, at the field, that says what
//! to do.

use proc_macro2::TokenStream;
use quote::quote;
use syn::Type;

use crate::ast::Container;

/// The helpers `cont` needs; unused ones are left out so that they never
/// trip `dead_code`.
pub(super) fn helpers(cont: &Container<'_>, p: &TokenStream) -> TokenStream {
    let mut out = column_helper(p);
    if cont.columns().any(|f| f.attrs.foreign_key.is_some()) {
        out.extend(foreign_key_helper(p));
    }
    if cont.fields.iter().any(|f| f.is_skipped()) {
        out.extend(skipped_helper());
    }
    if cont.has_constructor() && cont.columns().any(|f| f.is_server_filled() && !f.is_version()) {
        out.extend(server_filled_helper());
    }
    out
}

/// `__orm_column::<T>()`: everything generated code does with a column of
/// type `T`, behind one `T: SqlValue` bound.
///
/// Every use of a field type goes through this one function, spanned on the
/// field type. A type with no SQL mapping then fails the same bound at the
/// same span everywhere, and rustc reports that error once, at the field,
/// instead of once per use (the table description, `from_row`,
/// `column_value`, `set_column_value`, `key_values`).
fn column_helper(p: &TokenStream) -> TokenStream {
    quote! {
        struct __OrmColumn<T> {
            meta: #p::ColumnMeta,
            read: fn(&mut #p::RowReader<'_>) -> ::core::result::Result<T, #p::ReadError>,
            decode: fn(&'static #p::TableMeta, usize, #p::Value) -> #p::Result<T>,
            to_value: fn(&T) -> #p::Value,
            lend: fn(&mut T) -> #p::Value,
            take_back: fn(&mut T, #p::Value),
        }

        const fn __orm_column<T: #p::SqlValue>() -> __OrmColumn<T> {
            __OrmColumn {
                // Only `sql_type` and `nullable` are read: a `ColumnMeta`
                // carries them without naming `SqlType`.
                meta: #p::ColumnMeta {
                    name: "",
                    field: "",
                    sql_type: <T as #p::SqlValue>::SQL_TYPE,
                    nullable: <T as #p::SqlValue>::NULLABLE,
                    primary_key: false,
                    generated: false,
                    unique: false,
                    index: false,
                    default: ::core::option::Option::None,
                    max_len: ::core::option::Option::None,
                    onupdate: ::core::option::Option::None,
                    precision: ::core::option::Option::None,
                    foreign_key: ::core::option::Option::None,
                    version: false,
                },
                read: #p::read_column::<T>,
                decode: #p::decode::<T>,
                to_value: <T as #p::SqlValue>::to_value,
                lend: <T as #p::SqlValue>::lend,
                take_back: <T as #p::SqlValue>::take_back,
            }
        }
    }
}

/// `__orm_foreign_key(Model::column, PhantomData::<F>)`: `check_foreign_key`
/// with the field type `F` given last. The key type `K` is then known from
/// the column before `F: ForeignKeyType<K>` is checked, and a mismatch reads
/// "a foreign key of type `i64` cannot reference a column of type `i32`"
/// rather than "mismatched types".
pub(super) fn foreign_key_helper(p: &TokenStream) -> TokenStream {
    quote! {
        const fn __orm_foreign_key<M, K, F: #p::ForeignKeyType<K>>(
            column: #p::Column<M, K>,
            _field: ::core::marker::PhantomData<F>,
        ) -> #p::Column<M, K> {
            #p::check_foreign_key::<F, M, K>(column)
        }
    }
}

/// `Default`, under a name whose error explains why a skipped field needs it.
fn skipped_helper() -> TokenStream {
    quote! {
        #[diagnostic::on_unimplemented(
            message = "`{Self}` must implement `Default` to be the type of an `#[orm(skip)]` field",
            label = "a skipped field is not loaded: it starts as `Default::default()`",
            note = "derive or implement `Default` for `{Self}`, or map the field to a column"
        )]
        trait __OrmSkipped: ::core::marker::Sized {
            fn __orm_default() -> Self;
        }

        impl<T: ::core::default::Default> __OrmSkipped for T {
            fn __orm_default() -> Self {
                ::core::default::Default::default()
            }
        }
    }
}

/// `Default`, under a name whose error explains why `new` needs it for a
/// column the database fills in.
fn server_filled_helper() -> TokenStream {
    quote! {
        #[diagnostic::on_unimplemented(
            message = "`{Self}` must implement `Default` for `new` to leave this column to the database",
            label = "filled in by the database on flush, `Default::default()` until then",
            note = "derive or implement `Default` for `{Self}`, or add `#[orm(no_constructor)]` to the struct and \
                    write a constructor of your own"
        )]
        trait __OrmServerFilled: ::core::marker::Sized {
            fn __orm_default() -> Self;
        }

        impl<T: ::core::default::Default> __OrmServerFilled for T {
            fn __orm_default() -> Self {
                ::core::default::Default::default()
            }
        }
    }
}

/// `const _: () = check_takes_default::<Ty>();` for each column with a
/// server default but the key (which the database always fills): its field
/// must be able to say "unset", or a value the application set would be
/// indistinguishable from one it did not.
pub(super) fn server_default_checks(cont: &Container<'_>, p: &TokenStream) -> TokenStream {
    cont.columns()
        .filter(|f| f.attrs.default.is_some() && !f.is_primary_key())
        .map(|field| {
            let check = super::around(field.ty, quote!(#p::check_takes_default::<), quote!(>()));
            quote!(const _: () = #check;)
        })
        .collect()
}

/// `__orm_column::<Ty>()`, spanned on the whole field type.
pub(super) fn column(ty: &Type) -> TokenStream {
    super::around(ty, quote!(__orm_column::<), quote!(>()))
}

/// The value of a field that `from_row` or `new` leaves to `Default`,
/// spanned on the field type; `helper` is `__OrmSkipped` or `__OrmServerFilled`.
pub(super) fn default(ty: &Type, helper: TokenStream) -> TokenStream {
    super::around(ty, quote!(<), quote!(as #helper>::__orm_default()))
}
