//! Every relationship kind: many-to-many through a secondary model, one-to-many
//! with its many-to-one mirror, one-to-one from both sides, a
//! self-reference, two relationships over one foreign key, and a foreign key
//! named where two reference the same model.

use orm::prelude::*;
use orm::{Join, RelationKind};

#[derive(Model, Debug)]
#[orm(table = "movies")]
pub struct Movie {
    #[orm(primary_key)]
    pub id: i32,
    pub title: String,
    #[relationship(many_to_many, secondary = MovieActor, back_populates = movies)]
    pub actors: Many<Actor>,
}

#[derive(Model, Debug)]
#[orm(table = "movies_actors")]
pub struct MovieActor {
    #[orm(primary_key, foreign_key = Movie::id)]
    pub movie_id: i32,
    #[orm(primary_key, foreign_key = Actor::id)]
    pub actor_id: i32,
}

#[derive(Model, Debug)]
#[orm(table = "actors")]
pub struct Actor {
    #[orm(primary_key)]
    pub id: i32,
    pub name: String,
    #[relationship(many_to_many, secondary = MovieActor, back_populates = actors)]
    pub movies: Many<Movie>,
    #[relationship(one_to_many, back_populates = actor, order_by = ContactDetails::id, cascade = "all, delete-orphan")]
    pub contact_details: Many<ContactDetails>,
    /// The foreign key is on `Stuntman`: the parent side.
    #[relationship(one_to_one, back_populates = actor)]
    pub stuntman: One<Stuntman>,
}

#[derive(Model, Debug)]
#[orm(table = "stuntmen")]
pub struct Stuntman {
    #[orm(primary_key)]
    pub id: i32,
    #[orm(foreign_key = Actor::id, unique)]
    pub actor_id: Option<i32>,
    /// The foreign key is here: the child side.
    #[relationship(one_to_one, back_populates = stuntman)]
    pub actor: One<Actor>,
}

#[derive(Model, Debug)]
#[orm(table = "contact_details")]
pub struct ContactDetails {
    #[orm(primary_key)]
    pub id: i32,
    pub address: String,
    #[orm(foreign_key = Actor::id)]
    pub actor_id: Option<i32>,
    #[relationship(many_to_one, back_populates = contact_details)]
    pub actor: One<Actor>,
}

/// A self-reference; two foreign keys to the same model, so each
/// relationship over them names its own.
#[derive(Model, Debug)]
#[orm(table = "employees")]
pub struct Employee {
    #[orm(primary_key)]
    pub id: i32,
    #[orm(foreign_key = Employee::id)]
    pub manager_id: Option<i32>,
    #[orm(foreign_key = Self::id)]
    pub mentor_id: Option<i32>,
    #[relationship(many_to_one, foreign_key = Employee::manager_id, back_populates = reports)]
    pub manager: One<Employee>,
    #[relationship(one_to_many, foreign_key = Employee::manager_id, back_populates = manager, order_by = Employee::id, order_desc)]
    pub reports: Many<Employee>,
    #[relationship(many_to_one, foreign_key = Self::mentor_id)]
    pub mentor: One<Self>,
}

/// Two relationships over one foreign key, neither mirroring the other.
#[derive(Model, Debug)]
#[orm(table = "reviews")]
pub struct Review {
    #[orm(primary_key)]
    pub id: i32,
    #[orm(foreign_key = Movie::id)]
    pub movie_id: i32,
    #[relationship(many_to_one)]
    pub movie: One<Movie>,
    #[relationship(many_to_one, cascade = "save-update")]
    pub same_movie: orm::One<crate::Movie>,
}

fn main() {
    // `TABLE.relations`, in field order, and the typed names.
    assert_eq!(Movie::actors.index(), 0);
    assert_eq!(Actor::stuntman.index(), 2);
    let actors = Movie::actors.meta();
    assert_eq!((actors.name, actors.kind, actors.back_populates), ("actors", RelationKind::ManyToMany, Some("movies")));
    assert_eq!((actors.target)().name, "actors");
    assert_eq!((actors.target_type)(), std::any::TypeId::of::<Actor>());
    let Join::Secondary { secondary, local, to_local, to_remote, remote } = actors.join else { panic!() };
    assert_eq!((secondary().name, local, to_local, to_remote, remote), ("movies_actors", 0, 0, 1, 0));
    let Join::Secondary { to_local, to_remote, .. } = Actor::movies.meta().join else { panic!() };
    assert_eq!((to_local, to_remote), (1, 0));

    let details = Actor::contact_details.meta();
    assert!(details.cascade_delete && details.delete_orphan && !details.is_scalar());
    assert_eq!(details.order_by, &[(0, false)]);
    assert!(matches!(details.join, Join::ForeignKeyThere { local: 0, remote: 2 }));
    assert!(matches!(ContactDetails::actor.meta().join, Join::ForeignKeyHere { local: 2, remote: 0 }));

    assert!(matches!(Actor::stuntman.meta().join, Join::ForeignKeyThere { local: 0, remote: 1 }));
    assert!(matches!(Stuntman::actor.meta().join, Join::ForeignKeyHere { local: 1, remote: 0 }));
    assert_eq!(Stuntman::actor.meta().kind, RelationKind::OneToOne);

    assert!(matches!(Employee::manager.meta().join, Join::ForeignKeyHere { local: 1, remote: 0 }));
    assert!(matches!(Employee::reports.meta().join, Join::ForeignKeyThere { local: 0, remote: 1 }));
    assert!(matches!(Employee::mentor.meta().join, Join::ForeignKeyHere { local: 2, remote: 0 }));
    assert_eq!(Employee::reports.meta().order_by, &[(0, true)]);
    assert!(Review::movie.meta().back_populates.is_none());
    assert!(matches!(Review::same_movie.meta().join, Join::ForeignKeyHere { local: 1, remote: 0 }));

    // Relationship fields are not columns, nor constructor parameters.
    assert_eq!(Actor::TABLE.columns.len(), 2);
    let actor = Actor::new("Matt Damon");
    assert!(actor.movies.is_loaded() && actor.stuntman.get() == Some(None));
    assert_eq!(actor.links(1), Some(&orm::relation::Links::empty()));
    assert!(actor.links(3).is_none());
    assert_eq!(actor.contact_details.handles(), Some(Vec::new()));
    let _ = Employee::new(None, None);
    assert_eq!(format!("{:?}", Movie::actors), "Movie.actors");
}
