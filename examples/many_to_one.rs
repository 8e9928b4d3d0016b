//! Many-to-one: many tires belong to one car (the foreign key is on `tires`).
//!
//! Run with `cargo run --example many_to_one`.

use orm::prelude::*;

/// A car (table `cars`).
#[derive(Model, Debug)]
#[orm(table = "cars")]
struct Car {
    #[orm(primary_key)]
    id: i32,
    model: String,
    /// The other side of `Tire::car`.
    #[relationship(one_to_many, back_populates = car, order_by = Tire::position)]
    tires: Many<Tire>,
}

/// A tire (table `tires`).
#[derive(Model, Debug)]
#[orm(table = "tires")]
struct Tire {
    #[orm(primary_key)]
    id: i32,
    position: String,
    #[orm(foreign_key = Car::id)]
    car_id: Option<i32>,
    #[relationship(many_to_one, back_populates = tires)]
    car: One<Car>,
}

const TABLES: [&orm::TableMeta; 2] = [Car::TABLE, Tire::TABLE];

#[tokio::main]
async fn main() -> orm::Result<()> {
    let engine = Engine::new(&orm::testing::example_database("orm_example_many_to_one").await?)?;
    engine.drop_all(&TABLES).await?;
    engine.create_all(&TABLES).await?;

    let mut session = engine.session();
    let beetle = session.add(Car::new("Volkswagen Beetle"));
    for position in ["front left", "front right", "rear left", "rear right"] {
        let tire = session.add(Tire::new(position, None));
        session.link(tire, Tire::car, beetle)?;
    }
    session.commit().await?;

    let mut session = engine.session();
    println!("### Tires and their car:");
    let tires = session.query::<Tire>().order_by(Tire::id.asc()).all().await?;
    for &tire in &tires {
        // The first load fetches the car of every tire of the result at once.
        if let Some(car) = session.load(tire, Tire::car).await? {
            println!("the {} tire belongs to the {}", session[tire].position, session[car].model);
        }
    }
    println!();

    let Some(car) = session.related(tires[0], Tire::car)? else { return Ok(()) };
    println!("### The {} rolls on:", session[car].model);
    for tire in session.load(car, Car::tires).await? {
        println!("{}", session[tire].position);
    }
    Ok(())
}
