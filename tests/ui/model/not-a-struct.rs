use orm::Model;

#[derive(Model)]
enum Genre {
    Drama,
    Comedy,
}

fn main() {}
