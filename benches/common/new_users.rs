//! The users the insert workloads add, the same rows on every side, and
//! the multi-row `VALUES` INSERT that the raw side sends them with.
//! Included by the benchmarks that insert users (`#[path]`), not through
//! `common`, which every benchmark compiles.

use orm::postgres::tokio_postgres::types::ToSql;

/// The name and hair colour of new user `i`.
pub(crate) fn new_user(i: usize) -> (String, Option<String>) {
    (format!("new {i}"), (i % 2 == 0).then(|| "black".to_owned()))
}

/// `INSERT INTO users (name, hair_color) VALUES ($1, $2), ..` of `n` rows.
pub(crate) fn values_insert(n: usize) -> String {
    let values: Vec<String> = (0..n).map(|i| format!("(${}, ${})", 2 * i + 1, 2 * i + 2)).collect();
    format!("INSERT INTO users (name, hair_color) VALUES {}", values.join(", "))
}

/// `n` new users, a column each.
pub(crate) struct NewUsers {
    pub(crate) names: Vec<String>,
    pub(crate) colors: Vec<Option<String>>,
}

impl NewUsers {
    pub(crate) fn new(n: usize) -> NewUsers {
        let (names, colors) = (0..n).map(new_user).unzip();
        NewUsers { names, colors }
    }

    /// One parameter per value, row by row, for [`values_insert`].
    pub(crate) fn row_params(&self) -> Vec<&(dyn ToSql + Sync)> {
        let mut params: Vec<&(dyn ToSql + Sync)> = Vec::with_capacity(2 * self.names.len());
        for (name, color) in self.names.iter().zip(&self.colors) {
            params.push(name);
            params.push(color);
        }
        params
    }
}
