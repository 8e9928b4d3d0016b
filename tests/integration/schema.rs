//! `Engine::verify_schema`: the models against the live catalog.

use orm::prelude::*;
use orm::testing::TestDb;
use orm::{Connection, SchemaDifference};

use crate::arrays::Article;
use crate::common::statements_during;
use crate::constraints::{Measurement, Review, Shelf};
use crate::enums::Film;
use crate::session::StockItem;

const TABLES: [&orm::TableMeta; 6] =
    [Shelf::TABLE, Review::TABLE, Film::TABLE, Article::TABLE, StockItem::TABLE, Measurement::TABLE];

#[tokio::test]
async fn verify_schema_is_clean_after_create_all_and_names_every_difference_after_changes() {
    let db = TestDb::new().await.expect("a test database");
    let engine = db.engine();
    engine.create_all(&TABLES).await.unwrap();
    let (statements, report) = statements_during(engine, engine.verify_schema(&TABLES)).await;
    let report = report.unwrap();
    assert!(report.is_clean(), "{report}");
    assert_eq!(statements, 2, "two catalog queries");
    assert!(report.into_result().is_ok());

    let mut admin = engine.connect().await.unwrap();
    admin
        .batch_execute(
            "ALTER TABLE reviews DROP CONSTRAINT reviews_stars_range;
             DROP INDEX ix_reviews_shelf_id_stars;
             ALTER TABLE reviews DROP CONSTRAINT reviews_shelf_id_title_key;
             ALTER TABLE reviews DROP CONSTRAINT reviews_shelf_id_fkey;
             ALTER TABLE reviews ALTER COLUMN stars TYPE bigint;
             ALTER TABLE reviews ALTER COLUMN title DROP NOT NULL;
             ALTER TABLE reviews ADD COLUMN extra int NOT NULL;
             ALTER TABLE stock_items ALTER COLUMN quantity DROP DEFAULT;
             ALTER TABLE articles DROP COLUMN tags;
             ALTER TYPE genre ADD VALUE 'horror';
             DROP TABLE measurements_of_the_northern_station",
        )
        .await
        .unwrap();
    let report = engine.verify_schema(&TABLES).await.unwrap();
    let has = |wanted: &dyn Fn(&SchemaDifference) -> bool| report.differences.iter().any(wanted);
    use SchemaDifference as D;
    assert!(has(&|d| matches!(d, D::MissingCheck { model: "Review", name: "reviews_stars_range", .. })));
    assert!(has(&|d| matches!(d, D::MissingIndex { name: "ix_reviews_shelf_id_stars", .. })));
    assert!(has(
        &|d| matches!(d, D::MissingUnique { model: "Review", columns, .. } if columns == &["shelf_id", "title"])
    ));
    assert!(has(
        &|d| matches!(d, D::MissingForeignKey { field: "shelf_id", references, .. } if references == "shelves.id")
    ));
    assert!(has(
        &|d| matches!(d, D::ColumnType { field: "stars", expected, found, .. } if expected == "integer" && found == "bigint")
    ));
    assert!(has(&|d| matches!(d, D::Nullability { field: "title", expected_nullable: false, .. })));
    assert!(has(&|d| matches!(d, D::UnmappedColumn { column, required: true, .. } if column == "extra")));
    assert!(has(&|d| matches!(d, D::ColumnDefault { model: "StockItem", field: "quantity", found: None, .. })));
    assert!(has(&|d| matches!(d, D::MissingColumn { model: "Article", field: "tags", column: "tags", .. })));
    assert!(has(&|d| matches!(d, D::EnumType { name: "genre", found: Some(labels), .. } if labels.len() == 4)));
    assert!(has(&|d| matches!(d, D::MissingTable { model: "Measurement", .. })));
    assert_eq!(report.differences.len(), 11, "{report}");

    let text = report.to_string();
    assert!(text.starts_with("the database differs from the models in 11 places:"), "{text}");
    assert!(text.contains("Review.stars: column `reviews.stars` is bigint, the model expects integer"), "{text}");
    let error = report.into_result().unwrap_err();
    assert!(matches!(error, Error::SchemaMismatch(_)), "{error:?}");
}
