use orm::Model;

#[derive(Model)]
struct Invoice {
    #[orm(primary_key)]
    id: i32,
    #[orm(precision = 10, scale = 2)]
    total: f64,
    #[orm(precision = 4, scale = 6)]
    rate: rust_decimal::Decimal,
    #[orm(scale = 2)]
    fee: rust_decimal::Decimal,
}

fn main() {}
